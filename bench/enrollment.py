#!/usr/bin/env python3
"""Batch enrollment speed per encoder: every photo of lfw-dev through `kiosk enroll`.

    python bench/enrollment.py [--lfw ../shared/lfw-dev] [--encoders dlib,onnxruntime]
                               [--workers N] [--limit N]

Run from the repository root. lfw-dev's 2,879 people become employees with made-up 18-digit
NIPs (one folder of links to their photos each, and a roster), and the real `kiosk enroll`
command enrolls all 6,922 photos once per encoder (``[recognition] encoder`` in a fresh
config and database each time), as HR would: all cores, every quality gate, the duplicate check.
Prints wall time and photos per second per encoder against the first, and checks that every
encoder enrolled the same photos and refused the same ones for the same reasons.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def codes(report: dict) -> list[tuple[str, str]]:
    """(photo or employee, reason code) of each refusal; the texts quote distances to 3 decimals."""
    out = []
    for r in report["refused"]:
        code = r["reason"].split(":", 1)[0]
        out.append((r["item"], "employee without enough usable photos" if code.startswith("employee") else code))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--encoders", default="dlib,onnxruntime")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=0, help="first N people only (smoke run)")
    args = ap.parse_args(argv)
    encoders = args.encoders.split(",")
    people = sorted(p for p in (args.lfw / "images").iterdir() if p.is_dir())
    if args.limit:
        people = people[:args.limit]
    with tempfile.TemporaryDirectory(prefix="kiosk-enroll-bench-") as tmp:
        tmp = Path(tmp)
        photos = tmp / "photos"
        roster = ["NIP,name,unit"]
        n_photos = 0
        for i, person in enumerate(people, 1):
            nip = f"19{i:016d}"
            (photos / nip).mkdir(parents=True)
            for f in sorted(person.glob("*.jpg")):
                os.symlink(f.resolve(), photos / nip / f.name)
                n_photos += 1
            roster.append(f"{nip},{person.name.replace('_', ' ')},LFW")
        (tmp / "roster.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
        print(f"bench/enrollment.py: {n_photos} photos of {len(people)} people, `kiosk enroll --workers "
              f"{args.workers}`, load average {os.getloadavg()[0]:.2f}", flush=True)
        results = {}
        for enc in encoders:
            work = tmp / enc
            work.mkdir()
            (work / "config.toml").write_text(f'[store]\ndata_dir = "data"\n[recognition]\nencoder = "{enc}"\n',
                                              encoding="utf-8")
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "kiosk", "enroll", str(photos), "--roster",
                                str(tmp / "roster.csv"), "--workers", str(args.workers), "--json"],
                               cwd=work, capture_output=True, text=True,
                               env={**os.environ, "KIOSK_OVERRIDE": os.devnull})
            wall = time.perf_counter() - t
            if p.returncode not in (0, 1):
                raise SystemExit(f"kiosk enroll ({enc}) failed:\n{p.stderr[-3000:]}")
            report = json.loads(p.stdout)
            results[enc] = (wall, report)
            n_templates = sum(report["enrolled"].values())
            print(f"  {enc:<12} {wall:7.1f} s  {n_photos / wall:6.1f} photos/s  "
                  f"{len(report['enrolled'])} employees, {n_templates} templates, {len(report['refused'])} refused",
                  flush=True)
        base_wall, base = results[encoders[0]]
        print()
        for enc in encoders[1:]:
            wall, report = results[enc]
            same = report["enrolled"] == base["enrolled"] and codes(report) == codes(base)
            texts = sum(a == b for a, b in zip(report["refused"], base["refused"]))
            print(f"{enc} vs {encoders[0]}: {wall / base_wall:.2f}x the time ({base_wall / wall:.1f}x the photos/s); "
                  f"enrolled and refused (item, reason) {'identical' if same else 'DIFFER'}; "
                  f"{texts} of {len(base['refused'])} refusal texts identical to the letter")
        reasons: dict[str, int] = {}
        for _, key in codes(base):
            reasons[key] = reasons.get(key, 0) + 1
        print("refusals (" + encoders[0] + "): " + ", ".join(f"{n} {k}" for k, n in sorted(reasons.items(),
                                                                                              key=lambda x: -x[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
