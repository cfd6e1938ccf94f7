"""Reports that match, over real HTTP: the daily page and the daily CSV from one computation (the
page's rows and counts are the file's), the monthly recap as the BKPSDM XLSX form read back
cell by cell, closing a period once every kiosk has reported past its end, reopening, and a
replaced kiosk's database imported exactly once."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
import requests
from openpyxl import load_workbook
from server_fixtures import Collector
from test_server import event

KOMINFO, BKPSDM = "Dinas Kominfo", "BKPSDM"
ANI, BUDI, CICI = "198501012010011001", "196211201990031002", "197003032000032003"
DEDI, EKA, FAJAR = "198804042010041004", "199005052015052005", "199106062015061006"
DAY = "2025-11-25"
CONFIG = f"""
[collector]
region = "Pemerintah Kabupaten Contoh"
city = "Contoh"

[signature]
title = "Kepala BKPSDM"
name = "Dra. Sri Wahyuni"
nip = "196805151990032004"
units = {{ "{KOMINFO}" = ["Kepala Dinas Kominfo", "Ir. Bambang", "197001011995031001"] }}
"""


def weekdays(month: str = "2025-11"):
    d = dt.date.fromisoformat(month + "-01")
    while d.month == int(month[5:]):
        if d.weekday() < 5:
            yield d.isoformat()
        d += dt.timedelta(days=1)


def ev(nip: str, kind: str, day: str, hhmm: str, device: str = "kiosk-01") -> dict:
    t = dt.datetime.fromisoformat(f"{day}T{hhmm}:00+07:00")
    return event(device_id=device, nip=nip, kind=kind, local_time=t.isoformat(),
                 utc_at=t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"), local_date=day,
                 work_date=day)


def upload(c, token: str, evs: list[dict]) -> dict:
    r = requests.post(f"{c.url}/api/v1/events", json={"events": evs}, headers={"Authorization": f"Bearer {token}"},
                      timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def heartbeat(c, token: str, pending: int = 0) -> None:
    r = requests.post(f"{c.url}/api/v1/heartbeat", json={"pending": pending},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text


@pytest.fixture
def office(tmp_path):
    """November 2025 (20 working days) of six employees in two units (see the comments)."""
    cfg = tmp_path / "collector.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", config=cfg)
    token = c.register("kiosk-01", [KOMINFO, BKPSDM])
    admin = c.hr("admin", username="admin-bkpsdm")
    roster = ("nip;nama;unit;jabatan;golongan\n"
              f"{ANI};Ani Rahmawati;{KOMINFO};Pranata Komputer;III/c\n{BUDI};Budi Santoso;{KOMINFO};Analis;III/a\n"
              f"{DEDI};Dedi Kurniawan;{KOMINFO};Pengelola Data;II/c\n{EKA};Eka Putri;{KOMINFO};Arsiparis;III/b\n"
              f"{FAJAR};Fajar Nugroho;{KOMINFO};Pranata Humas;III/a\n{CICI};Cici Paramitha;{BKPSDM};Kepala Bidang;IV/a\n")
    r = admin.submit("/pegawai/impor", files={"berkas": ("simpeg.csv", roster.encode(), "text/csv")})
    staged = re.search(r'action="/pegawai/impor/([0-9a-f-]{36})"', r.text).group(1)
    assert admin.submit(f"/pegawai/impor/{staged}").status_code == 303
    from sqlalchemy import text

    with c.engine.begin() as conn:
        conn.execute(text("update employees set created_at = '2025-01-01 00:00:00'"))
    evs = []
    for d in weekdays():
        evs += [ev(ANI, "masuk", d, "07:20"), ev(ANI, "pulang", d, "16:35")]  # always on time
        # Budi: 45 minutes late on the 25th (TL2), leaves 16:00 on Friday the 14th (PSW1, Friday ends 16:30)
        evs += [ev(BUDI, "masuk", d, "08:15" if d == DAY else "07:25"),
                ev(BUDI, "pulang", d, "16:00" if d == "2025-11-14" else "16:35")]
        if d not in (DAY, "2025-11-26", "2025-11-27"):  # Cici: alpha on the 25th, sick 26-27
            evs += [ev(CICI, "masuk", d, "07:10"), ev(CICI, "pulang", d, "16:40")]
        if d != DAY:  # Dedi: on the 25th only pulang (TL4)
            evs.append(ev(DEDI, "masuk", d, "07:15"))
        evs.append(ev(DEDI, "pulang", d, "16:31"))
        if not "2025-11-24" <= d <= "2025-11-28":  # Eka: cuti tahunan 24-28
            evs += [ev(EKA, "masuk", d, "07:00"), ev(EKA, "pulang", d, "16:45")]
        if d != DAY:  # Fajar: on the 25th the kiosk was down in the morning; HR adds his masuk
            evs.append(ev(FAJAR, "masuk", d, "07:29"))
        evs.append(ev(FAJAR, "pulang", d, "16:30"))
    assert upload(c, token, evs)["accepted"] == len(evs)
    for nip, type_, first, last in ((CICI, "S", "2025-11-26", "2025-11-27"), (EKA, "CT", "2025-11-24", "2025-11-28")):
        r = admin.submit("/cuti", {"nip": nip, "type": type_, "first": first, "last": last, "document_no": "800/1"})
        assert r.status_code == 303, r.text
    r = admin.submit("/koreksi/tambah", {"nip": FAJAR, "kind": "masuk", "at": f"{DAY}T07:28",
                                         "reason": "kiosk mati pagi hari, daftar hadir kertas"})
    assert r.status_code == 303, r.text
    yield c, token, admin
    c.stop()


def table(page: str, table_id: str) -> list[list[str]]:
    """The cells of an HTML table of a page, as text."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", x)).strip() for x in cells])
    return rows


