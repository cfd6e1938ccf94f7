"""Leave and permits on the HR pages over real HTTP, and what they do to the reports: excused
days are no alpha, have no TL/PSW and no cut; half-day permits excuse one band; records never
overlap; four-eyes approval when configured; CSV import with a line-named preview."""

from __future__ import annotations

import csv
import io
import re

import pytest
import requests
from server_fixtures import Collector
from test_server import event

KOMINFO, BKPSDM = "Dinas Kominfo", "BKPSDM"
ANI, BUDI, CICI = "198501012010011001", "196211201990031002", "197003032000032003"
DAY = "2025-11-25"  # a Tuesday, long over


def seed(c, hr) -> None:
    """Three employees enrolled long before the day."""
    roster = f"nip,nama,unit\n{ANI},Ani,{KOMINFO}\n{BUDI},Budi,{KOMINFO}\n{CICI},Cici,{BKPSDM}\n"
    r = hr.submit("/pegawai/impor", files={"berkas": ("r.csv", roster.encode(), "text/csv")})
    staged = re.search(r'action="/pegawai/impor/([0-9a-f-]{36})"', r.text).group(1)
    assert hr.submit(f"/pegawai/impor/{staged}").status_code == 303
    from sqlalchemy import text

    with c.engine.begin() as conn:
        conn.execute(text("update employees set created_at = '2025-01-01 00:00:00'"))


def daily(hr, day: str = DAY) -> dict[str, dict]:
    r = hr.get("/export/daily.csv", params={"date": day})
    assert r.status_code == 200, r.text
    return {row["nip"]: row for row in csv.DictReader(io.StringIO(r.text))}


