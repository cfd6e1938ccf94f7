"""How the screen cues' thresholds were chosen: a sweep over simulated screen replays of several seeds.

Run from the repository root (it needs the real clips outside the repository):

    python bench/screen_sweep.py [--seeds 20 21] [--strides 1 2] [--videos ../shared/videos] [--cache DIR]

Not a test. It detects faces once - the genuine clips at 15 frames/s, and the screen attack set
of bench/screen_replay.py for each seed - and for each frame rate in --strides (every frame: 15
fps, every 2nd: 7.5 fps) records per track (a) the liveness verdict *without* the screen check
(the default mode; when it would have said "live") and (b) the three screen cues' raw
measurements (kiosk/screen.py: the border's pair, closed box and lower corner at each look, the surroundings' motion per
pair of frames, the face's clipped share and brightness per frame). Then it replays the
decision for a grid of thresholds: a cue fires when its hits reach their count, the face is
refused as "screen" once `screen_cues` cues have fired - if that comes before the liveness
verdict. It prints, best first among the points that refuse no genuine track: attacks stopped
(refused as "screen" or by liveness) per rate, and the genuine tracks refused.
--min-live W... and --cue-wait W... also print the defaults with the "live" verdict held back
(for every face, or only for one on which a cue has begun: screen_wait_s).
docs/liveness.md says which point was chosen and why; check the choice on a seed that is not in
the sweep with bench/liveness.py --seed N [--fps 7.5] (its b) and e) tables), and on the real
phone replay there.

The real attack clip (../shared/videos/attacks/) is deliberately not in the sweep.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import pickle
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FPS = 15.0
HORIZON = 12.0  # a track's liveness check ends by then (max_seconds)
GRID = {
    "frame": {"min": (3.0, 3.5, 4.0, 5.0), "box": (math.inf, 1.5, 2.0, 2.5), "corner": (math.inf, 2.5, 3.0, 3.5),
              "hits": (2, 3, 5)},
    "context": {"min": (0.04, 0.06, 0.08, 0.1), "share": (0.5, 0.6, 0.7), "pairs": (2, 3, 4)},
    "glow": {"clip": (0.05, 0.1, 0.2), "ratio": (1.5, 2.0, 2.5, 3.0), "hits": (3, 5, 8)},
}


def verdict(track: list, seed: int = 0) -> tuple | None:
    """The liveness verdict (state, reason, ts) on a track of (ts, landmarks, grey frame) without
    the screen check, in the default mode; None if it stays pending."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    tr = LivenessTracker(LivenessConfig(screen_cues=0), random.Random(seed))
    for ts, lm, grey in track:
        v = tr.update(ts, lm, None, grey)
        if v.final:
            return v.state, v.reason, ts
    return None


def measure(track: list) -> dict:
    """The raw screen measurements over a track (or a whole clip: the tracking restarts where the
    face was lost); a track starting at s uses those from s on."""
    from kiosk.liveness import LivenessConfig
    from kiosk.screen import ScreenCues

    never = LivenessConfig(screen_frame_min=20.0, screen_context_min=5.0, screen_glow_clip=1.0)
    cues, border, pairs, lit, last = ScreenCues(never), [], [], [], None
    for ts, lm, grey in track:
        if last is not None and ts - last > 0.25:
            cues = ScreenCues(never)  # the face was lost: a new track
        last = ts
        cues.update(ts, grey, lm)
        b, p, g = cues.last
        if b is not None:
            border.append((ts, b.length, b.box, b.corner))
        if p is not None:
            pairs.append((ts, p.motion, p.share, p.since))
        if g is not None:
            lit.append((ts, g[0], g[1]))
    return {"border": np.array(border).reshape(-1, 4),
            "pairs": np.array(pairs).reshape(-1, 4), "glow": np.array(lit).reshape(-1, 3)}


def _kth(times: np.ndarray, k: int) -> float:
    return float(times[k - 1]) if len(times) >= k else math.inf


def hit_times(cue: str, x: np.ndarray, *th: float) -> np.ndarray:
    """When a cue hit at thresholds `th` (frame: min, box, corner; context: min, share; glow:
    clip, ratio), from its rows of measure(): the looks, or for context the pairs counted (one
    that starts after the last counted one ended, as ScreenCues counts them)."""
    if cue == "frame":
        lo, box, corner = th
        return x[(x[:, 1] >= lo) | (x[:, 2] >= box) | (x[:, 3] >= corner), 0]
    if cue == "glow":
        clip, ratio = th
        return x[(x[:, 1] >= clip) & (x[:, 2] >= ratio), 0]
    lo, share = th
    counted, until = [], -math.inf
    for ts, motion, sh, since in x:
        if motion >= lo and sh >= share and since > until:
            counted.append(ts)
            until = ts
    return np.array(counted)


