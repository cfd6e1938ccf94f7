#!/usr/bin/env python3
"""lfw-dev's 1:N protocol offline: the kiosk's descriptors cached once, matching rules in seconds.

    python bench/lfw_descriptors.py [--lfw ../shared/lfw-dev] [--jobs 2] [--cache .cache/lfw-kiosk.npz]
                                    [--config FILE] [--half all|A|B] [--seed 19] [--seeds 1,2,3]

Run from the repository root. Not a test: it prints a table. The first run analyses every photo
of lfw-dev that the protocol uses (people with 1 or >= 4 photos) once with the kiosk's own
``FaceAnalyzer`` (its detector, quality gates, mirror and encoder: what ``kiosk enroll`` and
``kiosk identify`` run per photo) and caches the result; ``--config`` changes of gates or
encoding need ``--refresh``. Then the protocol of bench/lfw_protocol.py is replayed in numpy:

* enrollment in rounds (the first 3 photos; a refused photo replaced by the next one), with
  ``several_faces`` decided as ``kiosk enroll`` decides it and its duplicate check
  (``enroll.batch.find_duplicates``) against what earlier rounds stored and the batch itself;
* every probe matched with ``kiosk.recognition.gallery.Gallery`` built as ``kiosk identify``
  builds it, with the [recognition] matching keys of the config;
* the table with the same scoring as bench/lfw_protocol.py (``rates`` and ``sweep``).

The replay of the shipped config reproduces lfw_protocol.py's kiosk row (docs/gates.md says
how closely). ``--seeds``: the same for other person splits (each seed's halves A and B), to see
whether a matching rule generalises beyond one split. ``--sizes 10,25,50``: small offices - galleries
of N people drawn from each half (3 draws per half), with all of that half's one-photo people as
strangers. ``--crowds K``: galleries of one "population" as dlib's descriptor sees it (below), each
beside a random gallery of the same size. ``--refused K``: the look-alike holds under stress (K
people per half taken out as if refused as duplicates, with and without holds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from kiosk.recognition.gallery import gallery_options  # noqa: E402
from lfw_protocol import rates, read_people, split, sweep, table  # noqa: E402

_analyzer = None
_ratio = 0.0


def _init(rc_values: dict, ratio: float) -> None:
    global _analyzer, _ratio
    from kiosk.recognition.pipeline import FaceAnalyzer

    _analyzer = FaceAnalyzer(SimpleNamespace(**rc_values))
    _analyzer.m.load_all()
    _ratio = ratio


def _analyse(job: tuple[str, bool]):
    """(path, encoding or None, identify's reason, enrollment's reason, enrollment's template or
    None). The template (jittered as `kiosk enroll` jitters it) only where `job` asks for it."""
    from kiosk.imageio import load_rgb
    from kiosk.recognition.pipeline import others_smaller

    path, template = job
    rgb = load_rgb(path)
    a = _analyzer.analyze(rgb)
    several = len(a.faces) > 1 and a.face is not None and not others_smaller(a.face, a.faces, _ratio)
    enc = tenc = None
    if a.encoding is not None:
        enc = np.asarray(a.encoding, np.float32)
        tenc = enc
        if template and _analyzer.rc.template_jitter:
            tenc = np.asarray(_analyzer.m.encode(rgb, a.face, _analyzer.rc.mirror, _analyzer.rc.template_jitter),
                              np.float32)
    return path, enc, a.reason or "", "several_faces" if several else (a.reason or ""), tenc if template else None


TEMPLATE_CANDIDATES = 7  # enrollment's templates are cached for the first 7 photos of a gallery person


def build_cache(people, cfg, jobs: int, cache: Path) -> None:
    """Every photo's probe encoding, and for the first TEMPLATE_CANDIDATES photos of each gallery
    person also the template `kiosk enroll` would store (jittered per `template_jitter`)."""
    jobs_ = [(str(f), len(v) >= 4 and i < TEMPLATE_CANDIDATES)
             for v in people.values() if len(v) == 1 or len(v) >= 4 for i, f in enumerate(v)]
    paths = [p for p, _ in jobs_]
    rc_values = dict(vars(cfg.recognition))
    rc_values["encoder_threads"] = 1
    print(f"analysing {len(paths)} photos with the kiosk's FaceAnalyzer ({jobs} processes)", file=sys.stderr,
          flush=True)
    t = time.perf_counter()
    out = []
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_init,
                             initargs=(rc_values, cfg.enroll.background_face_ratio)) as pool:
        for i, r in enumerate(pool.map(_analyse, jobs_, chunksize=8), 1):
            out.append(r)
            if i % 500 == 0:
                print(f"  {i}/{len(paths)} ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    lfw = str(next(iter(people.values()))[0].parents[2])
    nan = np.full(128, np.nan, np.float32)
    np.savez(cache, paths=np.array([os.path.relpath(r[0], lfw) for r in out]),  # relative to lfw-dev
             enc=np.stack([r[1] if r[1] is not None else nan for r in out]),
             reason=np.array([r[2] for r in out]), enroll_reason=np.array([r[3] for r in out]),
             tenc=np.stack([r[4] if r[4] is not None else nan for r in out]),
             template_jitter=np.array(cfg.recognition.template_jitter))


def cache_jitter(cache: Path) -> int | None:
    """The `template_jitter` a cache was built with (None: a cache from before it was kept)."""
    z = np.load(cache, allow_pickle=False)
    return int(z["template_jitter"]) if "template_jitter" in z else None


def load_cache(cache: Path, lfw: Path) -> dict[str, tuple]:
    """photo path (as read_people(lfw) gives it) -> (encoding, identify's reason, enrollment's
    reason, enrollment's template or None where not cached)."""
    z = np.load(cache, allow_pickle=False)
    tenc = z["tenc"] if "tenc" in z else np.full_like(z["enc"], np.nan)
    return {str(lfw / str(p)): (None if np.isnan(e[0]) else e, str(r) or None, str(er) or None,
                                None if np.isnan(t[0]) else t)
            for p, e, r, er, t in zip(z["paths"], z["enc"], z["reason"], z["enroll_reason"], tenc)}


def enroll(people, subset, photos: dict[str, tuple], rc, holds: dict | None = None) -> tuple[dict, Counter]:
    """`kiosk enroll`'s rounds as bench/lfw_protocol.py runs them: person -> {path: template}.
    `holds` (a dict, filled): person -> {path: encoding} of the photos refused as duplicates of a
    person with no template at the end - the look-alike holds `kiosk enroll` keeps."""
    from enroll.batch import PhotoResult, find_duplicates

    gallery = {p: v for p, v in people.items() if p in subset and len(v) >= 4}
    accepted: dict[str, dict[str, np.ndarray]] = {p: {} for p in gallery}
    next_i = {p: 0 for p in gallery}
    refusals: Counter = Counter()
    while True:
        batch = []
        for p, v in gallery.items():
            need = 3 - len(accepted[p])
            take = v[next_i[p]: next_i[p] + need] if need > 0 else []
            next_i[p] += len(take)
            for f in take:
                enc, _, reason, template = photos[str(f)]
                if reason is None and template is None:  # beyond the cached candidates: the probe's
                    refusals["template not cached (probe encoding used)"] += 1
                batch.append(PhotoResult(p, str(f), (enc if template is None else template) if reason is None
                                         else None, reason))
        if not batch:
            break
        stored = [(p, e) for p, es in accepted.items() for e in es.values()]
        find_duplicates(batch, (np.stack([e for _, e in stored]) if stored else np.zeros((0, 128), np.float32),
                                [p for p, _ in stored]), rc)
        for r in batch:
            if r.reason is None:
                accepted[r.nip][r.path] = r.encoding
            else:
                refusals[r.reason] += 1
                if r.reason == "duplicate" and holds is not None:
                    holds.setdefault(r.nip, {})[r.path] = r.encoding
    if holds is not None:
        for p in [p for p in holds if accepted.get(p)]:
            del holds[p]  # enrolled in a later round: its own templates compete
    return accepted, refusals


def replay(people, subset, photos, rc, templates=None, holds=None, skip=frozenset()) -> tuple[list, dict, dict]:
    """The protocol's probes (same tuples as lfw_protocol.run_kiosk) with the rule of `rc`;
    look-alike holds as `kiosk identify` loads them (`[recognition] lookalike_holds`)."""
    from kiosk.recognition.gallery import Gallery

    if templates is None:
        holds = {}
        templates, refusals = enroll(people, subset, photos, rc, holds)
    else:
        refusals = Counter()
    holds = (holds or {}) if rc.lookalike_holds else {}
    ids = [p for p, es in templates.items() for _ in es] + [p for p, es in holds.items() for _ in es]
    g = Gallery(np.stack([e for es in [*templates.values(), *holds.values()] for e in es.values()]), ids,
                **gallery_options(rc), held=set(holds))
    probes, nearest = [], {}
    for p, v in people.items():
        if p not in subset or not (len(v) == 1 or len(v) >= 4):
            continue
        t = p if len(v) >= 4 else None
        for f in v:
            enc, reason = photos[str(f)][:2]
            if t and (str(f) in templates.get(p, {}) or str(f) in skip):
                continue
            if enc is None:
                probes.append((t, None, None, None, reason, None))
                continue
            m = g.match(enc)
            why = m.reason(rc.threshold, rc.margin)
            # rounded as `kiosk identify` prints them (the sweep's ties come out the same)
            probes.append((t, m.employee_id if why is None else None,
                           round(m.score, 4) if m.employee_id and not m.held else None,
                           round(m.margin, 4) if m.runner_up else None, why, None))
            nearest[len(probes) - 1] = m.employee_id
    return probes, {"people": sum(1 for v in templates.values() if v),
                    "enrolled": sum(len(v) for v in templates.values()), "refusals": refusals,
                    "held": sum(len(v) for v in holds.values())}, nearest


def scored(probes, nearest, rc) -> tuple[dict, tuple, tuple]:
    """The protocol's figures: rates at the default point, and (FNIR, threshold, wrong) at
    FPIR <= 1 % and <= 0.1 %."""
    index = {id(p): i for i, p in enumerate(probes)}
    near = lambda p: nearest.get(index[id(p)])  # noqa: E731
    return (rates(probes, rc.threshold, rc.margin), sweep(probes, rc.margin, 0.01, near),
            sweep(probes, rc.margin, 0.001, near))


def row(name, probes, info, nearest, rc) -> list:
    d, (f1, t1, w1), (f01, t01, w01) = scored(probes, nearest, rc)
    return [name, f"{info['people']} ({info['enrolled']})", d["mated"], d["non"],
            f"{100 * d['fnir']:.1f} % / {100 * d['fpir']:.2f} % (t {rc.threshold})", d["wrong"],
            f"{100 * f1:.1f} % (t {t1:.3f}, wrong {w1})", f"{100 * f01:.1f} % (t {t01:.3f}, wrong {w01})"]


def refused_stress(people, photos, rc, seeds: list[int], k: int) -> tuple[list[list], list[list]]:
    """Each half's `k` gallery people nearest another enrolled employee (the lowest score of one
    of their templates against everybody else) taken out as if `kiosk enroll` had refused them
    as duplicates and HR had not forced them: their enrollment photos are look-alike holds (or,
    without holds, simply gone) and not probes; their other photos stay mated probes."""
    from kiosk.recognition.gallery import Gallery

    off = SimpleNamespace(**{**vars(rc), "lookalike_holds": False})
    rows, sums = [], {"without holds": [], "with holds": []}
    for seed in seeds:
        for half in "AB":
            subset = dict(zip("AB", split(people, seed)))[half]
            templates, _ = enroll(people, subset, photos, rc)
            ids = [p for p, es in templates.items() for _ in es]
            g = Gallery(np.stack([e for es in templates.values() for e in es.values()]), ids, **gallery_options(rc))
            close = sorted((min(g.match(e, exclude=p).score for e in es.values()), p)
                           for p, es in templates.items() if es)[:k]
            kept = {p: es for p, es in templates.items() if p not in {p for _, p in close}}
            held = {p: templates[p] for _, p in close}
            skip = {f for es in held.values() for f in es}
            for name, r in (("without holds", off), ("with holds", rc)):
                probes, info, nearest = replay(people, subset, photos, r, kept, held, skip)
                d, (f1, _, w1), (f01, _, w01) = scored(probes, nearest, r)
                sums[name].append([d["fnir"], d["fpir"], d["wrong"], f1, f01])
                rows.append([f"seed {seed} {half}" if name == "without holds" else "", name,
                             ", ".join(p for _, p in close) if name == "without holds" else "",
                             f"{100 * d['fnir']:.1f} % / {100 * d['fpir']:.2f} %", d["wrong"],
                             f"{100 * f1:.1f} % (wrong {w1})", f"{100 * f01:.1f} % (wrong {w01})"])
    means = [[name, f"{100 * np.mean([x[0] for x in v]):.1f} % / {100 * np.mean([x[1] for x in v]):.2f} %",
              int(sum(x[2] for x in v)), f"{100 * np.mean([x[3] for x in v]):.1f} %",
              f"{100 * np.mean([x[4] for x in v]):.1f} %"] for name, v in sums.items()]
    return rows, means


def small_galleries(people, photos, rc, seeds: list[int], sizes: list[int], draws: int = 3) -> list[list]:
    """Per half and gallery size N: N gallery people drawn at random from the half (``draws``
    times per seed), every one-photo person of the half as a stranger; the protocol's figures
    averaged over the draws (the default point's FPIR also as its largest)."""
    rows = []
    for half in "AB":
        rng = np.random.default_rng(1000 + ord(half))  # the same draws for every config
        for n in sizes:
            xs, wrong = [], 0
            for seed in seeds:
                sub = split(people, seed)[half == "B"]
                big = sorted(p for p in sub if len(people[p]) >= 4)
                ones = {p for p in sub if len(people[p]) == 1}
                for _ in range(draws):
                    probes, _, nearest = replay(people, set(rng.choice(big, n, replace=False)) | ones, photos, rc)
                    d, at1, at01 = scored(probes, nearest, rc)
                    xs.append((d["fnir"], d["fpir"], at1[0], at01[0]))
                    wrong += d["wrong"]
            x = 100 * np.array(xs)
            rows.append([half, n, len(xs), f"{x[:, 0].mean():.1f} % / {x[:, 1].mean():.2f} % (max {x[:, 1].max():.2f} %)",
                         wrong, f"{x[:, 2].mean():.1f} %", f"{x[:, 3].mean():.1f} %"])
    return rows


def crowds(people, photos, k: int, seed: int) -> list[tuple[str, set[str], set[str], float, float]]:
    """People grouped as dlib's descriptor groups them, to stand for an office of one population.

    k-means (k-means++ start, ``seed``) over each person's mean descriptor (every photo with one;
    people without any are left out). Each group is a subset of the protocol: its people with
    >= 4 photos are the gallery, its one-photo people the never-enrolled probes, so employees and
    strangers come from the same crowd. Beside each group, a random subset of the same numbers of
    gallery and one-photo people. Returns (label, group, random subset, and for each of the two
    the median distance from a gallery person to the nearest other one: how crowded it is)."""
    rng = np.random.default_rng(seed)
    names, means = [], []
    for p, v in people.items():
        if not (len(v) == 1 or len(v) >= 4):
            continue
        encs = [photos[str(f)][0] for f in v if photos[str(f)][0] is not None]
        if encs:
            names.append(p)
            means.append(np.mean(encs, axis=0))
    x = np.array(means, dtype=np.float64)
    centres = x[[rng.integers(len(x))]]
    while len(centres) < k:  # k-means++
        d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1).min(1)
        centres = np.vstack([centres, x[rng.choice(len(x), p=d2 / d2.sum())]])
    for _ in range(100):
        label = ((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        new = np.array([x[label == c].mean(0) if (label == c).any() else centres[c] for c in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    big = {p for p in names if len(people[p]) >= 4}
    mean_of = dict(zip(names, x))

    def crowding(subset: set[str]) -> float:
        g = np.array([mean_of[p] for p in subset if p in big])
        d = np.sqrt(((g[:, None, :] - g[None]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        return float(np.median(d.min(1)))

    out = []
    for c in np.argsort([-(label == c).sum() for c in range(k)]):
        group = {p for p, lab in zip(names, label) if lab == c}
        gal = sorted(group & big)
        if len(gal) < 2:
            continue
        ones = sorted(group - big)
        rand = set(rng.choice(sorted(big), len(gal), replace=False)) | set(
            rng.choice(sorted(set(names) - big), len(ones), replace=False))
        known = ", ".join(sorted(gal, key=lambda p: -len(people[p]))[:3]).replace("_", " ")
        out.append((f"crowd {len(out) + 1} ({known}, ...)", group, rand, crowding(group), crowding(rand)))
    return out


HEAD = ["split", "enrolled people (templates)", "mated", "non-mated", "default point: FNIR / FPIR", "wrong person",
        "FNIR at FPIR <= 1 %", "FNIR at FPIR <= 0.1 %"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "lfw-kiosk.npz")
    ap.add_argument("--refresh", action="store_true", help="analyse every photo again")
    ap.add_argument("--config", type=Path, help="extra kiosk settings (TOML) over the shipped defaults")
    ap.add_argument("--half", choices=("all", "A", "B"), nargs="+", default=["all", "A", "B"])
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--seeds", default="", help="further person splits, comma-separated (their halves A and B)")
    ap.add_argument("--sizes", default="", help="small galleries: people per gallery, comma-separated "
                    "(drawn from the halves of --seeds, or of --seed)")
    ap.add_argument("--refused", type=int, default=0, metavar="K",
                    help="stress the look-alike holds: K people per half taken out as refused duplicates")
    ap.add_argument("--crowds", type=int, default=0, metavar="K",
                    help="also K galleries of one descriptor group each, beside random galleries of the same size")
    args = ap.parse_args(argv)
    from kiosk.config import load_config

    cfg = load_config(args.config, override=Path(os.devnull))
    people = read_people(args.lfw)
    if args.cache.exists() and not args.refresh and cache_jitter(args.cache) != cfg.recognition.template_jitter:
        print(f"{args.cache} was built with template_jitter {cache_jitter(args.cache)}, the config has "
              f"{cfg.recognition.template_jitter}: analysing again", file=sys.stderr)
        args.refresh = True
    if args.refresh or not args.cache.exists():
        build_cache(people, cfg, args.jobs, args.cache)
    photos = load_cache(args.cache, args.lfw)
    rc = cfg.recognition
    print(f"bench/lfw_descriptors.py: {args.cache}; threshold {rc.threshold}, margin {rc.margin}, "
          + ", ".join(f"{k} {v}" for k, v in gallery_options(rc).items()), flush=True)
    rows, figures = [], {"A": [], "B": []}
    splits = [(args.seed, h) for h in args.half] + [(int(s), h) for s in args.seeds.split(",") if s for h in "AB"]
    for seed, half in splits:
        a, b = split(people, seed)
        subset = {"all": set(people), "A": a, "B": b}[half]
        probes, info, nearest = replay(people, subset, photos, rc)
        rows.append(row(f"seed {seed} {half}", probes, info, nearest, rc))
        if seed != args.seed:
            d = rates(probes, rc.threshold, rc.margin)
            figures[half].append([d["fnir"], d["fpir"], d["wrong"], float(rows[-1][6].split(" %")[0]) / 100,
                                  float(rows[-1][7].split(" %")[0]) / 100])
    if args.crowds:
        for label, group, rand, dense, spread in crowds(people, photos, args.crowds, args.seed):
            for name, subset, near in ((label, group, dense), ("  random, same size", rand, spread)):
                probes, info, nearest = replay(people, subset, photos, rc)
                rows.append(row(f"{name}; nearest other {near:.3f}", probes, info, nearest, rc))
    print(table(rows, HEAD))
    if args.sizes:
        seeds = [int(x) for x in args.seeds.split(",") if x] or [args.seed]
        print(f"\nSmall galleries, drawn from the halves of seeds {seeds} (means over the draws):")
        print(table(small_galleries(people, photos, rc, seeds, [int(n) for n in args.sizes.split(",")]),
                    ["half", "people", "draws", "default point: FNIR / FPIR", "wrong person (sum)",
                     "FNIR at FPIR <= 1 %", "FNIR at FPIR <= 0.1 %"]))
    if args.refused:
        seeds = [int(x) for x in args.seeds.split(",") if x] or [args.seed]
        rows_, means = refused_stress(people, photos, rc, seeds, args.refused)
        print(f"\nLook-alike holds under stress: in each half of seeds {seeds}, the {args.refused} gallery people "
              "nearest another employee taken out as refused duplicates (their enrollment photos held, not probes):")
        print(table(rows_, ["half", "", "taken out", "default point: FNIR / FPIR", "wrong person",
                            "FNIR at FPIR <= 1 %", "FNIR at FPIR <= 0.1 %"]))
        print(table(means, ["mean over the halves", "default point: FNIR / FPIR", "wrong person (sum)",
                            "FNIR at FPIR <= 1 %", "FNIR at FPIR <= 0.1 %"]))
    if figures["A"]:
        print(f"\nOver the halves of seeds {args.seeds} (A: where a rule is chosen, B: held out): "
              "mean, median and range")
        out = []
        for half, f in figures.items():
            f = np.array(f)
            pct = lambda c: (f"{100 * f[:, c].mean():.1f} / {100 * np.median(f[:, c]):.1f} "  # noqa: E731
                             f"({100 * f[:, c].min():.1f}-{100 * f[:, c].max():.1f})")
            out.append([half, pct(0), pct(1), int(f[:, 2].sum()), pct(3), pct(4)])
        print(table(out, ["halves", "default FNIR %", "default FPIR %", "wrong person (sum)", "FNIR at FPIR <= 1 %",
                          "FNIR at FPIR <= 0.1 %"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
