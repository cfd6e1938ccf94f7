#!/usr/bin/env python3
"""lfw-dev's open-set 1:N protocol through the kiosk's own commands, and the plain matcher.

    python bench/lfw_protocol.py [--lfw ../shared/lfw-dev] [--half all|A|B] [--seed 19]
                                 [--jobs 2] [--no-plain] [--config FILE] [--open-gates] [--darken STOPS]

Run from the repository root. Not a test: it prints a table. The protocol is the one of
``lfw-dev/README.md``, per single photo:

* gallery: every person with 4 or more photos; their first 3 photos in file-name order are
  enrolled with the real ``kiosk enroll`` (made-up 18-digit NIPs, a roster, a fresh database and
  the SHIPPED defaults, or ``--config``); a photo it refuses is replaced by the next one, in a
  further ``kiosk enroll`` run, until 3 are enrolled or none are left;
* mated probes: all the other photos of those people; a hit only when ``kiosk identify`` names
  that person; FNIR = 1 - hits / mated probes (a refusal is a miss);
* non-mated probes: the photo of every person with exactly 1 photo; FPIR = share identified;
* the table: FNIR, FPIR and wrong-person identifications at the default operating point; the
  best FNIR at FPIR <= 1 % and <= 0.1 % (the threshold swept over the ``distance`` each probe's
  JSON line gives, the margin kept at its default); the refusal reasons; the same for the plain
  face_recognition 1.3.0 matcher run on the same photos in the same run (HOG with upsampling 1,
  then 2 when no face; the most central face; no quality gates; the first 3 photos with a face;
  the nearest template; margin 0.05; threshold 0.45 as its default point).

``--half A`` / ``--half B``: only the people of one half of lfw-dev, split by person with a fixed
seed (the gallery people and the one-photo people each shuffled with ``random.Random(seed)``, the
first half of each is A). The kiosk's defaults were chosen on half A; B and the whole set are
the check (docs/gates.md). ``--open-gates`` opens every quality gate and then tabulates, per
gate and value, the encoded probes that gate would refuse and what they gave at the default
point (hits lost against false matches removed). ``--darken`` darkens every probe by some stops
(linear light, as a camera exposing too little). The plain matcher's per-photo results are cached in
``.cache/lfw-plain.npz`` (it is deterministic); the kiosk is always run afresh. To try matching
rules in seconds on cached descriptors (and on other person splits), see bench/lfw_descriptors.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLAIN_THRESHOLD, PLAIN_MARGIN = 0.45, 0.05


# --- the protocol ------------------------------------------------------------------------------

def read_people(lfw: Path) -> dict[str, list[Path]]:
    images = lfw / "images"
    if not images.is_dir():
        raise SystemExit(f"{images}: not found (expected lfw-dev/images/<Name>/<Name>_NNNN.jpg)")
    return {p.name: sorted(p.glob("*.jpg")) for p in sorted(images.iterdir()) if p.is_dir()}


def split(people: dict[str, list[Path]], seed: int) -> tuple[set[str], set[str]]:
    """Halves A and B by person: gallery people and one-photo people each shuffled, first half A."""
    gal = [p for p, v in people.items() if len(v) >= 4]
    non = [p for p, v in people.items() if len(v) == 1]
    rnd = random.Random(seed)
    rnd.shuffle(gal)
    rnd.shuffle(non)
    a = set(gal[: len(gal) // 2]) | set(non[: len(non) // 2])
    b = set(gal[len(gal) // 2:]) | set(non[len(non) // 2:])
    return a, b


def rates(probes: list[tuple[str | None, str | None, float | None, float | None, str | None]],
          threshold: float, margin: float) -> dict:
    """probes: (truth, identified at the default point, distance, margin, refusal reason)."""
    mated = [p for p in probes if p[0] is not None]
    non = [p for p in probes if p[0] is None]
    hits = sum(1 for t, who, *_ in mated if who == t)
    wrong = sum(1 for t, who, *_ in mated if who is not None and who != t)
    fp = sum(1 for _, who, *_ in non if who is not None)
    return {"fnir": 1 - hits / len(mated), "fpir": fp / len(non), "wrong": wrong, "mated": len(mated),
            "non": len(non)}


def sweep(probes, margin: float, fpir: float, nearest) -> tuple[float, float, int]:
    """Best FNIR with FPIR <= fpir, sweeping the threshold over `distance` (margin fixed).
    `nearest(probe)` is the person a probe is nearest to (accepted or not)."""
    mated = [p for p in probes if p[0] is not None]
    non = [p for p in probes if p[0] is None]
    ok = lambda p: p[2] is not None and p[3] is not None and p[3] >= margin  # noqa: E731
    non_d = np.sort([p[2] for p in non if ok(p)])
    allowed = int(np.floor(fpir * len(non) + 1e-9))
    t = non_d[allowed] if allowed < len(non_d) else np.inf  # accept distance < t
    hits = sum(1 for p in mated if ok(p) and p[2] < t and nearest(p) == p[0])
    wrong = sum(1 for p in mated if ok(p) and p[2] < t and nearest(p) != p[0])
    return 1 - hits / len(mated), float(t), wrong


# --- the kiosk, through its commands -----------------------------------------------------------

def kiosk(cmd: list[str], work: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "--config", str(work / "config.toml"), *cmd],
                          cwd=work, capture_output=True, text=True, env={**os.environ, "KIOSK_OVERRIDE": os.devnull})


def darkened(paths: list[Path], folder: Path, stops: float) -> list[Path]:
    """Copies of the probes as a camera exposing `stops` too little would take them (in linear
    light, as kiosk/camera/fake.py simulates), in the same order."""
    import cv2

    from kiosk.camera.fake import linear_to_srgb8, srgb_to_linear

    out = []
    for i, f in enumerate(paths):
        bgr = cv2.imread(str(f))
        d = folder / f"{i:05d}_{f.name}"
        d.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d), linear_to_srgb8(srgb_to_linear(bgr) * 2.0 ** -stops), [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(d)
    return out


def run_kiosk(people, subset, work: Path, config: Path | None, jobs: int,
              darken: float = 0.0) -> tuple[list, dict, dict]:
    gallery = {p: v for p, v in people.items() if p in subset and len(v) >= 4}
    nips = {p: f"19{i:016d}" for i, p in enumerate(sorted(gallery), 1)}
    person = {n: p for p, n in nips.items()}
    text = config.read_text(encoding="utf-8") if config else ""
    (work / "config.toml").write_text('[store]\ndata_dir = "data"\n' + text, encoding="utf-8")
    (work / "roster.csv").write_text("NIP,name,unit\n" + "".join(f"{nips[p]},{p.replace('_', ' ')},LFW\n"
                                                                 for p in sorted(gallery)), encoding="utf-8")
    accepted = {p: [] for p in gallery}
    next_i = {p: 0 for p in gallery}
    refusals: Counter = Counter()
    for round_ in range(1, 100):
        folder = work / f"round{round_}"
        todo = 0
        for p, photos in gallery.items():
            need = 3 - len(accepted[p])
            take = photos[next_i[p]: next_i[p] + need] if need > 0 else []
            next_i[p] += len(take)
            if take:
                (folder / nips[p]).mkdir(parents=True)
                for f in take:
                    os.symlink(f.resolve(), folder / nips[p] / f.name)
                todo += len(take)
        if not todo:
            break
        r = kiosk(["enroll", str(folder), "--roster", str(work / "roster.csv"), "--workers", str(jobs), "--json"], work)
        if r.returncode not in (0, 1):
            raise SystemExit(f"kiosk enroll failed ({r.returncode}):\n{r.stderr[-3000:]}")
        report = json.loads(r.stdout)
        refused = {Path(x["item"]).name: x["reason"].split(":", 1)[0] for x in report["refused"]}
        for nip_dir in folder.iterdir():
            for f in nip_dir.iterdir():
                if f.name in refused:
                    refusals[refused[f.name]] += 1
                else:
                    accepted[person[nip_dir.name]].append(f.name)
    enrolled = {p: set(v) for p, v in accepted.items()}
    probes_paths, truth = [], []
    for p, photos in people.items():
        if p not in subset or not (len(photos) == 1 or len(photos) >= 4):
            continue
        for f in photos:
            if len(photos) >= 4 and f.name in enrolled[p]:
                continue
            probes_paths.append(f)
            truth.append(p if len(photos) >= 4 else None)
    if darken:
        probes_paths = darkened(probes_paths, work / "darkened", darken)
    chunks = [probes_paths[i::jobs] for i in range(jobs)]
    procs = [subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(work / "config.toml"), "identify",
                               *map(str, c)], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "KIOSK_OVERRIDE": os.devnull, "OMP_NUM_THREADS": "1"})
             for c in chunks if c]
    lines = {}
    for pr in procs:
        out, err = pr.communicate()
        if pr.returncode not in (0, 1):
            raise SystemExit(f"kiosk identify failed ({pr.returncode}):\n{err[-3000:]}")
        for line in out.splitlines():
            d = json.loads(line)
            lines[d["path"]] = d
    probes, nearest = [], {}
    for f, t in zip(probes_paths, truth):
        d = lines[str(f)]
        who = person.get(d["employee_id"]) if d.get("employee_id") else None
        near = person.get(d.get("employee_id") or d.get("nearest"))
        probes.append((t, who, d.get("distance"), d.get("margin"), d.get("reason"), d.get("quality")))
        nearest[len(probes) - 1] = near
    return probes, {"enrolled": sum(len(v) for v in enrolled.values()), "people": sum(1 for v in enrolled.values() if v),
                    "refusals": refusals}, nearest


# --- the plain face_recognition matcher ----------------------------------------------------------

def plain_photo(path: str):
    import face_recognition

    img = face_recognition.load_image_file(path)
    locs = face_recognition.face_locations(img, 1)
    if not locs:
        locs = face_recognition.face_locations(img, 2)
    if not locs:
        return path, None
    h, w = img.shape[:2]
    loc = min(locs, key=lambda c: ((c[1] + c[3]) / 2 - w / 2) ** 2 + ((c[0] + c[2]) / 2 - h / 2) ** 2)
    return path, np.asarray(face_recognition.face_encodings(img, [loc])[0], np.float32)


def plain_encodings(paths: list[str], jobs: int, cache: Path | None) -> dict[str, np.ndarray | None]:
    have: dict[str, np.ndarray | None] = {}
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        for k, v in zip(z["paths"], z["enc"]):
            have[str(k)] = None if np.isnan(v[0]) else v
    todo = [p for p in paths if p not in have]
    if todo:
        print(f"plain face_recognition: {len(todo)} photos to encode ({jobs} processes)", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            for path, e in pool.map(plain_photo, todo, chunksize=16):
                have[path] = e
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            keys = sorted(have)
            np.savez(cache, paths=np.array(keys), enc=np.stack([have[k] if have[k] is not None else
                                                                 np.full(128, np.nan, np.float32) for k in keys]))
    return have


def run_plain(people, subset, jobs: int, cache: Path | None):
    paths = [str(f) for p, v in people.items() if p in subset and (len(v) >= 4 or len(v) == 1) for f in v]
    enc = plain_encodings(paths, jobs, cache)
    ids, mats, enrolled = [], [], set()
    for p, v in people.items():
        if p in subset and len(v) >= 4:
            for f in [f for f in v if enc[str(f)] is not None][:3]:
                ids.append(p)
                mats.append(enc[str(f)])
                enrolled.add(str(f))
    ids = np.array(ids)
    mats = np.stack(mats)
    names = sorted(set(ids))
    cols = [np.flatnonzero(ids == n) for n in names]
    probes, nearest = [], {}
    for p, v in people.items():
        if p not in subset or not (len(v) >= 4 or len(v) == 1):
            continue
        for f in v:
            if str(f) in enrolled:
                continue
            t = p if len(v) >= 4 else None
            e = enc[str(f)]
            if e is None:
                probes.append((t, None, None, None, "no_face", None))
                continue
            d = np.linalg.norm(mats - e, axis=1)
            per = np.array([d[c].min() for c in cols])
            o = np.argsort(per)
            d1, m = float(per[o[0]]), float(per[o[1]] - per[o[0]])
            who = names[o[0]] if d1 <= PLAIN_THRESHOLD and m >= PLAIN_MARGIN else None
            probes.append((t, who, d1, m, None if who else ("unknown" if d1 > PLAIN_THRESHOLD else "ambiguous"), None))
            nearest[len(probes) - 1] = names[o[0]]
    return probes, {"enrolled": len(ids), "people": len(names), "refusals": Counter()}, nearest


# --- what each gate would refuse, on a run with every gate open --------------------------------

OPEN_GATES = ("[recognition]\nmin_eye_px = 4.0\nmin_sharpness = 0.0\nmax_shadows = 1.0\nmax_highlights = 1.0\n"
              "min_contrast = 0.0\n"
              "max_yaw = 2.0\nmax_roll_deg = 90.0\n")
GATES = [  # (setting, the measure, refuse when the measure is below (True) or above (False), values)
    ("min_eye_px", lambda q: q["eye_px"], True, [6, 8, 10, 12, 14, 16, 18, 20, 24]),
    ("min_sharpness", lambda q: q["sharpness"], True, [1, 2, 3, 4, 5, 6, 8, 10]),
    ("max_shadows", lambda q: q["shadows"], False, [0.95, 0.9, 0.8, 0.7, 0.6, 0.45, 0.3, 0.1]),
    ("max_highlights", lambda q: q["highlights"], False, [0.9, 0.8, 0.7, 0.6, 0.45, 0.3, 0.1]),
    ("min_contrast", lambda q: q["contrast"], True, [5, 10, 15, 20, 25, 30, 40]),
    ("max_yaw", lambda q: abs(q["yaw"]), False, [1.0, 0.8, 0.6, 0.45, 0.35, 0.25]),
    ("max_roll_deg", lambda q: abs(q["roll_deg"]), False, [45, 35, 25, 20, 15, 10]),
]


def gate_sweep(probes) -> None:
    """For each gate and value: the encoded probes it would refuse, and what they would have
    given at the default point (a refusal pays for itself only where it removes more false
    matches and wrong persons than hits)."""
    mated = sum(1 for p in probes if p[0] is not None)
    non = sum(1 for p in probes if p[0] is None)
    enc = [p for p in probes if p[5] is not None and p[4] in (None, "unknown", "ambiguous")]
    rows = []
    for key, measure, below, values in GATES:
        for v in values:
            out = [p for p in enc if (measure(p[5]) < v if below else measure(p[5]) > v)]
            m_out = [p for p in out if p[0] is not None]
            n_out = [p for p in out if p[0] is None]
            hits = sum(1 for p in m_out if p[1] == p[0])
            wrong = sum(1 for p in m_out if p[1] is not None and p[1] != p[0])
            fm = sum(1 for p in n_out if p[1] is not None)
            rows.append([key, v, len(m_out), hits, wrong, len(n_out), fm,
                         f"{100 * hits / mated:+.2f}", f"{-100 * fm / non:+.2f}"])
    print("\nGate sweep (probes encoded with every gate open; each gate alone at each value):")
    print(table(rows, ["gate", "value", "mated refused", "of them hits lost", "wrong person removed",
                       "non-mated refused", "false matches removed", "FNIR change %", "FPIR change %"]))


# --- report ---------------------------------------------------------------------------------------

def table(rows: list[list[str]], head: list[str]) -> str:
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "| " + " | ".join(str(x).rjust(n) for x, n in zip(r, w)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (n + 2) for n in w) + "|"] + [line(r) for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--half", choices=("all", "A", "B"), default="all")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--config", type=Path, help="extra kiosk settings (TOML) over the shipped defaults")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain face_recognition matcher")
    ap.add_argument("--no-cache", action="store_true", help="recompute the plain matcher's encodings")
    ap.add_argument("--open-gates", action="store_true",
                    help="every quality gate open (the `partial` one excepted), then the table of what each "
                    "gate would refuse at each value (over --config)")
    ap.add_argument("--save", type=Path, metavar="FILE",
                    help="write the kiosk's per-probe results (JSON lines: truth, identified, distance, margin, "
                    "reason, quality, nearest) here as soon as its run ends")
    ap.add_argument("--darken", type=float, default=0.0, metavar="STOPS",
                    help="probes darkened by this many stops (linear light) before `kiosk identify`")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from kiosk.config import load_config

    people = read_people(args.lfw.resolve())  # `kiosk identify` runs in a temporary folder
    a, b = split(people, args.seed)
    subset = {"all": set(people), "A": a, "B": b}[args.half]
    if args.open_gates:
        extra = Path(tempfile.mkstemp(prefix="kiosk-open-gates-", suffix=".toml")[1])
        extra.write_text((args.config.read_text(encoding="utf-8") if args.config else "") + OPEN_GATES,
                         encoding="utf-8")
        args.config = extra
    cfg = load_config(args.config, override=Path(os.devnull))
    rc = cfg.recognition
    t0 = time.perf_counter()
    print(f"bench/lfw_protocol.py: {args.lfw} half {args.half} (seed {args.seed}): "
          f"{sum(1 for p in subset if len(people[p]) >= 4)} gallery people, "
          f"{sum(1 for p in subset if len(people[p]) == 1)} one-photo people; kiosk threshold {rc.threshold}, "
          f"margin {rc.margin}, neighbour_weight {rc.neighbour_weight}, crowd_weight {rc.crowd_weight}, max_loosening {rc.max_loosening}, mirror {rc.mirror}, template_jitter {rc.template_jitter}, min_eye_px {rc.min_eye_px}, "
          f"min_sharpness {rc.min_sharpness}, max_shadows {rc.max_shadows}, max_highlights {rc.max_highlights}, "
          f"min_contrast {rc.min_contrast}, "
          f"max_yaw {rc.max_yaw}, max_roll_deg {rc.max_roll_deg}; probes darkened {args.darken} stops; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    systems = {}
    with tempfile.TemporaryDirectory(prefix="kiosk-lfw-") as tmp:
        t = time.perf_counter()
        probes, info, nearest = run_kiosk(people, subset, Path(tmp), args.config, args.jobs, args.darken)
        systems["kiosk (kiosk enroll + kiosk identify)"] = (probes, info, nearest, rc.threshold, rc.margin,
                                                             time.perf_counter() - t)
        if args.save:
            args.save.write_text("".join(json.dumps({"truth": p[0], "identified": p[1], "distance": p[2], "margin": p[3],
                                                     "reason": p[4], "quality": p[5], "nearest": nearest.get(i)}) + "\n"
                                         for i, p in enumerate(probes)), encoding="utf-8")
    if args.darken and not args.no_plain:
        print("(the plain matcher is not run on darkened probes: its encodings are of the photos as they are)")
    if not args.no_plain and not args.darken:
        t = time.perf_counter()
        cache = None if args.no_cache else ROOT / ".cache" / "lfw-plain.npz"
        probes, info, nearest = run_plain(people, subset, args.jobs, cache)
        systems["plain face_recognition"] = (probes, info, nearest, PLAIN_THRESHOLD, PLAIN_MARGIN,
                                             time.perf_counter() - t)
    rows = []
    for name, (probes, info, nearest, th, mg, secs) in systems.items():
        d = rates(probes, th, mg)
        index = {id(p): i for i, p in enumerate(probes)}
        near = lambda p, n=nearest, ix=index: n.get(ix[id(p)])  # noqa: E731
        f1, t1, w1 = sweep(probes, mg, 0.01, near)
        f01, t01, w01 = sweep(probes, mg, 0.001, near)
        rows.append([name, f"{info['people']} ({info['enrolled']})", d["mated"], d["non"],
                     f"{100 * d['fnir']:.1f} % / {100 * d['fpir']:.2f} % (t {th})", d["wrong"],
                     f"{100 * f1:.1f} % (t {t1:.3f}, wrong {w1})", f"{100 * f01:.1f} % (t {t01:.3f}, wrong {w01})",
                     f"{secs:.0f} s"])
    print()
    print(table(rows, ["system", "enrolled people (templates)", "mated", "non-mated", "default point: FNIR / FPIR",
                       "wrong person", "FNIR at FPIR <= 1 %", "FNIR at FPIR <= 0.1 %", "time"]))
    for name, (probes, info, *_rest) in systems.items():
        mated_reasons = Counter(p[4] for p in probes if p[0] is not None and p[1] != p[0])
        non_reasons = Counter(p[4] or "identified" for p in probes if p[0] is None)
        print(f"\n{name}:")
        print("  mated probes missed, by reason: " + ", ".join(f"{k or 'wrong person'} {n}"
                                                               for k, n in mated_reasons.most_common()))
        refused = Counter(p[4] for p in probes if p[4] not in (None, "unknown", "ambiguous", "lookalike"))
        print("  refused before any comparison (all probes): " + (", ".join(f"{k} {n}" for k, n in refused.most_common())
                                                                 or "none"))
        print("  non-mated probes: " + ", ".join(f"{k} {n}" for k, n in non_reasons.most_common()))
        if info["refusals"]:
            print("  enrollment photos refused (replaced by the next photo): "
                  + ", ".join(f"{k} {n}" for k, n in info["refusals"].most_common()))
    if args.open_gates:
        gate_sweep(systems["kiosk (kiosk enroll + kiosk identify)"][0])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
