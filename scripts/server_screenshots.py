#!/usr/bin/env python3
"""Render every HR page of the collector into docs/screenshots/server-*.png.

A real run: a temporary SQLite collector on loopback with an invented office (three units,
fifteen employees with made-up names and NIPs, two kiosks, November 2025 of kiosk events with
some late arrivals, leave, corrections, a closed October), pages opened in Debian's Chromium
through Selenium (tests/browser.py) as an administrator. With LibreOffice installed
(`apt-get install libreoffice-calc`, not needed by the tests) the monthly XLSX is also printed
to PDF and its first page rendered, to show the form as it comes out of the printer.

Usage: python scripts/server_screenshots.py [OUT_DIR]   (default docs/screenshots)
"""

from __future__ import annotations

import base64
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import browser  # noqa: E402
from server_fixtures import PASSWORD, Collector, HrClient  # noqa: E402
from test_server_reports import ev, heartbeat, upload, weekdays  # noqa: E402

KOMINFO, BKPSDM, DUKCAPIL = "Dinas Komunikasi dan Informatika", "BKPSDM", "Dinas Kependudukan dan Pencatatan Sipil"
PEOPLE = [  # invented: nip, name, unit, jabatan, golongan
    ("198501012010011001", "Ani Rahmawati", KOMINFO, "Pranata Komputer Ahli Muda", "III/c"),
    ("196211201990031002", "Budi Santoso", KOMINFO, "Analis Kebijakan", "IV/a"),
    ("198804042010041004", "Dedi Kurniawan", KOMINFO, "Pengelola Data", "II/c"),
    ("199005052015052005", "Eka Putri Lestari", KOMINFO, "Arsiparis Ahli Pertama", "III/b"),
    ("199106062015061006", "Fajar Nugroho", KOMINFO, "Pranata Hubungan Masyarakat", "III/a"),
    ("197003032000032003", "Cici Paramitha", BKPSDM, "Kepala Bidang Mutasi", "IV/a"),
    ("197512122003121002", "Gunawan Wibisono", BKPSDM, "Analis Sumber Daya Manusia Aparatur", "III/d"),
    ("198202022006042007", "Hartini Susanti", BKPSDM, "Pengadministrasi Kepegawaian", "II/d"),
    ("199303032019031008", "Irfan Maulana", BKPSDM, "Pranata Komputer Ahli Pertama", "III/a"),
    ("196907071994031009", "Joko Priyanto", DUKCAPIL, "Sekretaris Dinas", "IV/b"),
    ("198408082009022010", "Kartika Sari", DUKCAPIL, "Administrator Database Kependudukan", "III/c"),
    ("199009092014031011", "Lukman Hakim", DUKCAPIL, "Pengolah Data Kependudukan", "II/c"),
    ("198710102011012012", "Maya Anggraini", DUKCAPIL, "Verifikator Dokumen", "III/b"),
    ("199511112020121013", "Nanda Pratama", DUKCAPIL, "Operator Layanan", "II/a"),
    ("197811112005011014", "Oktaviani Rahayu", KOMINFO, "Sandiman Ahli Muda", "III/d"),
]
DAY = "2025-11-25"
DEVICES = {KOMINFO: "kiosk-kominfo-lobi", BKPSDM: "kiosk-bkpsdm", DUKCAPIL: "kiosk-dukcapil-1"}
CONFIG = f"""[collector]
region = "Pemerintah Kabupaten Contoh"
city = "Contoh"
four_eyes_corrections = true

[signature]
title = "Kepala Badan Kepegawaian dan Pengembangan SDM"
name = "Dra. Sri Wahyuni, M.Si."
nip = "196805151990032004"
units = {{ "{KOMINFO}" = ["Kepala Dinas Komunikasi dan Informatika", "Ir. Bambang Sutrisno", "197001011995031001"] }}
"""


