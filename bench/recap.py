#!/usr/bin/env python3
"""How long do the collector's reports take for a whole regency? 9,000 employees in 50 units,
100 kiosks, September 2025 (22 working days: 396,000 kiosk events), on PostgreSQL.

Not a test: it prints a plain-text table (median of --repeat runs) and the ratio against the
collector before issue 16 measured in the same invocation on the same database (its code from
a checkout given with --baseline, e.g. ../main: kiosk.report.compute_days over its RulesStore,
the code its dashboard and daily CSV used), when given.

Measured:
  recap          the monthly recap of the regency (server.monthly.recap: every employee-day of
                 the month through attendance.recap with leave and corrections); target < 10 s
  recap xlsx     the same recap written as the BKPSDM workbook (51 sheets)
  daily page     GET / for one day of the regency as an administrator, over HTTP from a real
                 uvicorn (sync state of the 100 kiosks, per-unit counts, lists); target < 300 ms
  daily unit     GET /?unit=... (one unit of 180, with its full table)
  daily csv      GET /export/daily.csv for the regency
  ..., gc on     recap and daily compute again with Python's cyclic garbage collector left
                 running (server/gcpause.py pauses it while a report is built)
The data: everyone punches in 06:45-07:45 and out 15:45-16:45 (so some are late or early),
2 % of employee-days absent, 2 % on leave, 0.5 % corrected; every kiosk has reported.

Usage: python bench/recap.py [--repeat 5] [--baseline ../main] [--employees 9000] [--profile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from server_fixtures import Collector, HrClient, PostgresCluster, postgres_bindir  # noqa: E402

MONTH, DAY = "2025-09", "2025-09-16"
UNITS = 50
KIOSKS = 100


def weekdays(month: str) -> list[dt.date]:
    d, out = dt.date.fromisoformat(month + "-01"), []
    while d.month == int(month[5:]):
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def populate(c: Collector, n_employees: int, seed: int = 16) -> None:
    """Employees, kiosks with a heartbeat, a month of events (COPY), leave and corrections."""
    import psycopg
    from sqlalchemy import text

    from server import audit, service
    from server.db import now

    rng = random.Random(seed)
    units = [f"Unit {i:02d}" for i in range(UNITS)]
    with c.engine.begin() as conn:
        for k in range(KIOSKS):
            service.register_device(conn, f"kiosk-{k:03d}", units=[units[k % UNITS]])
        conn.execute(text("update devices set last_heartbeat_at = :t, synced_until = :t, pending = 0, "
                          "clock_synced = true"), {"t": now()})
        t = now()
        emps = [{"nip": f"19{i:016d}", "name": f"Pegawai {i}", "unit": units[i % UNITS], "active": True,
                 "schedule": None, "version": i + 1, "created_at": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
                 "updated_at": t, "jabatan": "Pelaksana", "golongan": "III/a"} for i in range(n_employees)]
        from server.db import employees

        conn.execute(employees.insert(), emps)
    wib = dt.timezone(dt.timedelta(hours=7))
    rows = io.StringIO()
    days = weekdays(MONTH)
    leave, corrections = [], []
    for i, e in enumerate(emps):
        device = f"kiosk-{(i % UNITS) + UNITS * (i % 2):03d}"
        for d in days:
            roll = rng.random()
            if roll < 0.02:
                continue  # absent
            if roll < 0.04:
                leave.append((e["nip"], d))
                continue
            arrive = dt.datetime.combine(d, dt.time(6, 45), wib) + dt.timedelta(seconds=rng.randint(0, 3600))
            leave_at = dt.datetime.combine(d, dt.time(15, 45), wib) + dt.timedelta(seconds=rng.randint(0, 3600))
            punches = [("masuk", arrive), ("pulang", leave_at)]
            if roll > 0.995:  # the masuk was lost: HR adds it
                punches = punches[1:]
                corrections.append((e["nip"], d))
            for kind, at in punches:
                utc = at.astimezone(dt.timezone.utc)
                rows.write("\t".join([str(uuid.UUID(int=rng.getrandbits(128), version=4)), device, e["nip"], kind,
                                      at.isoformat(), utc.isoformat(timespec="milliseconds"), d.isoformat(),
                                      d.isoformat(), "t", "t", t.isoformat()]) + "\n")
    dsn = c.db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as pg, pg.cursor() as cur:
        with cur.copy("copy events (id, device_id, nip, kind, local_time, utc_at, local_date, work_date, in_window, "
                      "clock_synced, received_at) from stdin") as copy:
            copy.write(rows.getvalue())
        cur.execute("analyze")
    with c.engine.begin() as conn:
        from server.db import corrections as corr_table
        from server.db import leaves

        conn.execute(leaves.insert(), [{"nip": nip, "type": "CT", "first_date": d.isoformat(),
                                        "last_date": d.isoformat(), "document_no": "", "note": "", "status": "approved",
                                        "created_at": t} for nip, d in leave])
        conn.execute(corr_table.insert(), [{"nip": nip, "work_date": d.isoformat(), "action": "add", "kind": "masuk",
                                            "local_time": dt.datetime.combine(d, dt.time(7, 20), wib).isoformat(),
                                            "reason": "daftar hadir kertas", "source": "hr", "status": "approved",
                                            "created_at": t} for nip, d in corrections])
        audit.record(conn, audit.CLI, "roster_imported", "bench", None, after={"employees": n_employees})
    print(f"data: {n_employees} employees, {UNITS} units, {KIOSKS} kiosks, {len(days)} working days, "
          f"{rows.getvalue().count(chr(10))} events, {len(leave)} leave days, {len(corrections)} corrections",
          flush=True)


CPU: dict[str, list[float]] = {}  # CPU seconds of this process per run (the machine is shared)


def timed(fn, repeat: int, name: str = "") -> list[float]:
    out = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append(time.perf_counter() - t)
        CPU.setdefault(name, []).append(time.process_time() - c)
    return out


BASELINE = r"""
import datetime as dt, json, statistics, sys, time
from pathlib import Path
from sqlalchemy import create_engine
from kiosk import report
from kiosk.config import load_config
from server.routes.hr import RulesStore
url, month, day, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg = load_config(None, override=Path("/dev/null"))
engine = create_engine(url)
first, last = report.month_bounds(month)
now = dt.datetime(2026, 1, 1, tzinfo=cfg.tz)
day = dt.date.fromisoformat(day)
out = {"recap": [], "daily": [], "recap cpu": [], "daily cpu": []}
for _ in range(repeat):
    with engine.connect() as conn:
        t, c = time.perf_counter(), time.process_time()
        report.monthly_rows(report.compute_days(RulesStore(conn), cfg, first, last, now), month)
        out["recap"].append(time.perf_counter() - t)
        out["recap cpu"].append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        report.daily_rows(report.compute_days(RulesStore(conn), cfg, day, day, now))
        out["daily"].append(time.perf_counter() - t)
        out["daily cpu"].append(time.process_time() - c)