def test_the_daily_page_and_the_daily_csv_are_one_computation(office):
    c, _, admin = office
    page = admin.get("/", params={"date": DAY}).text
    file = admin.get("/export/daily.csv", params={"date": DAY}).text
    csv_rows = [list(r.values()) for r in csv.DictReader(io.StringIO(file))]
    page_rows = table(page, "rows")
    assert page_rows[0] == [h.replace("_", " ") for h in file.splitlines()[0].split(",")]
    assert page_rows[1:] == [[str(x) for x in r] for r in csv_rows]  # row for row, cell for cell
    # every count of the page, recounted from the file
    by_nip = {r["nip"]: r for r in csv.DictReader(io.StringIO(file))}
    units = {r[0]: r[1:] for r in table(page, "units")[1:]}
    kominfo = [r for r in by_nip.values() if r["unit"] == KOMINFO]
    present = [r for r in kominfo if r["status"] == "hadir"]
    assert units[KOMINFO][:3] == [str(len(kominfo)), str(len(present)), str(sum(1 for r in present if r["TL"]))]
    assert units["Jumlah"][0] == str(len(by_nip))
    assert (units[KOMINFO][5], units[KOMINFO][6], units[KOMINFO][8]) == ("0", "1", "1")  # alpha, cuti, dikoreksi
    assert units[BKPSDM][5] == "1"  # Cici's alpha
    # late: minutes and band, and the one without a masuk
    late = {r[0]: r for r in table(page, "late")[1:]}
    assert late[BUDI][3:6] == ["08:15", "45", "TL2"] and late[DEDI][3:6] == ["", "", "TL4"]
    assert ANI not in late and FAJAR not in late  # Fajar's masuk came from a correction: on time
    assert by_nip[FAJAR]["koreksi"] == "YA"  # the corrected day is marked, on the page as in the file
    assert [r[0] for r in table(page, "absent")[1:]] == [CICI]
    assert [r[3] for r in table(page, "leave")[1:]] == ["Cuti tahunan"]
    assert 'id="incomplete"' in page and "alpha belum final" in by_nip[CICI]["catatan"]  # no heartbeat yet