def fire_times(m: dict, start: float, shipped: list[tuple]) -> dict:
    """Per cue and threshold set: when the cue fires on the track that starts at `start`; and
    ("begun", cue): its first hit at the `shipped` thresholds (the screen_wait_s rule)."""
    rows = {"frame": m["border"][m["border"][:, 0] >= start], "context": m["pairs"][m["pairs"][:, 3] >= start],
            "glow": m["glow"][m["glow"][:, 0] >= start]}
    out = {}
    for cue, grid in GRID.items():
        *thresholds, counts = grid.values()
        for th in itertools.product(*thresholds):
            times = hit_times(cue, rows[cue], *th)
            for k in counts:
                out[(cue, *th, k)] = _kth(times, k)
    for key in shipped:
        out[("begun", key[0])] = _kth(hit_times(key[0], rows[key[0]], *key[1:-1]), 1)
    return out


def shipped_cues() -> list:
    """The shipped settings: [screen_cues, frame key, context key, glow key] (keys as fire_times')."""
    from kiosk.liveness import LivenessConfig

    d = LivenessConfig()
    return [d.screen_cues, ("frame", d.screen_frame_min, d.screen_box_min or math.inf, d.screen_corner_min or math.inf,
                            d.screen_frame_hits),
            ("context", d.screen_context_min, d.screen_context_share, d.screen_context_pairs),
            ("glow", d.screen_glow_clip, d.screen_glow_ratio, d.screen_glow_hits)]


