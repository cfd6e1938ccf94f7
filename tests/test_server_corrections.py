"""Corrections over real HTTP: a missing punch added with its reason, a kiosk event re-labelled
(by HR, or by the employee at the kiosk), four-eyes approval, and the kiosk's events never
changed; corrected days are marked in the daily export."""

from __future__ import annotations

import re

import pytest
from server_fixtures import Collector
from test_server_leave import ANI, BUDI, CICI, DAY, KOMINFO, daily, punch, seed


def corrected_day(c):
    token = c.register("kiosk-01", KOMINFO)
    admin = c.hr("admin")
    seed(c, admin)
    punch(c, token, ANI, "pulang", "16:05")  # the kiosk was down in the morning: no masuk
    punch(c, token, BUDI, "masuk", "07:20")
    punch(c, token, BUDI, "masuk", "11:00")  # left for the doctor; the kiosk took it as masuk
    return token, admin


def add(hr, nip, kind, at, reason="kiosk mati, daftar hadir kertas no. 12"):
    return hr.submit("/koreksi/tambah", {"nip": nip, "kind": kind, "at": at, "reason": reason})


def event_id(c, nip, hhmm):
    return c.count("select id from events where nip = :n and local_time like :t", n=nip, t=f"%T{hhmm}:00%")


def test_a_missing_masuk_is_added_and_the_day_is_marked(sqlite_collector):
    c = sqlite_collector
    _, admin = corrected_day(c)
    assert (daily(admin)[ANI]["TL"], daily(admin)[ANI]["potongan_persen"]) == ("TL4", "1.5")
    r = add(admin, ANI, "masuk", f"{DAY}T07:25")
    assert r.status_code == 303 and r.headers["location"] == f"/koreksi?nip={ANI}&tanggal={DAY}"
    row = daily(admin)[ANI]
    assert (row["masuk"], row["TL"], row["potongan_persen"], row["koreksi"]) == ("07:25", "", "0.0", "YA")
    assert c.count("select count(*) from events where nip = :n", n=ANI) == 1  # the kiosk's record: untouched
    page = admin.get("/koreksi", params={"nip": ANI, "tanggal": DAY}).text
    assert "kiosk-01" in page and "tambah: masuk 07:25" in page and "daftar hadir kertas" in page
    assert c.count("select count(*) from audit_log where action = 'correction_created' and after like '%07:25%'") == 1


def test_a_kiosk_event_is_relabelled_without_changing_it(sqlite_collector):
    c = sqlite_collector
    _, admin = corrected_day(c)
    before = daily(admin)[BUDI]
    assert (before["masuk"], before["pulang"], before["PSW"]) == ("07:20", "", "PSW4")
    eid = event_id(c, BUDI, "11:00")
    r = admin.submit("/koreksi/ubah-jenis", {"nip": BUDI, "event_id": eid, "kind": "pulang",
                                             "reason": "pulang ke dokter, surat izin menyusul", "tanggal": DAY})
    assert r.status_code == 303, r.text
    row = daily(admin)[BUDI]
    assert (row["masuk"], row["pulang"], row["pulang_cepat_menit"], row["koreksi"]) == ("07:20", "11:00", "300", "YA")
    assert c.count("select count(*) from events where id = :i and kind = 'masuk'", i=eid) == 1  # unchanged
    r = admin.submit("/koreksi/ubah-jenis", {"nip": BUDI, "event_id": eid, "kind": "masuk", "reason": "salah pilih",
                                             "tanggal": DAY})
    assert r.status_code == 422 and "sudah dikoreksi" in r.text
    cid = c.count("select id from corrections where event_id = :i", i=eid)
    assert admin.submit(f"/koreksi/{cid}/batal").status_code == 303
    assert daily(admin)[BUDI]["pulang"] == "" and daily(admin)[BUDI]["koreksi"] == ""


REFUSED = [
    ("outside the window", dict(nip=ANI, kind="masuk", at=f"{DAY}T05:00"), "di luar jendela absen jadwal kantor"),
    ("a weekend", dict(nip=ANI, kind="masuk", at="2025-11-29T08:00"), "bukan hari kerja"),
    ("no reason", dict(nip=ANI, kind="masuk", at=f"{DAY}T07:25", reason="x"), "alasan harus 5-500 karakter"),
    ("kind", dict(nip=ANI, kind="istirahat", at=f"{DAY}T07:25"), "harus masuk atau pulang"),
    ("time", dict(nip=ANI, kind="masuk", at="kemarin"), "waktu 'kemarin' tidak sah"),
    ("another unit", dict(nip=CICI, kind="masuk", at=f"{DAY}T07:25"), "tidak ada di unit Anda"),
]