def populate(c: Collector) -> HrClient:
    kiosks = {unit: c.register(device, [unit]) for unit, device in DEVICES.items()}
    c.register("kiosk-dukcapil-2", [DUKCAPIL])  # never reported: the pages show it
    admin = c.hr("admin", username="admin.bkpsdm")
    roster = "nip;nama;unit kerja;jabatan;golongan\n" + "".join(f"{';'.join(p)}\n" for p in PEOPLE)
    r = admin.submit("/pegawai/impor", files={"berkas": ("simpeg.csv", roster.encode(), "text/csv")})
    staged = re.search(r'action="/pegawai/impor/([0-9a-f-]{36})"', r.text).group(1)
    admin.submit(f"/pegawai/impor/{staged}")
    from sqlalchemy import text

    with c.engine.begin() as conn:
        conn.execute(text("update employees set created_at = '2025-01-01 00:00:00'"))
    rng = random.Random(16)
    for unit, token in kiosks.items():  # faces enrolled at each unit's kiosk (random numbers, not faces)
        templates = [{"uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "nip": nip,
                      "encoding": base64.b64encode(struct.pack("<128f", *(rng.gauss(0, 0.1) for _ in range(128))))
                      .decode(), "model_version": "dlib_face_recognition_resnet_model_v1", "quality": 40.0}
                     for nip, _, u, _, _ in PEOPLE[:-2] if u == unit for _ in range(3)]
        requests.post(f"{c.url}/api/v1/roster", json={"templates": templates}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    # Oktaviani's photo refused at enrollment as Ani's duplicate: a look-alike hold (pages 04 and 05)
    hold = {"uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "nip": PEOPLE[-1][0],
            "resembles": PEOPLE[0][0], "model_version": "dlib_face_recognition_resnet_model_v1",
            "encoding": base64.b64encode(struct.pack("<128f", *(rng.gauss(0, 0.1) for _ in range(128)))).decode(),
            "source": "oktaviani-1.jpg", "created_at": "2025-11-03T08:12:40+07:00"}
    requests.post(f"{c.url}/api/v1/roster", json={"holds": [hold]}, timeout=30,
                  headers={"Authorization": f"Bearer {kiosks[KOMINFO]}"}).raise_for_status()
    by_unit: dict[str, list] = {}
    for nip, _, unit, _, _ in PEOPLE:
        by_unit.setdefault(unit, []).append(nip)
    for unit, nips in by_unit.items():
        evs = []
        for d in list(weekdays("2025-10")) + list(weekdays("2025-11")):
            for nip in nips:
                roll = rng.random()
                if roll < 0.03 or (nip == PEOPLE[5][0] and d == DAY):
                    continue  # absent
                late = rng.random() < 0.12 or (nip == PEOPLE[1][0] and d == DAY)
                arrive = f"0{rng.choice((7, 8))}:{rng.randint(35, 59):02d}" if late else f"07:{rng.randint(0, 29):02d}"
                if not (nip == PEOPLE[4][0] and d == DAY):
                    evs.append(ev(nip, "masuk", d, arrive, device=DEVICES[unit]))
                leave = "16:" + f"{rng.randint(31, 59):02d}" if rng.random() > 0.06 else f"15:{rng.randint(10, 50):02d}"
                evs.append(ev(nip, "pulang", d, leave, device=DEVICES[unit]))
        upload(c, kiosks[unit], evs)
        heartbeat(c, kiosks[unit], pending=0)
    for nip, type_, first, last, doc in ((PEOPLE[3][0], "CT", "2025-11-24", "2025-11-28", "800/412/BKPSDM/2025"),
                                         (PEOPLE[11][0], "S", DAY, DAY, "surat dokter"),
                                         (PEOPLE[7][0], "DL", "2025-11-25", "2025-11-26", "094/77/BKPSDM/2025"),
                                         (PEOPLE[12][0], "ITL", DAY, DAY, "")):
        admin.submit("/cuti", {"nip": nip, "type": type_, "first": first, "last": last, "document_no": doc})
    admin.submit("/koreksi/tambah", {"nip": PEOPLE[4][0], "kind": "masuk", "at": f"{DAY}T07:24",
                                     "reason": "kiosk mati pagi hari; daftar hadir kertas no. 17"})
    op = c.hr("operator", [KOMINFO], username="op.kominfo")
    cid = c.count("select max(id) from corrections")
    op.submit(f"/koreksi/{cid}/setujui")
    admin.submit("/koreksi/tambah", {"nip": PEOPLE[2][0], "kind": "masuk", "at": "2025-11-27T07:15",
                                     "reason": "lupa absen, disaksikan kepala seksi"})
    c.hr("viewer", username="sekda")
    admin.submit("/periode/2025-10/tutup")
    return admin


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    if browser.missing():
        print(f"server_screenshots: {browser.missing()}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="server-shots-"))
    (work / "collector.toml").write_text(CONFIG, encoding="utf-8")
    c = Collector(f"sqlite:///{work / 'c.db'}", config=work / "collector.toml")
    b = browser.Browser(width=1366, height=800)
    try:
        populate(c)
        b.open(c.url + "/login")
        b.screenshot(out / "server-01-login.png", full_page=False)
        b.type("input[name=username]", "admin.bkpsdm")
        b.type("input[name=password]", PASSWORD)
        b.click("main form button")
        pages = [
            ("server-02-harian.png", f"/?date={DAY}"),
            ("server-03-harian-unit.png", f"/?date={DAY}&unit=BKPSDM"),
            ("server-04-pegawai.png", "/pegawai"),
            ("server-05-pegawai-detail.png", f"/pegawai/{PEOPLE[0][0]}"),
            ("server-07-cuti.png", "/cuti?bulan=2025-11"),
            ("server-08-koreksi.png", f"/koreksi?nip={PEOPLE[4][0]}&tanggal={DAY}"),
            ("server-09-rekap-bulanan.png", "/laporan/bulanan?bulan=2025-11"),
            ("server-10-periode.png", "/periode?bulan=2025-10"),
            ("server-11-kiosk.png", "/kiosk"),
            ("server-12-akun.png", "/akun"),
            ("server-13-audit.png", "/audit"),
        ]
        for name, path in pages:
            b.driver.set_window_size(1366, 800)
            b.open(c.url + path)
            b.screenshot(out / name)
            print(out / name)
        # the roster import's preview with the problems it names
        bad = work / "simpeg-desember.csv"
        bad.write_text("nip;nama;unit kerja;jabatan;golongan;jadwal\n"
                       f"{PEOPLE[0][0]};Ani Rahmawati;{KOMINFO};Pranata Komputer Ahli Madya;IV/a;\n"
                       f"199612122021011015;Putra Ramadhan;{KOMINFO};Pranata Komputer Ahli Pertama;III/a;\n"
                       f"19961212202101;Rina;{KOMINFO};;;\n"
                       f"199701012022012016;Sinta Dewi;{KOMINFO};;;malam\n", encoding="utf-8")
        b.driver.set_window_size(1366, 800)
        b.open(c.url + "/pegawai/impor")
        b.find("input[type=file]").send_keys(str(bad))
        b.click_text("button", "Pratinjau")
        b.screenshot(out / "server-06-impor-pratinjau.png")
        print(out / "server-06-impor-pratinjau.png")
        b.open(c.url + "/laporan/bulanan?bulan=2025-11&unit=" + KOMINFO)
        b.click("#downloads a", navigates=False)
        xlsx = b.wait_download(".xlsx")
        shutil.copy(xlsx, work / "rekap.xlsx")
        print_xlsx(work / "rekap.xlsx", out / "server-14-rekap-xlsx.png")
    finally:
        b.close()
        c.stop()
    return 0


def print_xlsx(xlsx: Path, png: Path) -> None:
    """The recap as it prints: LibreOffice to PDF, its first page to PNG (skipped without them)."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if not soffice or not pdftoppm:
        print("LibreOffice or pdftoppm missing: no picture of the printed XLSX", file=sys.stderr)
        return
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(xlsx.parent), str(xlsx)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(xlsx.with_suffix(".pdf")),
                    str(png.with_suffix(""))], check=True, timeout=120)
    print(png)


if __name__ == "__main__":
    sys.exit(main())
