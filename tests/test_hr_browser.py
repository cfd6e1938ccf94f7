"""The HR pages in a real browser (Debian's Chromium through Selenium), as HR uses them: sign in,
import the roster, enter leave, correct a punch, have it approved by a second account, download
the monthly XLSX and read it. Plus a few page checks per role. Fine-grained rules and
permissions are tested in-process over HTTP (tests/test_server_*.py); this file stays short
because every browser test costs seconds."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from openpyxl import load_workbook
from server_fixtures import PASSWORD, Collector
from test_server_reports import ev, upload, weekdays

import browser

# without the browser the tests are skipped with the reason, except under CI (.ci/run installs it)
pytestmark = pytest.mark.skipif(bool(browser.missing()) and not os.environ.get("CI"), reason=str(browser.missing()))

KOMINFO, BKPSDM = "Dinas Kominfo", "BKPSDM"
ANI, BUDI, EKA, FAJAR = "198501012010011001", "196211201990031002", "199005052015052005", "199106062015061006"
ROSTER = ("NIP;Nama;Unit Kerja;Jabatan;Gol\n"
          f"{ANI};Ani Rahmawati;{KOMINFO};Pranata Komputer Ahli Muda;III/c\n"
          f"{BUDI};Budi Santoso;{KOMINFO};Analis Kepegawaian;III/a\n"
          f"{EKA};Eka Putri;{KOMINFO};Arsiparis;III/b\n"
          f"{FAJAR};Fajar Nugroho;{KOMINFO};Pranata Humas;III/a\n")


@pytest.fixture(scope="module")
def chrome():
    b = browser.Browser()
    yield b
    b.close()


@pytest.fixture
def office(tmp_path):
    cfg = tmp_path / "collector.toml"
    cfg.write_text('[collector]\nfour_eyes_corrections = true\nregion = "Pemerintah Kabupaten Contoh"\n'
                   'city = "Contoh"\n', encoding="utf-8")
    c = Collector(f"sqlite:///{tmp_path / 'c.db'}", config=cfg)
    c.account("bkpsdm", "admin", name="Admin BKPSDM")
    yield c
    c.stop()


def sign_in(b: browser.Browser, url: str, username: str, password: str = PASSWORD) -> None:
    b.open(url + "/login")
    b.driver.delete_all_cookies()  # a new browser: no session
    b.open(url + "/")
    assert b.path == "/login?next=%2F"
    b.type("input[name=username]", username)
    b.type("input[name=password]", password)
    b.click("main form button")


def test_hr_journey_from_roster_to_the_signed_monthly_xlsx(chrome, office, tmp_path):
    c, b = office, chrome
    token = c.register("kiosk-lobi", KOMINFO)
    sign_in(b, c.url, "bkpsdm")
    assert b.path == "/" and "Kehadiran" in b.text("h1")

    # the roster from the personnel system, previewed, then applied
    b.click_text("a", "Pegawai")
    b.click_text("a", "Impor dari CSV kepegawaian")
    roster = tmp_path / "simpeg-kominfo.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    b.find("input[type=file]").send_keys(str(roster))
    b.click_text("button", "Pratinjau")
    assert "4 baru, 0 berubah" in b.text()
    b.click("#apply")
    assert b.path == "/pegawai" and "4 pegawai baru" in b.text("#flash")
    from sqlalchemy import text

    with c.engine.begin() as conn:  # they joined long before the month (a test's shortcut)
        conn.execute(text("update employees set created_at = '2025-01-01 00:00:00'"))

    # the kiosk's month: everyone on time, Fajar's masuk of the 25th missing (kiosk down)
    evs = []
    for d in weekdays("2025-11"):
        for nip in (ANI, BUDI, EKA, FAJAR):
            if not (nip == FAJAR and d == "2025-11-25"):
                evs.append(ev(nip, "masuk", d, "07:20", device="kiosk-lobi"))
            evs.append(ev(nip, "pulang", d, "16:40", device="kiosk-lobi"))
    upload(c, token, evs)

    # leave: Eka's annual leave, the 24th to the 28th
    b.click_text("a", "Cuti & izin")
    b.type("#leave-form input[name=nip]", EKA)
    b.choose("#leave-form select[name=type]", "CT - Cuti tahunan")
    b.set_value("#leave-form input[name=first]", "2025-11-24")
    b.set_value("#leave-form input[name=last]", "2025-11-28")
    b.type("#leave-form input[name=document_no]", "800/1234/BKPSDM/2025")
    b.click("#leave-form button")
    assert "dicatat" in b.text("#flash") and "800/1234/BKPSDM/2025" in b.text("#leaves")

    # the correction: Fajar's masuk from the paper list, waiting for a second account
    b.open(f"{c.url}/koreksi?nip={FAJAR}&tanggal=2025-11-25")
    assert len(b.all("#day-events tr")) == 2  # the header and the one pulang the kiosk recorded
    b.click("#add-form input[value=masuk]", navigates=False)
    b.set_value("#add-form input[name=at]", "2025-11-25T07:28")
    b.type("#add-form input[name=reason]", "kiosk mati pagi hari; daftar hadir kertas no. 17")
    b.click("#add-form button")
    assert "menunggu persetujuan akun lain" in b.text("#flash")
    assert "menunggu persetujuan" in b.text("#corrections")

    # a second account: the unit's operator, who must change the password set by the administrator
    b.click_text("a", "Akun")
    b.click_text("a", "Akun baru")
    b.type("input[name=username]", "op.kominfo")
    b.type("input[name=full_name]", "Operator Kominfo")
    b.click("input[name=role][value=operator]", navigates=False)
    b.click(f"input[name=units][value='{KOMINFO}']", navigates=False)
    b.type("input[name=password]", "sementara sekali 1")
    b.click_text("button", "Simpan")
    assert "op.kominfo dibuat" in b.text("#flash")
    b.click_text("button", "Keluar")
    assert b.path == "/login"
    sign_in(b, c.url, "op.kominfo", "sementara sekali 1")
    assert b.path == "/sandi", b.text()
    b.type("input[name=current]", "sementara sekali 1")
    b.type("input[name=new]", "kata sandi operator kominfo")
    b.type("input[name=again]", "kata sandi operator kominfo")
    b.click_text("button", "Simpan")
    assert b.path == "/" and "Kata sandi diganti" in b.text("#flash")
    assert "Akun" not in [a.text for a in b.all("header nav a")]

    # the operator approves the correction
    b.click_text("a", "Koreksi")
    b.click_text("button", "Setujui")
    assert "disetujui" in b.text("#flash")

    # the monthly recap of the unit, downloaded as the BKPSDM form and read back
    b.open(f"{c.url}/laporan/bulanan?bulan=2025-11")
    assert "Dinas Kominfo" in b.text("#recap-units")
    b.click("#downloads a", navigates=False)  # a download: the page stays
    xlsx = b.wait_download(".xlsx")
    ws = load_workbook(xlsx)[KOMINFO]
    assert ws["A4"].value == "Bulan: November 2025"
    rows = {r[1]: r for r in ws.iter_rows(min_row=8, max_row=11, values_only=True)}
    # (hari kerja, hadir, TL1-4, PSW1-4, C, S, I, DL, alpha, potongan, dikoreksi)
    assert rows[FAJAR][4:] == (20, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 1)
    assert rows[EKA][4:] == (20, 15, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0.0, None)
    assert rows[ANI][2] == "Ani Rahmawati" and rows[ANI][3] == "Pranata Komputer Ahli Muda / III/c"
    signature = [str(x.value) for row in ws.iter_rows(min_row=12) for x in row if x.value]
    assert "Mengetahui," in signature and signature[-1].startswith("NIP.")
    assert c.count("select count(*) from audit_log where action = 'correction_approved' and actor = 'op.kominfo'") == 1


def test_a_viewer_reads_without_forms_and_a_wrong_password_is_named(chrome, office):
    c, b = office, chrome
    c.account("pimpinan", "viewer", name="Sekretaris Daerah")
    sign_in(b, c.url, "pimpinan", "bukan kata sandinya")
    assert b.path == "/login" and "Nama pengguna atau kata sandi salah" in b.text("#message")
    sign_in(b, c.url, "pimpinan")
    assert "Pimpinan (lihat saja)" in b.text("header")
    nav = [a.text for a in b.all("header nav a")]
    assert "Akun" not in nav and "Rekap bulanan" in nav
    b.open(f"{c.url}/cuti")
    assert not b.all("#leave-form")
    b.open(f"{c.url}/akun")
    assert "Hanya administrator" in b.text("#message")
    day = dt.date.today().isoformat()
    b.open(f"{c.url}/?date={day}")
    assert "Pegawai" in b.text("#totals")


def test_hr_finds_a_lookalike_hold_and_releases_it(chrome, office):
    # a kiosk refused Budi's enrollment photo as Ani's face and holds it; HR follows the list's
    # mark to Ani's page and releases the hold (the same person under two NIPs)
    import base64
    import uuid

    import numpy as np
    import requests

    c, b = office, chrome
    token = c.register("kiosk-lobi", KOMINFO)
    admin = c.hr("admin")
    r = admin.submit("/pegawai/impor", files={"berkas": ("simpeg.csv", ROSTER.encode(), "text/csv")})
    admin.submit("/pegawai/impor/" + r.text.split('action="/pegawai/impor/')[1].split('"')[0])
    enc = base64.b64encode(np.random.default_rng(3).normal(size=128).astype("<f4").tobytes()).decode()
    hold = {"uid": str(uuid.uuid4()), "nip": BUDI, "resembles": ANI, "encoding": enc, "model_version": "dlib-v1",
            "source": "budi-1.jpg"}
    requests.post(f"{c.url}/api/v1/roster", json={"holds": [hold]}, headers={"Authorization": f"Bearer {token}"},
                  timeout=10).raise_for_status()
    sign_in(b, c.url, "bkpsdm")
    b.click_text("a", "Pegawai")
    assert f"ditahan: mirip {ANI}" in b.text("#employees")
    b.click(f"#holds a[href='/pegawai/{ANI}']")
    assert b.path == f"/pegawai/{ANI}" and "budi-1.jpg" in b.text("#holds")
    b.click_text("button", "Lepaskan (orang yang sama)")
    assert b.path == f"/pegawai/{ANI}" and "dilepas" in b.text("#flash")
    assert not b.all("#holds") and "penahanan wajah mirip dilepas" in b.text("#history")
    assert c.count("select count(*) from lookalike_holds where deleted = 0") == 0