@pytest.mark.parametrize("case,kw,message", REFUSED, ids=[x[0] for x in REFUSED])
def test_corrections_that_cannot_be_are_refused(sqlite_collector, case, kw, message):
    c = sqlite_collector
    corrected_day(c)
    op = c.hr("operator", [KOMINFO])
    r = add(op, **kw)
    assert r.status_code == 422 and message in r.text.replace("&#39;", "'"), r.text
    assert c.count("select count(*) from corrections") == 0


def test_four_eyes_waits_for_another_account(tmp_path):
    cfg = tmp_path / "collector.toml"
    cfg.write_text("[collector]\nfour_eyes_corrections = true\n", encoding="utf-8")
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", config=cfg)
    try:
        _, admin = corrected_day(c)
        op, viewer = c.hr("operator", [KOMINFO]), c.hr("viewer")
        assert add(op, ANI, "masuk", f"{DAY}T07:25").status_code == 303
        cid = c.count("select id from corrections")
        assert daily(admin)[ANI]["TL"] == "TL4"  # pending: not applied yet
        r = op.submit(f"/koreksi/{cid}/setujui")
        assert r.status_code == 422 and "empat mata" in r.text
        assert viewer.submit(f"/koreksi/{cid}/setujui").status_code == 403
        assert admin.submit(f"/koreksi/{cid}/setujui").status_code == 303
        assert daily(admin)[ANI]["TL"] == ""
        assert admin.submit(f"/koreksi/{cid}/tolak").status_code == 422  # decided already
        assert c.count("select count(*) from audit_log where action = 'correction_approved'") == 1
    finally:
        c.stop()


def test_the_employees_own_switch_at_the_kiosk_counts_and_is_listed(sqlite_collector):
    """The kiosk sends the switch as an event naming the one it corrects (issue 15): it counts at
    once, the day is marked, HR sees it beside its own corrections and cannot re-label the
    replaced event."""
    import requests

    c = sqlite_collector
    token, admin = corrected_day(c)
    original = event_id(c, BUDI, "11:00")
    switched = {**{k: v for k, v in _event(c, original).items()}, "id": "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
                "kind": "pulang", "corrects": original, "correction_source": "employee"}
    r = requests.post(f"{c.url}/api/v1/events", json={"events": [switched]},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.json()["accepted"] == 1, r.text
    row = daily(admin)[BUDI]
    assert (row["pulang"], row["pulang_cepat_menit"], row["koreksi"]) == ("11:00", "300", "YA")
    listing = admin.get("/koreksi").text
    assert "pegawai di kiosk kiosk-01" in listing and "diganti pegawai di kiosk" in listing
    day = admin.get("/koreksi", params={"nip": BUDI, "tanggal": DAY}).text
    assert "koreksi pegawai" in day and "<s>masuk</s>" in day
    r = admin.submit("/koreksi/ubah-jenis", {"nip": BUDI, "event_id": original, "kind": "masuk",
                                             "reason": "salah pilih di kiosk", "tanggal": DAY})
    assert r.status_code == 422 and "sudah diganti pegawai di kiosk" in r.text


def _event(c, eid: str) -> dict:
    """A stored event as the kiosk sent it (the fields of the upload)."""
    from sqlalchemy import text

    from server.schemas import Event

    with c.engine.connect() as conn:
        row = conn.execute(text("select * from events where id = :i"), {"i": eid}).mappings().one()
    out = {k: row[k] for k in Event.model_fields if row.get(k) is not None}
    return {**out, "in_window": int(out["in_window"]), "clock_synced": int(out["clock_synced"])}


def test_the_day_view_lists_the_kiosks_events_for_relabelling(sqlite_collector):
    c = sqlite_collector
    _, admin = corrected_day(c)
    page = admin.get("/koreksi", params={"nip": BUDI, "tanggal": DAY}).text
    table = page.split('id="day-events"')[1].split("</table>")[0]
    assert len(re.findall(r"<tr><td>\d\d:\d\d</td>", table)) == 2 and "hitung sebagai pulang" in table
    assert admin.get("/koreksi", params={"nip": "0", "tanggal": DAY}).status_code == 404
    assert admin.get("/koreksi", params={"tanggal": "2025-02-30"}).status_code == 422