def punch(c, token: str, nip: str, kind: str, hhmm: str, day: str = DAY) -> None:
    h, m = map(int, hhmm.split(":"))
    body = {"events": [event(device_id="kiosk-01", nip=nip, kind=kind, local_time=f"{day}T{hhmm}:00+07:00",
                             utc_at=f"{day}T{h - 7:02d}:{m:02d}:00.000+00:00", local_date=day, work_date=day)]}
    r = requests.post(f"{c.url}/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.json()["accepted"] == 1, r.text


def record(hr, nip, type_, first, last="", document_no="800/123/2025", note=""):
    return hr.submit("/cuti", {"nip": nip, "type": type_, "first": first, "last": last, "document_no": document_no,
                               "note": note})


def test_leave_excuses_the_day_and_half_day_permits_excuse_one_band(sqlite_collector):
    c = sqlite_collector
    token = c.register("kiosk-01", KOMINFO)
    hr = c.hr("admin")
    seed(c, hr)
    punch(c, token, BUDI, "masuk", "08:40")  # 70 minutes late: TL3
    punch(c, token, BUDI, "pulang", "15:00")  # 60 minutes early: PSW2
    before = daily(hr)
    assert before[ANI]["status"] == "alpha" and before[ANI]["potongan_persen"] == "3.0"
    assert (before[BUDI]["TL"], before[BUDI]["PSW"], before[BUDI]["potongan_persen"]) == ("TL3", "PSW2", "2.25")
    assert record(hr, ANI, "CT", "2025-11-24", "2025-11-26", note="cuti tahunan").status_code == 303
    assert record(hr, BUDI, "ITL", DAY, note="berobat").status_code == 303
    after = daily(hr)
    ani, budi = after[ANI], after[BUDI]
    assert (ani["status"], ani["TL"], ani["PSW"], ani["potongan_persen"]) == ("Cuti tahunan", "", "", "0.0")
    assert (budi["status"], budi["TL"], budi["PSW"], budi["potongan_persen"]) == ("hadir", "", "PSW2", "1.0")
    assert "Izin datang terlambat" in budi["catatan"] and budi["terlambat_menit"] == "70"
    assert record(hr, BUDI, "IPC", DAY).status_code == 303  # the other half: both bands excused
    assert (daily(hr)[BUDI]["PSW"], daily(hr)[BUDI]["potongan_persen"]) == ("", "0.0")
    listing = hr.get("/cuti", params={"nip": ANI}).text
    assert "CT - Cuti tahunan" in listing and "2025-11-24 s.d. 2025-11-26" in listing and "800/123/2025" in listing
    lid = c.count("select id from leaves where nip = :n", n=ANI)
    assert hr.submit(f"/cuti/{lid}/batal").status_code == 303
    assert daily(hr)[ANI]["status"] == "alpha"
    assert c.count("select count(*) from leaves where status = 'cancelled'") == 1  # kept, not deleted
    assert c.count("select count(*) from audit_log where action in ('leave_created', 'leave_cancelled')") == 4


REFUSED = [
    ("overlap", dict(nip=ANI, type_="S", first="2025-11-26"), "tumpang tindih dengan CT 2025-11-24 s.d. 2025-11-28"),
    ("half day on leave", dict(nip=ANI, type_="ITL", first="2025-11-25"), "tumpang tindih"),
    ("order", dict(nip=BUDI, type_="CT", first="2025-11-25", last="2025-11-20"), "sebelum tanggal mulai"),
    ("type", dict(nip=BUDI, type_="XX", first="2025-11-25"), "jenis 'XX' tidak dikenal"),
    ("date", dict(nip=BUDI, type_="CT", first="2025-02-30"), "tanggal '2025-02-30' tidak sah"),
    ("unknown employee", dict(nip="1", type_="CT", first="2025-11-25"), "pegawai 1 tidak ada"),
    ("other unit", dict(nip=CICI, type_="CT", first="2025-11-25"), "pegawai 197003032000032003 tidak ada di unit Anda"),
]


@pytest.mark.parametrize("case,kw,message", REFUSED, ids=[x[0] for x in REFUSED])
def test_records_that_cannot_be_are_refused_with_the_reason(sqlite_collector, case, kw, message):
    c = sqlite_collector
    admin = c.hr("admin")
    seed(c, admin)
    op = c.hr("operator", [KOMINFO])
    assert record(op, ANI, "CT", "2025-11-24", "2025-11-28").status_code == 303
    r = record(op, **kw)
    assert r.status_code == 422 and message in r.text.replace("&#39;", "'"), r.text
    assert c.count("select count(*) from leaves") == 1


def test_a_viewer_reads_but_records_nothing(sqlite_collector):
    c = sqlite_collector
    admin = c.hr("admin")
    seed(c, admin)
    viewer = c.hr("viewer")
    assert record(viewer, ANI, "CT", DAY).status_code == 403
    assert viewer.get("/cuti").status_code == 200 and 'id="leave-form"' not in viewer.get("/cuti").text


def test_four_eyes_leave_waits_for_another_account(tmp_path):
    cfg = tmp_path / "collector.toml"
    cfg.write_text("[collector]\nfour_eyes_leave = true\n", encoding="utf-8")
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", config=cfg)
    try:
        admin = c.hr("admin")
        seed(c, admin)
        op1, op2 = c.hr("operator", [KOMINFO]), c.hr("operator", [KOMINFO])
        other_unit = c.hr("operator", [BKPSDM])
        assert record(op1, ANI, "DL", DAY, note="rapat di provinsi").status_code == 303
        lid = c.count("select id from leaves")
        assert daily(admin)[ANI]["status"] == "alpha"  # pending: not yet excused
        r = op1.submit(f"/cuti/{lid}/setujui")
        assert r.status_code == 422 and "akun lain yang harus menyetujuinya" in r.text
        assert other_unit.submit(f"/cuti/{lid}/setujui").status_code == 422
        assert op2.submit(f"/cuti/{lid}/setujui").status_code == 303
        assert daily(admin)[ANI]["status"] == "Dinas luar / tugas"
        assert op2.submit(f"/cuti/{lid}/tolak").status_code == 422  # decided already
        assert c.count("select count(*) from audit_log where action = 'leave_approved' and actor = 'operator-3'") == 1
    finally:
        c.stop()


def test_csv_import_previews_problems_by_line(sqlite_collector):
    c = sqlite_collector
    admin = c.hr("admin")
    seed(c, admin)
    bad = ("NIP;Jenis;Tanggal Mulai;Tanggal Selesai;Nomor Surat;Keterangan\n"
           f"{ANI};CT;24-11-2025;26-11-2025;800/1;\n"
           f"{BUDI};Cuti sakit;25/11/2025;;800/2;rawat inap\n"
           f"{ANI};S;25-11-2025;;;\n"
           f"{BUDI};XX;25-11-2025;;;\n"
           f"{CICI};CT;31-11-2025;;;\n"
           "999;CT;25-11-2025;;;\n")

    def upload(text):
        return admin.submit("/cuti/impor", files={"berkas": ("cuti.csv", text.encode(), "text/csv")})

    r = upload(bad)
    errors = [e.replace("&#39;", "'") for e in re.findall(r"<li>(.*?)</li>", r.text)]
    assert r.status_code == 422 and errors == [
        "baris 4: tumpang tindih dengan CT 2025-11-24 s.d. 2025-11-26 di baris lain berkas ini",
        "baris 5: jenis 'XX' tidak dikenal (kode: CT, CB, CS, CM, CAP, CLTN, I, S, DL, ITL, IPC)",
        "baris 6: tanggal '31-11-2025' tidak sah (TTTT-BB-HH atau HH-BB-TTTT)",
        "baris 7: pegawai 999 tidak ada",
    ], errors
    assert c.count("select count(*) from leaves") == 0
    good = "\n".join(bad.splitlines()[:3]) + "\n"
    r = upload(good)
    assert r.status_code == 200 and "2 catatan siap" in r.text
    staged = re.search(r'action="/cuti/impor/([0-9a-f-]{36})"', r.text).group(1)
    assert admin.submit(f"/cuti/impor/{staged}").status_code == 303
    rows = daily(admin)
    assert rows[ANI]["status"] == "Cuti tahunan" and rows[BUDI]["status"] == "Cuti sakit"
    assert c.count("select count(*) from leaves where document_no = '800/2' and note = 'rawat inap'") == 1


def test_a_closed_month_refuses_new_leave(sqlite_collector):
    from sqlalchemy import text

    c = sqlite_collector
    admin = c.hr("admin")
    seed(c, admin)
    with c.engine.begin() as conn:
        conn.execute(text("insert into periods (month, status, note) values ('2025-11', 'closed', '')"))
    r = record(admin, ANI, "CT", "2025-11-28", "2025-12-02")
    assert r.status_code == 422 and "periode 2025-11 sudah ditutup" in r.text
    assert record(admin, ANI, "CT", "2025-12-01", "2025-12-02").status_code == 303