def holding_cues() -> set[str]:
    """The cues the shipped settings let hold a face alone (screen_hold; the glow only with
    screen_glow_holds), as kiosk.liveness.LivenessTracker._holds."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    tracker = LivenessTracker(LivenessConfig(screen_cues=0))
    return {cue for cue in GRID if tracker._holds(cue)}


def outcomes(rows: list[tuple[dict, tuple | None, float]]):
    """rows: (fire times, liveness verdict without screen (state, reason, ts) or None, track start).
    Returns the keys of the three cues' grids and, per cue, an array (tracks x settings) of fire
    times relative to the verdict: <= 0 means the cue fired before (or without) any verdict."""
    keys = {cue: [k for k in rows[0][0] if k[0] == cue] for cue in GRID} if rows else {}
    rel = {}
    for cue, ks in keys.items():
        a = np.full((len(rows), len(ks)), math.inf)
        for i, (ft, verdict, start) in enumerate(rows):
            end = verdict[2] if verdict else start + HORIZON
            for j, k in enumerate(ks):
                t = ft[k]
                a[i, j] = t - end if t <= start + HORIZON else math.inf
        rel[cue] = a
    return keys, rel


def wait_table(per_rate: dict, keys: list[tuple], need: int, waits: list[float], rule: str) -> None:
    """The defaults' cues (`keys`, `need` of them to refuse; one of holding_cues() holds) with the "live" verdict
    waiting W seconds: rule "min-live" - not declared before W s into the track, for every face;
    rule "cue-wait" (screen_wait_s) - W s more, only when a cue had begun (a hit, not enough to
    fire) by the verdict. A cue that fires while the verdict waits holds or refuses the face. Per
    rate: attacks accepted / refused as screen; genuine refused / held, genuine delayed, live
    within 2 s and the median time to live of the genuine tracks accepted."""
    what = {"min-live": "\"live\" not before W s into the track",
            "cue-wait": "\"live\" waits W s more when a cue has begun (screen_wait_s)"}[rule]
    holding = holding_cues()
    print(f"{what}, the defaults' cues ({need} to refuse; one alone holds: "
          f"{', '.join(k[0] for k in keys if k[0] in holding) or 'none'}):")
    print(f"   {'W s':>5s}  " + "  ".join(f"{FPS / s:g} fps: attacks live / screen, genuine screen / held / delayed / "
                                          f"live <= 2 s / median s" for s in per_rate))
    for wait in waits:
        cells = []
        for stride, (genuine, attacks) in per_rate.items():
            def run(rows):
                live, screen, held, delayed, times = 0, 0, 0, 0, []
                for ft, v, start in rows:
                    fired = sorted(ft[k] for k in keys)
                    at = {k[0]: ft[k] for k in keys}
                    hold = min((t for cue, t in at.items() if cue in holding), default=math.inf)
                    if v is not None and v[0] == "live":
                        if rule == "min-live":
                            end = max(v[2], start + wait)
                        else:  # as LivenessTracker._live: the cues begun that could change the outcome
                            begun = [cue for cue in at if ft[("begun", cue)] <= v[2] < at[cue]]
                            if sum(t <= v[2] for t in at.values()) + len(begun) < need:
                                begun = [cue for cue in begun if cue in holding]
                            end = v[2] + wait if begun and hold > v[2] else v[2]
                        delayed += end > v[2]
                    else:
                        end = v[2] if v is not None else start + HORIZON
                    if fired[need - 1] <= end:
                        screen += 1
                    elif v is not None and v[0] == "live" and hold <= end:
                        held += 1
                    elif v is not None and v[0] == "live":
                        live += 1
                        times.append(end - start)
                return live, screen, held, delayed, times
            a_live, a_screen, _, _, _ = run(attacks)
            _, g_screen, g_held, g_delayed, times = run(genuine)
            fast = sum(t <= 2.0 for t in times)
            cells.append(f"{a_live:3d} / {a_screen:3d} of {len(attacks)}, {g_screen} / {g_held} / {g_delayed} / "
                         f"{100 * fast / max(len(genuine), 1):3.0f} % of {len(genuine)} / "
                         f"{float(np.median(times)) if times else float('nan'):4.2f}")
        print(f"   {wait:5.2f}  " + "  ".join(cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--seeds", type=int, nargs="+", default=[20, 21])
    ap.add_argument("--strides", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--cache", type=Path, help="keep the measurements here (the landmarks: re-runs skip the detection)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--cues", type=int, nargs="+", default=[1, 2], help="the screen_cues values to try")
    ap.add_argument("--min-live", type=float, nargs="*", default=[],
                    help="also: the defaults with 'live' not declared before each of these seconds into the track")
    ap.add_argument("--cue-wait", type=float, nargs="*", default=[],
                    help="also: the defaults with 'live' waiting each of these seconds more when a cue has begun "
                         "(screen_wait_s; the verdicts replayed here do not wait)")
    a = ap.parse_args()

    from liveness import grey, read_clip
    from screen_replay import attack_set

    from kiosk.recognition.faces import models
    from kiosk.recognition.pipeline import choose_face

    m = models()
    m.load_all()

    def landmarks(name: str, frames_ts) -> list:
        """(ts, landmarks) of the frames with a face - detected once, kept in --cache (the
        frames themselves are made again: the clips are read, the attack set is deterministic)."""
        path = a.cache / f"landmarks-{name}.pkl" if a.cache else None
        if path is not None and path.exists():
            return pickle.loads(path.read_bytes())
        out = []
        for ts, fr in frames_ts:
            box = choose_face(m.detect(fr, 320, 0), fr.shape[1], fr.shape[0])
            if box is not None:
                out.append((ts, m.shape68(fr, box)))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(out))
        return out

    def detected(name: str, frames_ts) -> list:
        """(ts, landmarks, grey frame) of the frames with a face."""
        frames_ts = list(frames_ts)
        by_ts = {ts: fr for ts, fr in frames_ts}
        return [(ts, lm, grey(by_ts[ts])) for ts, lm in landmarks(name, frames_ts)]

    clips = {p.name: read_clip(p) for p in sorted(a.videos.iterdir()) if p.suffix in (".mp4", ".avi")}

    located: dict = {}

    def locate(fr):
        key = hashlib.sha1(fr.tobytes()).hexdigest()
        if key not in located:
            b = choose_face(m.detect(fr, 640, 0), fr.shape[1], fr.shape[0])
            located[key] = None if b is None else ((b.left + b.right) / 2, (b.top + b.bottom) / 2, b.width)
        return located[key]

    # measurements per rate: genuine clips (tracks start every 0.5 s) and the attack sets (made at
    # 15 frames/s; at 7.5 every 2nd frame of the same track, as bench/liveness_sweep.py does)
    per_rate = {stride: ([], []) for stride in a.strides}
    defaults = shipped_cues()
    verdicts = {}  # the verdicts without the screen check do not change with the cues: kept too
    vpath = a.cache / "verdicts.pkl" if a.cache else None
    if vpath is not None and vpath.exists():
        verdicts = pickle.loads(vpath.read_bytes())

    def verdict_of(key: tuple, track: list, seed: int = 0):
        if key not in verdicts:
            verdicts[key] = verdict(track, seed)
        return verdicts[key]

    for name, (frames, fps_in) in clips.items():
        step = max(1, round(fps_in / FPS))
        full = detected(f"genuine-{name}", ((i / fps_in, frames[i]) for i in range(0, len(frames), step)))
        dur = len(frames) / fps_in
        for stride in a.strides:
            seq = full[::stride]
            mm = measure(seq)
            for k, s in enumerate(np.arange(0.0, max(0.5, dur - 2.0), 0.5)):
                track = [x for x in seq if x[0] >= s]
                if track:
                    per_rate[stride][0].append((fire_times(mm, s, defaults[1:]), verdict_of((name, stride, k), track, k), s))
    for seed in a.seeds:
        for n, (name, kind, start, gen) in enumerate(attack_set(random.Random(seed), clips, locate, a.seconds, FPS)):
            full = detected(f"screen-{seed}-{n}", gen)
            for stride in a.strides:
                track = full[::stride]
                if len(track) >= 5:
                    per_rate[stride][1].append((fire_times(measure(track), track[0][0], defaults[1:]),
                                                verdict_of((seed, n, stride), track), track[0][0]))
    if vpath is not None:
        vpath.write_bytes(pickle.dumps(verdicts))
    for stride, (genuine, attacks) in per_rate.items():
        print(f"{FPS / stride:g} frames/s: {len(genuine)} genuine tracks, {len(attacks)} screen attack tracks "
              f"(seeds {a.seeds}); liveness alone accepts {sum(1 for _, v, _ in attacks if v and v[0] == 'live')} "
              f"of the attacks", flush=True)

    if a.min_live:
        wait_table(per_rate, defaults[1:], defaults[0], [0.0, *a.min_live], "min-live")
    if a.cue_wait:
        wait_table(per_rate, defaults[1:], defaults[0], [0.0, *a.cue_wait], "cue-wait")
    # every combination of the three cues' settings and screen_cues
    results = []
    tables = {}
    for stride, (genuine, attacks) in per_rate.items():
        tables[stride] = (outcomes(genuine), outcomes(attacks), attacks)
    keys = tables[a.strides[0]][0][0]
    holding = [cue for cue in GRID if cue in holding_cues()]

    def first_hold(rel: dict, js: tuple) -> np.ndarray:
        """Per track: when the first cue that holds alone fired (the glow only with screen_glow_holds)."""
        cols = [rel[cue][:, j] for cue, j in zip(GRID, js) if cue in holding]
        return np.min(np.stack(cols + [np.full(len(rel["frame"]), math.inf)], axis=1), axis=1)

    for need in a.cues:
        for jf, jc, jg in itertools.product(range(len(keys["frame"])), range(len(keys["context"])), range(len(keys["glow"]))):
            row = [need, keys["frame"][jf], keys["context"][jc], keys["glow"][jg]]
            cells, bad = [], 0
            for stride in a.strides:
                (_, g_rel), (_, a_rel), attacks = tables[stride]
                def screen_at(rel):
                    t = np.sort(np.stack([rel["frame"][:, jf], rel["context"][:, jc], rel["glow"][:, jg]], axis=1), axis=1)
                    return t[:, need - 1]
                g_fp = int(np.sum(screen_at(g_rel) <= 0))
                g_held = int(np.sum(first_hold(g_rel, (jf, jc, jg)) <= 0))
                at = screen_at(a_rel)
                first = first_hold(a_rel, (jf, jc, jg))
                live = np.array([bool(v and v[0] == "live") for _, v, _ in attacks])
                accepted = int(np.sum(live & (at > 0)))
                refused = int(np.sum(at <= 0))
                held = int(np.sum(live & (at > 0) & (first <= 0)))  # a cue that holds fired before the live verdict
                bad += g_fp
                cells.append((g_fp, accepted, refused, len(attacks), held, g_held))
            results.append((bad, sum(c[1] for c in cells), -sum(c[2] for c in cells), row, cells))
    results.sort(key=lambda r: r[:3])
    print("genuine refused | per rate: attacks accepted as live (of which one cue had fired first), refused as "
          "screen (of N), genuine refused (genuine with one cue fired first) | screen_cues; frame (min, box, corner, hits); "
          "context (min, share, pairs); glow (clip, ratio, hits)")
    # the defaults, and the defaults without each of the border's shorter forms, for comparison
    no_corner = [defaults[0], defaults[1][:3] + (math.inf,) + defaults[1][4:], *defaults[2:]]
    no_box = [defaults[0], defaults[1][:2] + (math.inf,) + defaults[1][3:], *defaults[2:]]
    named = {str(defaults): "   <- the defaults", str(no_corner): "   <- the defaults without the lower corner",
             str(no_box): "   <- the defaults without the closed box"}
    for rank, (bad, _, _, row, cells) in enumerate(results):
        if rank < a.top or str(row) in named:
            per = "  ".join(f"{FPS / s:g} fps: live {c[1]:3d} ({c[4]:2d}) screen {c[2]:3d} of {c[3]} genuine {c[0]} "
                            f"({c[5]})" for s, c in zip(a.strides, cells))
            print(f"  {bad:3d} | {per} | {row[0]}; {row[1][1:]}; {row[2][1:]}; {row[3][1:]}" + named.get(str(row), ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