def test_an_operator_sees_their_unit_only(office):
    c, _, _ = office
    op = c.hr("operator", [BKPSDM])
    page = op.get("/", params={"date": DAY}).text
    assert [r[0] for r in table(page, "units")[1:]] == [BKPSDM, "Jumlah"]
    assert ANI not in page and CICI in page
    assert op.get("/", params={"date": DAY, "unit": KOMINFO}).status_code == 404
    assert ANI not in op.get("/export/daily.csv", params={"date": DAY}).text
    assert ANI not in op.get("/export/events.csv", params={"date": DAY}).text


RECAP = {  # (hari kerja, hadir, TL1-4, PSW1-4, C, S, I, DL, alpha, potongan, dikoreksi) of November 2025
    ANI: (20, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, None),
    BUDI: (20, 20, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1.5, None),
    DEDI: (20, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.5, None),
    EKA: (20, 15, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0.0, None),
    FAJAR: (20, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 1),
}


def test_the_monthly_xlsx_is_the_bkpsdm_form(office):
    c, _, admin = office
    r = admin.get("/laporan/bulanan.xlsx", params={"bulan": "2025-11", "unit": KOMINFO})
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('rekap-2025-11-Dinas_Kominfo.xlsx"')
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == [KOMINFO]
    ws = wb[KOMINFO]
    assert [ws[f"A{i}"].value for i in range(1, 5)] == [
        "REKAPITULASI KEHADIRAN PEGAWAI", "PEMERINTAH KABUPATEN CONTOH", f"Unit kerja: {KOMINFO}", "Bulan: November 2025"]
    head, sub = [c.value for c in ws[6]], [c.value for c in ws[7]]
    assert head[:7] == ["No.", "NIP", "Nama", "Jabatan / Golongan", "Hari kerja", "Hadir", "Terlambat (TL)"]
    assert sub[6:18] == ["TL1", "TL2", "TL3", "TL4", "PSW1", "PSW2", "PSW3", "PSW4", "C", "S", "I", "DL"]
    assert head[14] == "Cuti / izin" and head[18:] == ["Alpha", "Potongan (%)", "Hari dikoreksi"]
    rows = {row[1]: row for row in ws.iter_rows(min_row=8, max_row=12, values_only=True)}
    assert [row[0] for row in ws.iter_rows(min_row=8, max_row=12, values_only=True)] == [1, 2, 3, 4, 5]
    for nip, expected in RECAP.items():
        assert rows[nip][4:] == expected, (nip, rows[nip])
    assert rows[ANI][2:4] == ("Ani Rahmawati", "Pranata Komputer / III/c")
    cells = [str(c.value) for row in ws.iter_rows(min_row=13) for c in row if c.value]
    assert cells[0].startswith("Keterangan: TL = terlambat masuk (TL1 1-30 menit")
    assert any(x.startswith("Contoh, ") for x in cells) and "Mengetahui," in cells
    assert cells[-3:] == ["Kepala Dinas Kominfo", "Ir. Bambang", "NIP. 197001011995031001"]
    assert ws.oddFooter.center.text == "Halaman &P dari &N" and ws.print_title_rows == "$6:$7"
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert "B6:B7" in {str(m) for m in ws.merged_cells.ranges} and "G6:J6" in {str(m) for m in ws.merged_cells.ranges}


