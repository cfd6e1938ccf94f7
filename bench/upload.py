#!/usr/bin/env python3
"""How fast does a kiosk's backlog drain to the collector? 100,000 queued events, loopback.

Not a test: it prints a plain-text table (median of --repeat runs, ratio against the clean run
of the same backend in the same invocation). Parts are real: the kiosk's SQLite store with its
outbox, the Uploader thread with its default settings (batch size from the config default,
backoff, timeouts), the collector as its own process (`python -m server serve`, uvicorn) with a
SQLite file or a PostgreSQL cluster started here on 127.0.0.1.

Scenarios, per backend:
  direct      uploader -> collector
  proxy       uploader -> fault proxy (passing everything) -> collector: the baseline for
  30% faults  the same proxy failing 30 % of requests at random: HTTP 500, connection reset
              mid-request, reply lost after the server committed, malformed reply.
After each run the collector's event count must equal the number queued (exactly once).

Targets on this machine (2 cores): direct under 30 s; 30% faults under 2x proxy.
Usage: python bench/upload.py [--events 100000] [--repeat 3] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from server_fixtures import FaultProxy, PostgresCluster, fill_events, postgres_bindir, write_token  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_collector(db_url: str, workdir: Path) -> tuple[subprocess.Popen, int, str]:
    env = {**os.environ, "KIOSK_SERVER_DB": db_url}
    out = subprocess.run([sys.executable, "-m", "server", "register-device", "kiosk-bench", "--unit", "Dinas Kominfo"],
                         env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "server.log", "w"))
    import requests

    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc, port, token
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"collector did not start: {(workdir / 'server.log').read_text()}")


def count_events(db_url: str) -> int:
    from sqlalchemy import text

    from server.db import open_engine

    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from events")).scalar_one()
    finally:
        engine.dispose()


def one_run(backend: str, scenario: str, n: int, cluster, seed: int) -> dict:
    from kiosk.config import load_config
    from kiosk.store import Store
    from kiosk.upload import Settings, Uploader

    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    db_url = f"sqlite:///{work / 'collector.db'}" if backend == "sqlite" else cluster.database()
    subprocess.run([sys.executable, "-m", "server", "migrate"], env={**os.environ, "KIOSK_SERVER_DB": db_url},
                   check=True, capture_output=True)
    proc, port, token = start_collector(db_url, work)
    proxy = None
    try:
        token_file = write_token(work / "token", token)
        url = f"http://127.0.0.1:{port}"
        if scenario != "direct":
            proxy = FaultProxy(port, seed=seed)
            proxy.fail_rate = 0.3 if scenario == "30% faults" else 0.0
            proxy.random_faults = ("500", "reset", "drop_reply", "malformed")
            url = proxy.url
        defaults = load_config(None).server
        settings = Settings(url=url, token_file=str(token_file), batch_size=defaults.batch_size)
        with Store(work / "kiosk.db", device_id="kiosk-bench") as store:
            fill_events(store, n, "kiosk-bench", nips=tuple(f"1985010120100110{i:02d}" for i in range(50)))
            up = Uploader(None, store.path, device_id="kiosk-bench", settings=settings, clock_synced=lambda: True)
            t0 = time.perf_counter()
            up.start()
            while True:
                c = store.outbox_counts()
                if c["pending"] == 0 and c["in_flight"] == 0:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
            up.stop()
        stored = count_events(db_url)
        if stored != n:
            raise SystemExit(f"{backend} {scenario}: the collector holds {stored} events, expected {n}")
        if proxy and os.environ.get("BENCH_GAPS"):
            gaps: dict[str, list[float]] = {}
            for (f, _, t), (_, _, t2) in zip(proxy.log, proxy.log[1:]):
                gaps.setdefault(f, []).append(t2 - t)
            print({f: (len(g), round(statistics.median(g) * 1000)) for f, g in gaps.items()}, file=sys.stderr)
        requests_made = len(proxy.log) if proxy else up.stats["batches"]
        failed = sum(f != "pass" for f, _, _ in proxy.log) if proxy else 0
        return {"seconds": seconds, "requests": requests_made, "failed": failed, "duplicates": up.stats["duplicate"],
                "settings": settings}
    finally:
        if proxy:
            proxy.close()
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backends", default="sqlite,postgresql")
    args = p.parse_args()
    os.environ["KIOSK_OVERRIDE"] = os.devnull
    import logging
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the PostgreSQL cluster

    logging.getLogger("kiosk.upload").setLevel(logging.CRITICAL)  # the injected faults, one line each
    backends = args.backends.split(",")
    cluster = None
    if "postgresql" in backends:
        bindir = postgres_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
        cluster = PostgresCluster(bindir)
    rows = []
    settings = None
    try:
        for backend in backends:
            base = None
            for scenario in ("direct", "proxy", "30% faults"):
                runs = [one_run(backend, scenario, args.events, cluster, seed=i + 1) for i in range(args.repeat)]
                settings = runs[0]["settings"]
                med = statistics.median(r["seconds"] for r in runs)
                if scenario == "proxy":
                    base = med
                rows.append([backend, scenario, f"{med:.1f}", f"{min(r['seconds'] for r in runs):.1f}",
                             f"{max(r['seconds'] for r in runs):.1f}",
                             f"{args.events / med:,.0f}", str(round(statistics.median(r["requests"] for r in runs))),
                             str(round(statistics.median(r["failed"] for r in runs))),
                             str(round(statistics.median(r["duplicates"] for r in runs))),
                             f"{med / base:.2f}x" if base and scenario != "direct" else "-"])
                print(f"  {backend} {scenario}: {[round(r['seconds'], 1) for r in runs]} s", file=sys.stderr, flush=True)
    finally:
        if cluster:
            cluster.stop()
    head = ["backend", "scenario", "median s", "min s", "max s", "events/s", "requests", "failed", "dup. acks",
            "vs proxy"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"\n{args.events:,} queued events, {args.repeat} run(s) each, batch {settings.batch_size}, "
          f"backoff {settings.backoff_base_s:g}..{settings.backoff_max_s:g} s with jitter; "
          "every run ended with each event stored exactly once\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
