"""Employees on the HR pages over real HTTP: the roster import (preview with line-named errors,
nothing written before Terapkan), edits, moves, deactivation, faces per kiosk, and what each
role may see and change. Kiosks of the units get every change at their next roster pull."""

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

KOMINFO, BKPSDM = "Dinas Kominfo", "BKPSDM"
ANI, BUDI, CICI, DEDI = "198501012010011001", "196211201990031002", "197003032000032003", "198804042010041004"

ROSTER = (
    "NIP;Nama;Unit Kerja;Jabatan;Gol;Jadwal;Keterangan\n"
    f"{ANI};Ani Rahmawati;{KOMINFO};Pranata Komputer Ahli Muda;III/c;;pindahan\n"
    f"{BUDI};Budi Santoso;{KOMINFO};Analis Kepegawaian;III/a;kantor;\n"
    f"{CICI};Cici Paramitha;{BKPSDM};Kepala Bidang;IV/a;;\n"
)


def upload(hr, text: str | bytes, name: str = "simpeg.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hr.submit("/pegawai/impor", files={"berkas": (name, data, "text/csv")})


def apply(hr, preview) -> requests.Response:
    staged = re.search(r'action="/pegawai/impor/([0-9a-f-]{36})"', preview.text).group(1)
    return hr.submit(f"/pegawai/impor/{staged}")


def encoding(seed: int) -> str:
    """A template's encoding as the roster API carries it (random numbers, not a face)."""
    return base64.b64encode(np.random.default_rng(seed).normal(size=128).astype("<f4").tobytes()).decode()


def push(c, token: str, body: dict) -> dict:
    r = requests.post(f"{c.url}/api/v1/roster", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def pull(c, token: str, since: int = 0) -> dict:
    r = requests.get(f"{c.url}/api/v1/roster", params={"since": since}, headers={"Authorization": f"Bearer {token}"},
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_bad_roster_is_previewed_with_every_problem_by_line_and_nothing_written(sqlite_collector):
    c = sqlite_collector
    op = c.hr("operator", [KOMINFO])
    bad = (
        "nip,nama,unit,golongan,jadwal\n"
        f"{ANI},Ani Rahmawati,{KOMINFO},III/c,\n"
        "19850101,Pendek,Dinas Kominfo,,\n"
        f"{BUDI},,{KOMINFO},,\n"
        f"{CICI},Cici,{KOMINFO},,malam\n"
        f"{ANI},Ani Lagi,{KOMINFO},,\n"
        f"{DEDI},Dedi,{BKPSDM},,\n"
    )
    r = upload(op, bad)
    assert r.status_code == 422
    errors = re.findall(r"<li>(.*?)</li>", r.text)
    assert errors == [
        "baris 3: NIP &#39;19850101&#39; tidak sesuai pola ^[0-9]{18}$ (NIP ASN: 18 angka)",
        "baris 4: nama kosong",
        "baris 5: jadwal &#39;malam&#39; tidak dikenal (yang ada: kantor)",
        f"baris 6: NIP {ANI} sudah ada di baris 2",
        f"baris 7: unit &#39;{BKPSDM}&#39; bukan unit Anda",
    ], errors
    assert 'id="apply"' not in r.text
    assert c.count("select count(*) from employees") == 0
    r = upload(op, "nomor,nama\n1,x\n")
    assert r.status_code == 422 and "simpeg.csv baris 1: kolom nip, unit tidak ada" in r.text


def test_an_import_reaches_the_units_kiosks_and_is_audited(sqlite_collector):
    c = sqlite_collector
    kominfo, bkpsdm = c.register("kiosk-kominfo", KOMINFO), c.register("kiosk-bkpsdm", BKPSDM)
    admin = c.hr("admin")
    # Windows-1252, semicolons, the personnel system's own headers and an extra column
    r = upload(admin, ROSTER.replace("Cici Paramitha", "Cici Parámitha").encode("cp1252"))
    assert r.status_code == 200, r.text
    assert "3 baru, 0 berubah" in r.text and "Windows-1252" in r.text and "Keterangan" in r.text
    assert c.count("select count(*) from employees") == 0  # a preview writes nothing
    r = apply(admin, r)
    assert r.status_code == 303 and r.headers["location"] == "/pegawai"
    assert "3 pegawai baru" in admin.get("/pegawai").text
    assert c.count("select count(*) from employees where nip = :n and jabatan = 'Kepala Bidang' "
                   "and golongan = 'IV/a' and name = 'Cici Parámitha'", n=CICI) == 1
    assert sorted(e["nip"] for e in pull(c, kominfo)["employees"]) == [BUDI, ANI]
    assert [e["nip"] for e in pull(c, bkpsdm)["employees"]] == [CICI]
    assert c.count("select count(*) from audit_log where action = 'employee_created'") == 3
    assert c.count("select count(*) from audit_log where action = 'roster_imported'") == 1
    version = pull(c, bkpsdm)["version"]
    # the next export: Budi moved to BKPSDM, Ani's golongan changed, Cici unchanged
    again = (ROSTER.replace(f"{BUDI};Budi Santoso;{KOMINFO}", f"{BUDI};Budi Santoso;{BKPSDM}")
             .replace("III/c", "III/d").replace("Cici Paramitha", "Cici Parámitha"))
    r = upload(admin, again)
    assert "0 baru, 2 berubah" in r.text and "golongan: III/c &rarr; III/d" in r.text
    assert f"unit: {KOMINFO} &rarr; {BKPSDM}" in r.text
    assert apply(admin, r).status_code == 303
    moved = pull(c, kominfo, 0)
    assert any(e["nip"] == BUDI and not e["active"] for e in moved["employees"])  # the old unit forgets him
    assert [e["nip"] for e in pull(c, bkpsdm, version)["employees"]] == [BUDI]
    entry = c.count("select count(*) from audit_log where action = 'employee_changed' and target = :t "
                    "and before like :b and after like :a", t=f"employee:{ANI}", b='%"III/c"%', a='%"III/d"%')
    assert entry == 1
    assert apply(admin, r).status_code == 422  # a staged file is applied once


def test_an_operator_sees_and_changes_only_their_units(sqlite_collector):
    c = sqlite_collector
    admin = c.hr("admin")
    assert apply(admin, upload(admin, ROSTER)).status_code == 303
    op, viewer = c.hr("operator", [KOMINFO]), c.hr("viewer")
    listing = op.get("/pegawai").text
    assert ANI in listing and BUDI in listing and CICI not in listing
    assert op.get(f"/pegawai/{CICI}").status_code == 404
    r = op.submit(f"/pegawai/{CICI}", {"name": "Cici", "unit": KOMINFO})
    assert r.status_code == 404 and "tidak ada di unit Anda" in r.text
    r = op.submit(f"/pegawai/{ANI}", {"name": "Ani Rahmawati", "unit": BKPSDM})  # not their unit to move to
    assert r.status_code == 422 and "bukan unit Anda" in r.text
    r = op.submit(f"/pegawai/{ANI}", {"name": "Ani Rahmawati", "unit": KOMINFO, "schedule": "kantor",
                                     "jabatan": "Pranata Komputer Ahli Madya", "golongan": "IV/a"})
    assert r.status_code == 303
    assert c.count("select count(*) from employees where nip = :n and schedule = 'kantor' and golongan = 'IV/a'",
                   n=ANI) == 1
    assert CICI in viewer.get("/pegawai").text
    assert viewer.get("/pegawai/impor").status_code == 200  # the instructions; the form is not there
    r = upload(viewer, ROSTER)
    assert r.status_code == 403
    r = viewer.submit(f"/pegawai/{ANI}/nonaktif")
    assert r.status_code == 403
    staged = upload(admin, ROSTER.replace("III/c", "III/b"))
    r = apply(op, staged)  # another account's upload
    assert r.status_code == 422 and "milik akun lain" in r.text


def test_deactivation_removes_faces_from_the_kiosks_and_the_list_shows_who_has_faces(sqlite_collector):
    c = sqlite_collector
    token = c.register("kiosk-lobi", KOMINFO)
    admin = c.hr("admin")
    apply(admin, upload(admin, ROSTER))
    body = {"templates": [{"uid": str(uuid.uuid4()), "nip": ANI, "encoding": encoding(1), "model_version": "dlib-v1"}
                          for _ in range(2)]}
    assert [t["status"] for t in push(c, token, body)["templates"]] == ["accepted", "accepted"]
    listing = admin.get("/pegawai").text
    assert "2 dari kiosk-lobi" in listing
    assert BUDI in admin.get("/pegawai", params={"wajah": "belum"}).text
    assert ANI not in admin.get("/pegawai", params={"wajah": "belum"}).text
    assert ANI in admin.get("/pegawai", params={"q": "rahma"}).text and BUDI not in admin.get(
        "/pegawai", params={"q": "rahma"}).text
    since = pull(c, token)["version"]
    r = admin.submit(f"/pegawai/{ANI}/nonaktif")
    assert r.status_code == 303
    later = pull(c, token, since)
    assert later["employees"][0]["active"] is False and all(t["deleted"] for t in later["templates"])
    page = admin.get(f"/pegawai/{ANI}").text
    assert "nonaktif sejak" in page and "Belum ada data wajah" in page
    assert ANI not in admin.get("/pegawai").text and ANI in admin.get("/pegawai", params={"status": "nonaktif"}).text
    assert admin.submit(f"/pegawai/{ANI}/nonaktif").status_code == 422
    assert admin.submit(f"/pegawai/{ANI}/aktif").status_code == 303
    assert c.count("select count(*) from employees where nip = :n and active and deactivated_at is null", n=ANI) == 1


def test_the_command_line_moves_and_deactivates_with_an_audit_entry(tmp_path):
    from server_fixtures import Collector

    db = tmp_path / "c.db"
    c = Collector(f"sqlite:///{db}")
    try:
        admin = c.hr("admin")
        apply(admin, upload(admin, ROSTER))
    finally:
        c.stop()
    env = {**os.environ, "KIOSK_SERVER_DB": str(db)}

    def server(*args):
        return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    r = server("move-employee", ANI, "--unit", BKPSDM)
    assert r.returncode == 0 and f"from {KOMINFO} to {BKPSDM}" in r.stdout, r.stderr
    r = server("deactivate-employee", BUDI)
    assert r.returncode == 0, r.stderr
    r = server("deactivate-employee", "000")
    assert r.returncode == 2 and "pegawai 000 tidak ada" in r.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("select actor, action, target from audit_log where actor = 'cli' "
                            "and target like 'employee:%' order by id").fetchall()
    assert rows == [("cli", "employee_changed", f"employee:{ANI}"), ("cli", "employee_deactivated", f"employee:{BUDI}")]


@pytest.mark.parametrize("header", ["NIP,Nama,Unit\n", "\ufeffnip;nama;opd\n"])
def test_header_spellings_and_a_bom(sqlite_collector, header):
    c = sqlite_collector
    admin = c.hr("admin")
    sep = ";" if ";" in header else ","
    r = upload(admin, header + sep.join([ANI, "Ani", KOMINFO]) + "\n")
    assert r.status_code == 200 and "1 baru" in r.text, r.text


def test_hr_sees_lookalike_holds_and_releases_one_for_the_units_kiosks(sqlite_collector):
    # a kiosk of Kominfo refused Budi's photos as Ani's duplicate and holds them: HR sees it on
    # both employees' pages and the list; releasing it is for those who may change Ani's unit,
    # audited, and reaches the unit's kiosks as a deleted hold
    c = sqlite_collector
    token = c.register("kiosk-lobi", KOMINFO)
    admin = c.hr("admin")
    apply(admin, upload(admin, ROSTER))
    uid = str(uuid.uuid4())
    hold = {"uid": uid, "nip": BUDI, "resembles": ANI, "encoding": encoding(2), "model_version": "dlib-v1",
            "source": "budi-2.jpg"}
    assert push(c, token, {"holds": [hold]})["holds"] == [{"uid": uid, "status": "accepted"}]
    op_kominfo, op_bkpsdm, viewer = c.hr("operator", [KOMINFO]), c.hr("operator", [BKPSDM]), c.hr("viewer")

    def holds_table(page: str) -> str:
        return page.split('id="holds"')[1].split("</table>")[0] if 'id="holds"' in page else ""

    ani = holds_table(op_kominfo.get(f"/pegawai/{ANI}").text)
    assert BUDI in ani and "Budi Santoso" in ani and "kiosk-lobi" in ani and "budi-2.jpg" in ani and "Lepaskan" in ani
    assert BUDI in holds_table(op_kominfo.get(f"/pegawai/{BUDI}").text)  # his own photos, held
    listing = op_kominfo.get("/pegawai").text
    assert f"ditahan: mirip {ANI}" in listing and ANI in holds_table(listing)
    assert holds_table(op_bkpsdm.get("/pegawai").text) == ""  # another unit's hold is not theirs to see
    seen = holds_table(viewer.get(f"/pegawai/{ANI}").text)
    assert BUDI in seen and "Lepaskan" not in seen  # a leader reads, no form
    path = f"/pegawai/{ANI}/mirip/{uid}/lepas"
    assert viewer.submit(path).status_code == 403
    r = op_bkpsdm.submit(path)
    assert r.status_code in (404, 422) and "tidak ada di unit Anda" in r.text
    r = op_kominfo.submit(f"/pegawai/{ANI}/mirip/{uuid.uuid4()}/lepas")
    assert r.status_code == 422 and "tidak ada di unit Anda" in r.text
    assert c.count("select count(*) from lookalike_holds where deleted = 0") == 1  # nothing changed
    since = pull(c, token)["version"]
    r = op_kominfo.submit(path)
    assert r.status_code == 303
    page = op_kominfo.get(f"/pegawai/{ANI}").text
    assert "dilepas" in page and 'id="holds"' not in page
    assert "penahanan wajah mirip dilepas" in page.split('id="history"')[1]
    later = pull(c, token, since)
    assert [(h["uid"], h["deleted"]) for h in later["holds"]] == [(uid, True)]
    assert c.count("select count(*) from lookalike_holds where length(encoding) > 0") == 0
    r = op_kominfo.submit(path)
    assert r.status_code == 422 and "sudah dilepas" in r.text