def test_the_regency_recap_has_a_sheet_per_unit_and_the_page_and_csv_agree(office):
    c, _, admin = office
    wb = load_workbook(io.BytesIO(admin.get("/laporan/bulanan.xlsx", params={"bulan": "2025-11"}).content))
    assert wb.sheetnames == ["Rekap unit", BKPSDM, KOMINFO]
    ws = wb["Rekap unit"]
    units = {row[1]: row for row in ws.iter_rows(min_row=7, max_row=9, values_only=True)}
    assert units[KOMINFO][2:5] == (5, 100, 95) and units[BKPSDM][2:5] == (1, 20, 17)
    assert units["Jumlah"][2] == 6 and units["Jumlah"][-3] == 1  # one alpha in the regency
    assert wb[BKPSDM]["A3"].value == f"Unit kerja: {BKPSDM}"
    signer = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    assert "Kepala BKPSDM" in signer and "Dra. Sri Wahyuni" in signer and "NIP. 196805151990032004" in signer
    cici = next(r for r in wb[BKPSDM].iter_rows(min_row=8, values_only=True) if r[1] == CICI)
    assert cici[4:] == (20, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 3.0, None)
    page = admin.get("/laporan/bulanan", params={"bulan": "2025-11"}).text
    file = list(csv.DictReader(io.StringIO(admin.get("/laporan/bulanan.csv", params={"bulan": "2025-11"}).text)))
    page_rows = {r[1]: r for r in table(page, "recap-employees")[1:]}
    for row in file:
        assert page_rows[row["nip"]][5:7] == [row["hari_kerja"], row["hadir"]]
        assert float(page_rows[row["nip"]][-2].replace(",", ".")) == float(row["potongan_persen"])
    assert c.count("select count(*) from audit_log where action = 'report_downloaded'") == 2


def test_a_period_closes_once_every_kiosk_reported_and_reopens_with_a_reason(office):
    c, token, admin = office
    r = admin.submit("/periode/2025-11/tutup")
    assert r.status_code == 422 and "kiosk-01 belum melapor" in r.text
    op = c.hr("operator", [KOMINFO])
    assert op.submit("/periode/2025-11/tutup").status_code == 403
    heartbeat(c, token, pending=3)  # still sending: not yet
    assert admin.submit("/periode/2025-11/tutup").status_code == 422
    heartbeat(c, token, pending=0)
    assert admin.submit("/periode/2025-11/tutup").status_code == 303
    before = admin.get("/laporan/bulanan.csv", params={"bulan": "2025-11"}).text
    assert 'id="closed"' in admin.get("/laporan/bulanan", params={"bulan": "2025-11"}).text
    # a late upload is stored (never lost) but the closed recap stays what it was
    assert upload(c, token, [ev(CICI, "masuk", DAY, "07:05")])["accepted"] == 1
    assert admin.get("/laporan/bulanan.csv", params={"bulan": "2025-11"}).text == before
    assert "1 catatan kiosk tiba setelah ditutup" in admin.get("/periode").text
    r = admin.submit("/cuti", {"nip": ANI, "type": "CT", "first": "2025-11-28"})
    assert r.status_code == 422 and "periode 2025-11 sudah ditutup" in r.text
    r = admin.submit("/koreksi/tambah", {"nip": ANI, "kind": "masuk", "at": "2025-11-28T07:30", "reason": "uji coba"})
    assert r.status_code == 422 and "sudah ditutup" in r.text
    assert admin.submit("/periode/2025-11/buka", {"reason": "x"}).status_code == 422
    assert admin.submit("/periode/2025-11/buka", {"reason": "catatan kiosk Cici tanggal 25 terlambat terkirim"}
                        ).status_code == 303
    after = list(csv.DictReader(io.StringIO(admin.get("/laporan/bulanan.csv", params={"bulan": "2025-11"}).text)))
    cici = next(r for r in after if r["nip"] == CICI)
    assert (cici["alpha"], cici["hadir"], cici["TL4"]) == ("0", "18", "0")  # masuk only: PSW4 that day
    assert cici["PSW4"] == "1"
    from sqlalchemy import text

    with c.engine.connect() as conn:
        actions = [a for (a,) in conn.execute(text("select action from audit_log where target = 'period:2025-11' "
                                                   "order by id"))]
    assert actions == ["period_closed", "period_reopened"]


