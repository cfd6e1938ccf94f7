"""Reports: a full month for three employees through the live decision, against a golden recap
worked out by hand (see the comments), plus the daily list, XLSX and the holiday calendar."""

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from conftest import run_kiosk
from kiosk import report
from kiosk.clock import Stamp
from kiosk.config import load_config
from kiosk.decision import decide
from attendance.schedule import Calendar, schedule_for, schedules_from_config
from kiosk.store import Store

WIB = zoneinfo.ZoneInfo("Asia/Jakarta")
GOLDEN = Path(__file__).parent / "golden"
SARI, BUDI, DEWI = "198501012010011001", "197807222005011002", "199003152015032003"


def working_days(first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30)):
    d = first
    while d <= last:
        if d.weekday() < 5 and d != dt.date(2026, 11, 16):
            yield d
        d += dt.timedelta(days=1)


@pytest.fixture
def month(tmp_path):
    """November 2026 (21 weekdays; the 16th is declared a holiday, leaving 20):
    * Sari (office hours): on time every day, except 15 min late on the 3rd (TL1), absent on the
      10th (alpha), and leaving at 16:00 on Friday the 13th, 30 min before 16:30 (PSW1);
      cut 0.5 + 3.0 + 0.5 = 4.0 %.
    * Budi (Puskesmas, night shift 21:00-07:00 Mon-Fri): arrives 21:40 on the 5th (40 min, TL2),
      forgets pulang after the shift of the 12th (PSW4); cut 1.0 + 1.5 = 2.5 %.
    * Dewi (office hours) enrolled on the 15th: 10 working days from the 17th, all on time; one
      masuk recorded while the clock was not synchronised.
    """
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('[store]\ndata_dir = "data"\n[device]\nunit = "Dinas Kominfo"\n'
                        '[attendance]\nunit_schedules = { "Puskesmas Sragen" = "malam" }\n'
                        '[schedules.malam]\nweek = ["21:00-07:00", "21:00-07:00", "21:00-07:00", "21:00-07:00", '
                        '"21:00-07:00", "", ""]\npunch_from = "19:30"\npunch_until = "09:00"\n')
    (tmp_path / "holidays.csv").write_text("date,name,kind\n2026-11-16,Libur contoh,cuti_bersama\n")
    r = run_kiosk("--config", str(cfg_path), "holidays", "import", str(tmp_path / "holidays.csv"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = load_config(cfg_path)
    store = Store(cfg.db_path)
    store.upsert_employees([{"nip": SARI, "name": "Sari Wulandari", "unit": "Dinas Kominfo"},
                            {"nip": BUDI, "name": "Budi Santoso", "unit": "Puskesmas Sragen"},
                            {"nip": DEWI, "name": "Dewi Lestari", "unit": "Dinas Kominfo"}])
    store.db.execute("update employees set created_at = '2026-10-01T00:00:00+00:00'")
    store.db.execute("update employees set created_at = '2026-11-15T02:00:00+00:00' where nip = ?", [DEWI])
    schedules = schedules_from_config(cfg)
    rules = cfg.values["attendance"]

    def punch(nip, when: str, synced=True):
        t = dt.datetime.fromisoformat(when).replace(tzinfo=WIB)
        emp = store.employee(nip)
        sched = schedule_for(emp, schedules, rules)
        cal = Calendar.from_config(rules, store.holidays())
        wd, _ = sched.locate(t, cal)
        d = decide(nip, Stamp(t, t.astimezone(dt.timezone.utc), 0, synced), sched, cal,
                   store.day_events(nip, [wd.isoformat()]), rules, device_id="k", boot_id="b",
                   distance=0.3, margin=0.2)
        if d.event:
            store.record_event(d.event)
        return d

    for d in working_days():
        if d != dt.date(2026, 11, 10):
            masuk = "07:45" if d == dt.date(2026, 11, 3) else "07:20"
            punch(SARI, f"{d} {masuk}")
            punch(SARI, f"{d} 07:22")  # a repeat: "sudah tercatat", nothing stored
            punch(SARI, f"{d} {'16:00' if d == dt.date(2026, 11, 13) else '16:35'}")
        punch(BUDI, f"{d} {'21:40' if d == dt.date(2026, 11, 5) else '20:50'}")
        if d != dt.date(2026, 11, 12):
            punch(BUDI, f"{d + dt.timedelta(days=1)} 07:05")
        if d >= dt.date(2026, 11, 17):
            punch(DEWI, f"{d} 07:25", synced=d != dt.date(2026, 11, 18))
            punch(DEWI, f"{d} 16:40")
    # punches the rules must keep but not count: a Saturday, and Sari at the office at 05:10
    assert punch(SARI, "2026-11-07 09:00").note == "off"
    assert punch(SARI, "2026-11-09 05:10").note == "outside_window"
    yield cfg, store, cfg_path
    store.close()


def test_golden_month_recap(month):
    cfg, store, _ = month
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=WIB)
    employees, units = report.monthly_rows(report.compute_days(store, cfg, dt.date(2026, 11, 1),
                                                               dt.date(2026, 11, 30), now), "2026-11")
    assert report.to_csv(employees, report.MONTHLY_COLUMNS) == (GOLDEN / "recap-2026-11-employees.csv").read_text()
    assert report.to_csv(units, report.UNIT_COLUMNS) == (GOLDEN / "recap-2026-11-units.csv").read_text()


def test_daily_list_and_xlsx_through_the_cli(month, tmp_path):
    cfg, store, cfg_path = month
    r = run_kiosk("--config", str(cfg_path), "report", "daily", "--date", "2026-11-05", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split(",")[1]: line for line in r.stdout.splitlines()[1:]}
    assert rows[BUDI].startswith("2026-11-05,197807222005011002,Budi Santoso,Puskesmas Sragen,malam,hadir,21:40,40,TL2,07:05,0,,1.0,")
    assert ",belum terdaftar," in rows[DEWI]
    sat = run_kiosk("--config", str(cfg_path), "report", "daily", "--date", "2026-11-07", cwd=tmp_path).stdout
    assert "libur akhir pekan" in sat and "1 punch di luar jadwal" in sat

    out = tmp_path / "rekap.xlsx"
    r = run_kiosk("--config", str(cfg_path), "report", "monthly", "--month", "2026-11", "--format", "xlsx",
                  "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["Rekap pegawai", "Rekap unit"]
    ws = wb["Rekap pegawai"]
    assert ws["A1"].value == "Rekap kehadiran 2026-11 - Dinas Kominfo"
    header = [c.value for c in ws[4]]
    assert header[:3] == ["bulan", "nip", "nama"] and ws.freeze_panes == "A5"
    sari = next(row for row in ws.iter_rows(min_row=5, values_only=True) if row[1] == SARI)
    assert sari[header.index("alpha")] == 1 and sari[header.index("potongan persen")] == 4.0
    assert ws.page_setup.orientation == "landscape"


def test_report_input_errors(month, tmp_path):
    _, _, cfg_path = month
    r = run_kiosk("--config", str(cfg_path), "report", "monthly", "--month", "2026-13", cwd=tmp_path)
    assert r.returncode == 2 and "2026-13" in r.stderr
    r = run_kiosk("--config", str(cfg_path), "report", "daily", "--format", "xlsx", cwd=tmp_path)
    assert r.returncode == 2 and "needs --output" in r.stderr
    bad = tmp_path / "h.csv"
    bad.write_text("date,name\n2026-12-25,Natal\n2026-02-30,Salah\n")
    r = run_kiosk("--config", str(cfg_path), "holidays", "import", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "h.csv:3: '2026-02-30' is not a date" in r.stderr
    r = run_kiosk("--config", str(cfg_path), "holidays", "list", cwd=tmp_path)
    assert r.stdout.strip() == "2026-11-16  cuti_bersama  Libur contoh"  # the bad file added nothing