print(json.dumps(out))
"""


def baseline(checkout: Path, url: str, repeat: int) -> dict:
    """The collector before issue 16 (its code from `checkout`), on the same database."""
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve()), "KIOSK_OVERRIDE": os.devnull}
    r = subprocess.run([sys.executable, "-c", BASELINE, url, MONTH, DAY, str(repeat)], env=env, capture_output=True,
                       text=True, cwd=checkout, timeout=3600)
    if r.returncode:
        print(f"baseline failed: {r.stderr[-2000:]}", file=sys.stderr)
        return {}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--employees", type=int, default=9000)
    ap.add_argument("--baseline", type=Path, help="a checkout of the collector before issue 16 (e.g. ../main)")
    ap.add_argument("--profile", action="store_true",
                    help="instead of the table: where the regency-wide daily computation spends its time (cProfile)")
    args = ap.parse_args()
    bindir = postgres_bindir()
    if bindir is None:
        print("bench/recap.py: PostgreSQL binaries not found (apt-get install postgresql)", file=sys.stderr)
        return 1
    cluster = PostgresCluster(bindir)
    work = Path(tempfile.mkdtemp(prefix="bench-recap-"))
    c = None
    try:
        c = Collector(cluster.database())
        t0 = time.perf_counter()
        populate(c, args.employees)
        print(f"populated in {time.perf_counter() - t0:.0f} s", flush=True)
        c.account("bench-admin", "admin")
        hr = HrClient(c.url)
        hr.sign_in("bench-admin")
        from server import monthly
        from server.xlsx import recap_xlsx

        settings = c.app.state.settings
        now = dt.datetime(2026, 1, 1, tzinfo=settings.rules.tz)
        results: dict[str, list[float]] = {}
        recap_holder = {}

        def recap():
            with c.engine.connect() as conn:
                recap_holder["r"] = monthly.recap(conn, settings, MONTH, None, now)

        results["recap"] = timed(recap, args.repeat, "recap")
        r = recap_holder["r"]
        assert len(r.employees) == args.employees and r.working_days == 22, (len(r.employees), r.working_days)
        results["recap xlsx"] = timed(lambda: recap_xlsx(r, settings, dt.date(2025, 10, 1)), max(1, args.repeat // 2),
                                      "recap xlsx")

        def get(path, **params):
            resp = hr.get(path, params=params)
            assert resp.status_code == 200, resp.text[:500]
            return resp

        get("/", date=DAY)  # warm up (first request of the process)
        results["daily page"] = timed(lambda: get("/", date=DAY), args.repeat * 3)
        results["daily unit"] = timed(lambda: get("/", date=DAY, unit="Unit 07"), args.repeat * 3)
        results["daily csv"] = timed(lambda: get("/export/daily.csv", date=DAY), args.repeat)
        from server import reports

        def daily_compute():
            with c.engine.connect() as conn:
                reports.daily_view(conn, settings, dt.date.fromisoformat(DAY), None, now)

        if args.profile:
            import cProfile
            import pstats

            daily_compute()
            prof = cProfile.Profile()
            prof.runcall(lambda: [daily_compute() for _ in range(3)])
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return 0
        results["daily compute"] = timed(daily_compute, args.repeat * 3, "daily compute")
        # The same computations with Python's cyclic collector left running (server/gcpause.py),
        # interleaved in this run: what pausing it saves.
        from server import gcpause

        gcpause.PAUSE = False
        try:
            results["recap, gc on"] = timed(recap, args.repeat, "recap, gc on")
            results["daily, gc on"] = timed(daily_compute, args.repeat * 3, "daily, gc on")
        finally:
            gcpause.PAUSE = True
        base = baseline(args.baseline, c.db_url, args.repeat) if args.baseline else {}
        print(f"\n{'measure':<15} {'median':>9} {'min':>9} {'max':>9} {'cpu':>8} {'runs':>5}  {'before #16':>11} "
              f"{'ratio':>6}  target")
        targets = {"recap": "< 10 s", "daily page": "< 0.3 s"}
        before = {"recap": base.get("recap"), "daily compute": base.get("daily")}
        before_cpu = {"recap": base.get("recap cpu"), "daily compute": base.get("daily cpu")}
        for name, times in results.items():
            m = statistics.median(times)
            b = before.get(name)
            bm = statistics.median(b) if b else None
            cpu = f"{statistics.median(CPU[name]):.3f}s" if name in CPU else "-"
            print(f"{name:<15} {m:>8.3f}s {min(times):>8.3f}s {max(times):>8.3f}s {cpu:>8} {len(times):>5}  "
                  f"{f'{bm:.3f}s' if bm else '-':>11} {f'{m / bm:.2f}' if bm else '-':>6}  {targets.get(name, '')}")
        for name, b in before_cpu.items():
            if b and name in CPU:
                print(f"cpu {name}: {statistics.median(CPU[name]):.3f}s against {statistics.median(b):.3f}s before #16 "
                      f"(ratio {statistics.median(CPU[name]) / statistics.median(b):.2f})")
        for name, ref in (("recap", "recap, gc on"), ("daily compute", "daily, gc on")):
            a, b = statistics.median(CPU[name]), statistics.median(CPU[ref])
            print(f"cpu {name}: {a:.3f}s with the collector paused against {b:.3f}s with it running (ratio {a / b:.2f})")
        if base:
            print("\nbefore #16: kiosk.report.compute_days over server.routes.hr.RulesStore of the baseline checkout "
                  "(no leave, no corrections, every event row as a dict), the same database; 'daily compute' is "
                  "the page's computation without HTTP and HTML.")
        print("cpu: this process's CPU time, median (the page requests' CPU is the server thread's, in the same "
              "process: not separable, '-')")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores, shared machine)")
    finally:
        if c is not None:
            c.stop()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