def test_a_replaced_kiosks_database_is_imported_exactly_once(office, tmp_path):
    from kiosk.store import Store
    from server.schemas import Event
    from server_fixtures import fill_events

    c, _, admin = office
    token = c.register("kiosk-02", KOMINFO)
    c.register("kiosk-03", KOMINFO)
    with Store(tmp_path / "sd" / "kiosk.db", device_id="kiosk-02") as store:
        ids = fill_events(store, 10, "kiosk-02", nips=(ANI, BUDI))
        sent = [{k: r[k] for k in Event.model_fields}
                for r in store.db.query("select * from attendance_events where id in (?, ?, ?, ?)", ids[:4])]
    assert upload(c, token, sent)["accepted"] == 4  # four had reached the server before the kiosk broke
    data = (tmp_path / "sd" / "kiosk.db").read_bytes()
    op = c.hr("operator", [KOMINFO])
    # refused at the gate, before the body is used; the operator must read the refusal, not a
    # connection reset (closing with the body unread reset 1 try in about 200 on loopback before the
    # gate drained it: server.limits.drain), so the whole database is sent many times
    for _ in range(100):
        r = op.submit("/kiosk/impor", files={"berkas": ("kiosk.db", data)})
        assert r.status_code == 403 and "administrator" in r.text
    r = admin.submit("/kiosk/impor", files={"berkas": ("kiosk.db", data)})
    assert r.status_code == 200, r.text
    assert "10 catatan dari kiosk kiosk-02" in r.text and "6 baru disimpan" in r.text and "4 sudah ada" in r.text
    assert c.count("select count(*) from events where device_id = 'kiosk-02'") == 10
    r = admin.submit("/kiosk/impor", files={"berkas": ("salinan.db", data)})
    assert r.status_code == 422 and "sudah diimpor" in r.text
    r = admin.submit("/kiosk/impor", files={"berkas": ("foto.jpg", b"\xff\xd8\xff\xe0 not a database")})
    assert r.status_code == 422 and "foto.jpg" in r.text
    with Store(tmp_path / "other" / "kiosk.db", device_id="kiosk-99") as other:
        fill_events(other, 3, "kiosk-99")
    r = admin.submit("/kiosk/impor", files={"berkas": ("k99.db", (tmp_path / "other" / "kiosk.db").read_bytes())})
    assert r.status_code == 422 and "kiosk kiosk-99 tidak terdaftar" in r.text
    assert c.count("select count(*) from events where device_id in ('kiosk-02', 'kiosk-99')") == 10
    assert c.count("select count(*) from kiosk_imports") == 1
    assert c.count("select count(*) from audit_log where action = 'kiosk_db_imported' and after like '%\"new\": 6%'") == 1
    assert "kiosk.db" in admin.get("/kiosk").text.split('id="imports"')[1]


def test_uploads_to_the_pages_need_a_session_before_the_body(office):
    c, _, _ = office
    r = requests.post(f"{c.url}/kiosk/impor", data=b"x" * 1000, timeout=10)
    assert r.status_code == 401 and r.headers["connection"] == "close"
    r = requests.post(f"{c.url}/pegawai/impor", headers={"Accept": "text/html"}, data=b"x", allow_redirects=False,
                      timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_garbage_collector_comes_back_after_overlapping_reports():
    """Reports pause Python's cyclic collector while they build (server/gcpause.py); a report
    that left it off would let the server's memory grow with every cycle ever made."""
    import gc
    import threading

    from server.gcpause import gc_paused

    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen = {}

    def slow_report():
        with gc_paused():
            first_in.set()
            second_done.wait(10)
            seen["during first, after second"] = gc.isenabled()

    t = threading.Thread(target=slow_report)
    t.start()
    first_in.wait(10)
    with gc_paused():
        seen["during both"] = gc.isenabled()
    second_done.set()
    t.join(10)
    assert seen == {"during both": False, "during first, after second": False}
    assert gc.isenabled()
    # ... and a failing report gives it back too; one that was off before stays off.
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("report failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
