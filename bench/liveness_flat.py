"""What the prints' flat-motion verdicts also held: how much live evidence came with them.

Run from the repository root (it needs the real photos and clips outside the repository):

    python bench/liveness_flat.py [--seeds 8 9 10 11] [--jobs 2] [--genuine]

Not a test. The print attacks of bench/liveness.py (`print_frames`: 120 prints of photos and 48
of clip stills per seed, 8 s at 15 frames/s, through the real detector and landmarks; the same
tracks every second frame for 7.5 frames/s) go through the LivenessTracker in the default mode,
and each flat-motion verdict (`flat_motion`, or `mixed_motion` where the live evidence was full)
is counted by the live evidence it also had (live pairs + `parallax_pairs` per confirmed blink).
A verdict with `mixed_live_pairs` of it is what kiosk/liveness.py turns into a retry without an
HR case (docs/liveness.md, "Fairness to employees"): the table says how many prints that spares
an accusation (they are refused either way).

With --genuine, the other side: every genuine track of the real clips (one starting every 0.5 s,
until 2 s before the end, 15 frames/s, the default mode) with the frames as they are and as a
softer camera would give them - `soft2` (halved and enlarged back), `blur1.5` (Gaussian, sigma
1.5 px), `up` (enlarged to 640 px wide, as bench/visit.py fed the clips before 2026-12-01) - and as
a darker picture would give them - `stop1` (one stop less light, in linear light: a dim lobby),
`gamma1.6` (the shadows pressed down more than the highlights: a backlit face, darker skin in a
camera exposing for the room) - and each flat-motion verdict on a real face counted the same way:
what the rule spares genuine people.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def evidence(scores: dict, cfg) -> int:
    """The live evidence a verdict's scores hold, as LivenessTracker counts it (live pairs +
    parallax_pairs per confirmed blink)."""
    return scores.get("parallax_pairs", 0) + cfg.parallax_pairs * scores.get("blinks", 0) // cfg.blinks_needed


def by_evidence(evs, full: int, width: int) -> str:
    """A row of counts of flat verdicts by their live evidence (0, 1, ..., >= full)."""
    flat = Counter(min(ev, full) for ev in evs)
    return "  ".join(f"{k if k < full else f'>= {full}'}: {flat.get(k, 0):{width}d}" for k in range(full + 1))


def verdicts(seed: int, faces: Path, videos: Path) -> list[tuple[float, str, str | None, int]]:
    """(frames/s, state, reason, live evidence) per print track of one seed."""
    from liveness import _landmarks_of, attack_photos, clip_stills, grey, print_frames, read_clip, run_modes

    from kiosk.liveness import LivenessConfig
    from kiosk.recognition.faces import models

    m = models()
    m.load_all()
    photos = attack_photos(m, faces)
    stills = clip_stills(m, {p.name: read_clip(p) for p in sorted(videos.iterdir()) if p.suffix in (".mp4", ".avi")})
    rng = random.Random(seed)  # prints first, then stills, as bench/liveness.py draws them
    gens = [(i, print_frames(rng, *photos[i % len(photos)][1:], 8.0, 15.0)) for i in range(120)]
    gens += [(500 + i, print_frames(rng, *stills[i % len(stills)][1:], 8.0, 15.0)) for i in range(48)]
    cfg = LivenessConfig()  # the shipped liveness, screen cues included
    out = []
    for i, gen in gens:
        track = []
        for ts, fr in gen:
            _, lm = _landmarks_of(m, fr, 320)
            if lm is not None:
                track.append((ts, lm, grey(fr)))
        for stride in (1, 2):
            if track[::stride]:
                state, reason, _, _, s = run_modes(track[::stride], i, 9.0, modes=("passive_then_challenge",))[
                    "passive_then_challenge"]
                out.append((15.0 / stride, state, reason, evidence(s, cfg)))
    return out


SOFTER = ("none", "soft2", "blur1.5", "up", "stop1", "gamma1.6")
FLAT = ("flat_motion", "mixed_motion")  # the verdicts of flat evidence, accused or not


def soften(frame, kind: str):
    """The frame as a softer camera would give it (see the module's doc)."""
    import cv2

    h, w = frame.shape[:2]
    if kind == "soft2":
        small = cv2.resize(frame, (round(w / 2), round(h / 2)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "blur1.5":
        return cv2.GaussianBlur(frame, (0, 0), 1.5)
    if kind == "up":
        return cv2.resize(frame, (640, round(h * 640 / w)), interpolation=cv2.INTER_LINEAR)
    if kind in ("stop1", "gamma1.6"):  # darker: bench/clip_variants.py's variants of the same names
        from clip_variants import variant

        return variant(frame, kind)
    return frame


def genuine_verdicts(clip: Path, kinds=SOFTER) -> list[tuple[str, str, float, str, str | None, int]]:
    """(kind, clip, start s, state, reason, live evidence) per genuine track of one clip."""
    import numpy as np
    from liveness import _landmarks_of, grey, read_clip, run_modes

    from kiosk.liveness import LivenessConfig
    from kiosk.recognition.faces import models

    m = models()
    m.load_all()
    cfg = LivenessConfig()
    frames, fps_in = read_clip(clip)
    stride = max(1, round(fps_in / 15.0))
    out = []
    for kind in kinds:
        seq = []
        for i in range(0, len(frames), stride):
            fr = soften(frames[i], kind)
            _, lm = _landmarks_of(m, fr, 320)
            if lm is not None:
                seq.append((i / fps_in, lm, grey(fr)))
        for k, s0 in enumerate(np.arange(0.0, max(0.5, len(frames) / fps_in - 2.0), 0.5)):
            track = [x for x in seq if x[0] >= s0]
            if track:
                state, reason, _, _, s = run_modes(track, 1000 + k, 12.0, modes=("passive_then_challenge",))[
                    "passive_then_challenge"]
                out.append((kind, clip.name, float(s0), state, reason, evidence(s, cfg)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[8, 9, 10, 11], help="print seeds (none: skip prints)")
    ap.add_argument("--genuine", action="store_true", help="also the genuine clips, as they are and softened")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    clips = sorted(p for p in a.videos.iterdir() if p.suffix in (".mp4", ".avi")) if a.genuine else []
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = [r for rs in pool.map(verdicts, a.seeds, [a.faces] * len(a.seeds), [a.videos] * len(a.seeds))
                for r in rs]
        real = [r for rs in pool.map(genuine_verdicts, clips) for r in rs]
    from kiosk.liveness import LivenessConfig

    full = LivenessConfig().parallax_pairs
    mixed = LivenessConfig().mixed_live_pairs
    if real:
        print(f"genuine tracks of {len(clips)} clips at 15 frames/s, default mode, by picture; flat-motion verdicts "
              f"by the live evidence they also had ({mixed} or more: mixed_motion, a retry, no HR case)")
        for kind in SOFTER:
            rs = [r for r in real if r[0] == kind]
            cells = by_evidence((ev for *_, reason, ev in rs if reason in FLAT), full, 3)
            print(f"   {kind:8s} {len(rs):4d} tracks, live {sum(r[3] == 'live' for r in rs):4d}, refused as flat_motion "
                  f"(an HR case) {sum(r[4] == 'flat_motion' for r in rs):2d}; flat verdicts {cells}   "
                  + " ".join(f"{c}@{s0:g}s:{ev}" for _, c, s0, _, reason, ev in rs if reason in FLAT))
    if not a.seeds:
        return 0
    print(f"print attacks of seeds {a.seeds}: {len(rows)} tracks (both rates), accepted as live: "
          f"{sum(st == 'live' for _, st, _, _ in rows)}")
    print(f"flat_motion verdicts by the live evidence they also had ({mixed} or more: a retry, no HR case)")
    for fps in (15.0, 7.5):
        evs = [ev for f, st, reason, ev in rows if f == fps and reason in FLAT]
        print(f"   {fps:4g} frames/s, {len(evs):4d} verdicts   {by_evidence(evs, full, 4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
