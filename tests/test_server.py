"""The collector server over real HTTP on loopback, with SQLite and with PostgreSQL behind it."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import uuid

import numpy as np
import pytest
import requests
from server_fixtures import NIP

OTHER = "196211201990031002"


def event(device_id: str = "kiosk-01", **kw) -> dict:
    e = {"id": str(uuid.uuid4()), "nip": NIP, "kind": "masuk", "local_time": "2026-11-24T07:42:03+07:00",
         "utc_at": "2026-11-24T00:42:03.000+00:00", "local_date": "2026-11-24", "work_date": "2026-11-24",
         "in_window": 1, "monotonic_ns": 12, "boot_id": "b", "clock_synced": 1, "distance": 0.3, "margin": 0.2,
         "device_id": device_id}
    e.update(kw)
    return e


def post(c, path: str, token: str | None, body) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{c.url}/api/v1{path}", json=body, headers=headers, timeout=10)


def test_batch_answers_each_event_and_stores_it_once(collector):
    token = collector.register("kiosk-01")
    good, bad_kind, no_offset = event(), event(kind="lunch"), event(local_time="2026-11-24T07:42:03")
    other_device = event(device_id="kiosk-99")
    r = post(collector, "/events", token, {"batch_id": "b1", "events": [good, bad_kind, no_offset, other_device,
                                                                       {"id": "not-a-uuid"}]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert res[1]["reason"].startswith("kind: Input should be 'masuk'")
    assert res[2]["reason"].startswith("local_time: ") and "UTC offset" in res[2]["reason"]
    assert "kiosk-99" in res[3]["reason"] and "kiosk-01" in res[3]["reason"]
    assert "id: is not a UUID" in res[4]["reason"] and res[4]["id"] == "not-a-uuid"
    # the same batch again (a lost reply): duplicate, never a second row
    again = post(collector, "/events", token, {"events": [good, event(id=good["id"])]}).json()
    assert [x["status"] for x in again["results"]] == ["duplicate", "duplicate"]
    assert collector.count() == 1
    assert collector.count("select count(*) from events where id = :i", i=good["id"]) == 1


def test_tokens_hashed_unknown_and_revoked_refused(collector):
    token = collector.register("kiosk-01")
    assert collector.count("select count(*) from devices where token_hash = :t", t=token) == 0
    assert collector.count("select count(*) from devices where token_hash <> ''") == 1
    assert post(collector, "/events", None, {"events": []}).status_code == 401
    r = post(collector, "/events", "wrong-token", {"events": [event()]})
    assert r.status_code == 401 and "wrong-token" not in r.text
    collector.revoke("kiosk-01")
    r = post(collector, "/events", token, {"events": [event()]})
    assert r.status_code == 403 and r.json()["error"] == "revoked"
    assert collector.count() == 0


def test_bad_bodies_get_clear_messages(sqlite_collector):
    c = sqlite_collector
    token = c.register("kiosk-01")
    r = requests.post(f"{c.url}/api/v1/events", data=b"{nope", timeout=10,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    r = post(c, "/events", token, {"evts": []})
    assert r.status_code == 422
    assert {(f["field"], f["problem"]) for f in r.json()["fields"]} == {
        ("events", "Field required"), ("evts", "Extra inputs are not permitted")}
    r = post(c, "/events", token, {"events": [event() for _ in range(5001)]})
    assert r.status_code == 413 and "5000" in r.json()["message"]
    assert c.count() == 0


def test_heartbeat_recorded_and_shown_on_dashboard(collector):
    token = collector.register("kiosk-01", unit="Dinas Kominfo")
    r = post(collector, "/heartbeat", token, {
        "software_version": "0.1.0", "pending": 7, "rejected": 0, "newest_recorded_at": "2026-11-24T00:42:03.000+00:00",
        "newest_acked_at": "2026-11-24T00:40:00.000+00:00", "clock_synced": False, "free_disk_bytes": 5_000_000_000,
        "roster_version": 0, "sent_at": "2026-11-24T00:42:03.000+00:00"})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["roster_version"], int)
    assert collector.count("select pending from devices where id = 'kiosk-01'") == 7
    html = collector.hr().get("/").text
    assert "kiosk-01" in html and "TIDAK sinkron" in html and "5.0 GB" in html
    assert 'id="incomplete"' in html  # 7 events still waiting: the day is not final
    r = post(collector, "/heartbeat", token, {"pending": "many"})
    assert r.status_code == 422 and r.json()["fields"] == [{"field": "pending",
                                                            "problem": "Input should be a valid integer"}]


def test_roster_push_pull_versions_and_deletions(collector):
    t1 = collector.register("kiosk-01", unit="Dinas Kominfo")
    t2 = collector.register("kiosk-02", unit="Dinas Kominfo")
    t3 = collector.register("kiosk-03", unit="BKPSDM")
    enc = base64.b64encode(np.arange(128, dtype="<f4").tobytes()).decode()
    uid = str(uuid.uuid4())
    body = {"employees": [{"nip": NIP, "name": "Barack Obama", "unit": "Dinas Kominfo", "active": True}],
            "templates": [{"uid": uid, "nip": NIP, "encoding": enc, "model_version": "dlib-v1", "quality": 50.0}]}
    r = post(collector, "/roster", t1, body)
    assert r.status_code == 200 and r.json()["templates"] == [{"uid": uid, "status": "accepted"}]
    assert post(collector, "/roster", t1, body).json()["templates"] == [{"uid": uid, "status": "duplicate"}]
    bad = post(collector, "/roster", t1, {"templates": [{"uid": str(uuid.uuid4()), "nip": NIP,
                                                         "encoding": "AAAA", "model_version": "x"}]})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "templates[0].encoding"
    bad = post(collector, "/roster", t1, {"templates": [{"uid": str(uuid.uuid4()), "nip": NIP, "model_version": "x",
                                                         "encoding": base64.b64encode(bytes(511)).decode()}]})
    assert bad.status_code == 422 and "decodes to 511 bytes" in bad.json()["message"], bad.text
    nan = base64.b64encode(np.full(128, np.nan, "<f4").tobytes()).decode()
    bad = post(collector, "/roster", t1, {"templates": [{"uid": str(uuid.uuid4()), "nip": NIP, "model_version": "x",
                                                         "encoding": nan}]})
    assert bad.json()["templates"][0]["status"] == "refused" and "NaN" in bad.json()["templates"][0]["reason"]

    def pull(token, since=0):
        r = requests.get(f"{collector.url}/api/v1/roster", params={"since": since}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    page = pull(t2)  # another kiosk of the same unit gets the person and the face
    assert [e["nip"] for e in page["employees"]] == [NIP]
    assert page["templates"][0]["uid"] == uid and page["templates"][0]["encoding"] == enc
    assert pull(t3)["employees"] == []  # a kiosk of another unit does not
    assert pull(t2, page["version"])["employees"] == []
    from server import service

    with collector.engine.begin() as conn:
        service.deactivate_employee(conn, NIP)
    later = pull(t2, page["version"])
    assert later["employees"][0]["active"] is False
    assert later["templates"] == [{"uid": uid, "nip": NIP, "deleted": True, "version": later["templates"][0]["version"]}]
    assert collector.count("select count(*) from templates where length(encoding) > 0") == 0


def test_lookalike_holds_reach_the_kiosks_of_the_resembled_employees_unit_only(collector):
    # kiosk-01 refused a person as Obama's duplicate; the hold must reach kiosk-02 of the same
    # unit (or that kiosk records the person as Obama), not kiosk-03 of another unit
    t1 = collector.register("kiosk-01", unit="Dinas Kominfo")
    t2 = collector.register("kiosk-02", unit="Dinas Kominfo")
    t3 = collector.register("kiosk-03", unit="BKPSDM")
    enc = base64.b64encode(np.arange(128, dtype="<f4").tobytes()).decode()
    post(collector, "/roster", t1, {"employees": [{"nip": NIP, "name": "Barack Obama", "unit": "Dinas Kominfo"}]})
    post(collector, "/roster", t3, {"employees": [{"nip": OTHER, "name": "Joe Biden", "unit": "BKPSDM"}]})
    uid = str(uuid.uuid4())
    hold = {"uid": uid, "nip": "199001012020011009", "resembles": NIP, "encoding": enc, "model_version": "dlib-v1"}
    r = post(collector, "/roster", t1, {"holds": [hold]})
    assert r.status_code == 200 and r.json()["holds"] == [{"uid": uid, "status": "accepted"}], r.text
    assert post(collector, "/roster", t1, {"holds": [hold]}).json()["holds"][0]["status"] == "duplicate"
    # against an employee of another unit, or nobody: refused with the reason, nothing stored
    other = {**hold, "uid": str(uuid.uuid4()), "resembles": OTHER}
    (res,) = post(collector, "/roster", t1, {"holds": [other]}).json()["holds"]
    assert res["status"] == "refused" and "another unit" in res["reason"]
    bad = post(collector, "/roster", t1, {"holds": [{**hold, "uid": str(uuid.uuid4()), "encoding": "AAAA"}]})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "holds[0].encoding"

    def pull(token, since=0):
        r = requests.get(f"{collector.url}/api/v1/roster", params={"since": since}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    page = pull(t2)
    assert [(h["uid"], h["resembles"], h["encoding"]) for h in page["holds"]] == [(uid, NIP, enc)]
    assert pull(t3)["holds"] == []
    # HR at kiosk-01 removes the hold: kiosk-02 hears of it
    (res,) = post(collector, "/roster", t3, {"removed_holds": [uid]}).json()["removed_holds"]
    assert res["status"] == "refused" and "another unit" in res["reason"]  # not kiosk-03's to remove
    r = post(collector, "/roster", t1, {"removed_holds": [uid]})
    assert r.json()["removed_holds"] == [{"uid": uid, "status": "accepted"}]
    assert post(collector, "/roster", t1, {"removed_holds": [uid]}).json()["removed_holds"][0]["status"] == "unchanged"
    later = pull(t2, page["version"])
    assert [(h["uid"], h["deleted"]) for h in later["holds"]] == [(uid, True)] and "encoding" not in later["holds"][0]
    assert collector.count("select count(*) from lookalike_holds where length(encoding) > 0") == 0


def test_daily_csv_uses_the_attendance_rules(sqlite_collector):
    c = sqlite_collector
    token = c.register("kiosk-01", unit="Dinas Kominfo")
    post(c, "/roster", token, {"employees": [{"nip": NIP, "name": "Barack Obama", "unit": "Dinas Kominfo"},
                                             {"nip": OTHER, "name": "Joe Biden", "unit": "Dinas Kominfo"}]})
    from sqlalchemy import text

    with c.engine.begin() as conn:  # enrolled long before the day
        conn.execute(text("update employees set created_at = '2025-01-01 00:00:00'"))
    day = {"local_date": "2025-11-25", "work_date": "2025-11-25"}  # a Tuesday, over
    post(c, "/events", token, {"events": [
        event(**day, local_time="2025-11-25T07:42:03+07:00", utc_at="2025-11-25T00:42:03.000+00:00"),
        event(**day, kind="pulang", local_time="2025-11-25T16:05:00+07:00", utc_at="2025-11-25T09:05:00.000+00:00")]})
    hr = c.hr()
    csv_text = hr.get("/export/daily.csv", params={"date": "2025-11-25"}).text
    lines = csv_text.splitlines()
    assert lines[0].startswith("tanggal,nip,nama")
    obama = next(l for l in lines if NIP in l)
    assert ",07:42,12,TL1,16:05," in obama  # 07:42 against 07:30: 12 minutes late, TL1
    biden = next(l for l in lines if OTHER in l)
    assert ",alpha," in biden and "alpha belum final" in biden  # kiosk-01 never sent a heartbeat
    html = hr.get("/", params={"date": "2025-11-25"}).text
    assert "Barack Obama" in html.split('id="late"')[1].split("</table>")[0]
    r = hr.get("/", params={"date": "<script>"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "date" and "<script>" not in r.text


def test_cli_migrate_register_prints_token_once_stored_hashed(tmp_path):
    db = tmp_path / "c.db"
    env = {**os.environ, "KIOSK_SERVER_DB": str(db)}

    def server(*args):
        return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    r = server("migrate")
    assert r.returncode == 0 and re.search(r"at revision \d{4} ", r.stdout), r.stdout
    r = server("register-device", "kiosk-sragen-07")
    assert r.returncode == 2 and "at least one unit" in r.stderr
    r = server("register-device", "kiosk-sragen-07", "--unit", "Dinas Kominfo")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert len(token) >= 40 and "shown only once" in r.stderr
    assert token.encode() not in db.read_bytes()
    r = server("register-device", "kiosk-sragen-07", "--unit", "BKPSDM")
    assert r.returncode == 2 and "already registered" in r.stderr and "--replace" in r.stderr
    r = server("register-device", "bad id!", "--unit", "BKPSDM")
    assert r.returncode == 2 and "device id" in r.stderr
    r = server("revoke-device", "nope")
    assert r.returncode == 2 and "not registered" in r.stderr
    assert server("revoke-device", "kiosk-sragen-07").returncode == 0
    assert "revoked" in server("devices").stdout


def test_alembic_schema_matches_the_tables(collector):
    """The migration creates exactly what server.db describes (no drift between the two)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from server.db import metadata

    with collector.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if d[0] != "remove_table" or d[1].name != "alembic_version"] == []


def test_openapi_file_is_generated_from_the_app():
    """docs/protocol/openapi-v1.yaml is what `python -m server openapi` prints: the same models
    validate the requests and describe them."""
    from pathlib import Path

    doc = Path(__file__).parent.parent / "docs" / "protocol" / "openapi-v1.yaml"
    r = subprocess.run([sys.executable, "-m", "server", "openapi"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == doc.read_text(encoding="utf-8"), \
        "run: python -m server openapi > docs/protocol/openapi-v1.yaml"
    import yaml

    spec = yaml.safe_load(r.stdout)
    # the protocol of the kiosks; the HR pages are for browsers with a session, not part of it
    assert set(spec["paths"]) == {"/api/v1/health", "/api/v1/events", "/api/v1/heartbeat", "/api/v1/roster"}
    assert spec["info"]["version"] == "1"
    batch = spec["components"]["schemas"]["EventBatch"]["properties"]["events"]
    assert batch["maxItems"] == 5000 and batch["items"] == {"$ref": "#/components/schemas/Event"}
    assert "8388608 bytes" in spec["components"]["responses"]["TooLarge"]["description"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "403", "422", "500"} <= codes or path == "/api/v1/health", (method, path)
            if method == "post":
                assert "413" in codes, path
