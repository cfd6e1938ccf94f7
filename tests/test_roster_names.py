"""The kiosk side of issue 14: names the collector cannot store are refused where they enter
(`kiosk enroll --roster` names the CSV line; the store refuses them), and a roster item the
server refuses is set aside and shown, never blocking the upload of events."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import OBAMA, run_kiosk
from server_fixtures import fast_settings, fill_events, write_token

from enroll.photos import EnrollInputError, read_roster
from kiosk.fields import MAX_LENGTH
from kiosk.store import Store
from kiosk.upload import Uploader

PATTERN = r"[0-9]{18}"


def test_kiosk_and_server_agree_on_the_lengths():
    from server.db import employees

    assert {k: employees.c[k].type.length for k in MAX_LENGTH} == MAX_LENGTH


@pytest.mark.parametrize("name,problem", [
    ("Ani\x00", "contains a NUL character"),
    ("Ani\x1bRahma", "contains the control character U+001B at position 4"),
    ("Ani\u2028Rahma", "contains the control character U+2028 at position 4"),
    ('"Ani\nRahma"', "contains the control character U+000A at position 4"),
    ("A" * 201, "is 201 characters long; at most 200 fit"),
])
def test_roster_csv_refuses_names_the_server_cannot_store(tmp_path, name, problem):
    p = tmp_path / "roster.csv"
    p.write_text(f"NIP,name,unit\n{OBAMA},Barack Obama,Dinas Kominfo\n196211201990031002,{name},BKPSDM\n",
                 encoding="utf-8")
    with pytest.raises(EnrollInputError) as e:
        read_roster(p, PATTERN)
    assert f"{p}:3: NIP 196211201990031002: name {problem}" in str(e.value)


def test_roster_csv_refuses_a_long_unit_and_the_cli_names_the_line(tmp_path, photo_root):
    p = tmp_path / "roster.csv"
    p.write_text(f"NIP,name,unit\n{OBAMA},Barack Obama,{'U' * 201}\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[store]\ndata_dir = "data"\n', encoding="utf-8")
    r = run_kiosk("--config", str(tmp_path / "config.toml"), "enroll", str(photo_root), "--roster", str(p),
                  cwd=tmp_path)
    assert r.returncode == 2 and f"roster.csv:2: NIP {OBAMA}: unit is 201 characters long" in r.stderr, r.stderr


def test_the_store_refuses_such_names_before_writing(tmp_path):
    with Store(tmp_path / "k.db") as store:
        with pytest.raises(ValueError, match="name contains a NUL"):
            store.upsert_employees([{"nip": "1", "name": "ok"}, {"nip": "2", "name": "Ani\x00"}])
        assert store.employees() == []


def test_a_refused_roster_item_never_blocks_the_events(collector, tmp_path):
    """A kiosk whose database holds a name from before these checks (a NUL): the server refuses
    the push with 422 (on PostgreSQL it used to answer 500 every round and no event went up);
    the template is set aside with the reason, and every event is uploaded."""
    token = write_token(tmp_path / "token", collector.register("kiosk-01"))
    with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
        ids = fill_events(store, 60, "kiosk-01")
        with store.transaction("an old kiosk's rows") as db:
            db["employees"].insert({"nip": "199901012020011001", "name": "Ani\x00", "unit": "Dinas Kominfo",
                                    "active": 1, "created_at": "2026-01-01", "updated_at": "2026-01-01"})
            db["face_templates"].insert({"nip": "199901012020011001", "encoding": np.zeros(128, "<f4").tobytes(),
                                         "model_version": "dlib-v1", "created_at": "2026-01-01T00:00:00.000+00:00"})
            db["face_templates"].insert({"nip": OBAMA_SIDE, "encoding": np.ones(128, "<f4").tobytes(),
                                         "model_version": "dlib-v1", "created_at": "2026-01-01T00:00:00.000+00:00"})
        up = Uploader(None, store.path, device_id="kiosk-01", clock_synced=lambda: True,
                      settings=fast_settings(collector.url, token))
        assert up.round(store) == "ok"
        assert store.outbox_counts()["done"] == 60 and collector.count() == len(ids)
        refused = store.refused_templates()
        assert [r["nip"] for r in refused] == ["199901012020011001"]
        assert "employees" in refused[0]["reason"] and "NUL" in refused[0]["reason"]
        assert up.status()["refused_templates"] == 1 and up.status()["last_error"] is None
        # the other employee's face went up on its own
        assert collector.count("select count(*) from templates") == 1
        fill_events(store, 5, "kiosk-01", start_ns=1000)
        assert up.round(store) == "ok" and collector.count() == 65
        assert collector.count("select count(*) from templates") == 1


OBAMA_SIDE = "198501012010011001"  # fill_events' employee


def test_a_refused_heartbeat_does_not_hold_up_the_events(sqlite_collector, tmp_path, caplog):
    """A heartbeat the server answers 422 (here a version string longer than its column) is
    logged; the round still counts as done, so no backoff delays the next events."""
    c = sqlite_collector
    token = write_token(tmp_path / "token", c.register("kiosk-01"))
    with Store(tmp_path / "k.db", device_id="kiosk-01") as store:
        fill_events(store, 10, "kiosk-01")
        up = Uploader(None, store.path, device_id="kiosk-01", clock_synced=lambda: True, software_version="v" * 65,
                      settings=fast_settings(c.url, token, heartbeat_s=0))
        assert up.round(store) == "ok" and up.failures == 0 and c.count() == 10
        assert "refused the heartbeat" in caplog.text and "software_version" in caplog.text
