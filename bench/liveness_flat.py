"""What the prints' flat-motion verdicts also held: how much live evidence came with them.

Run from the repository root (it needs the real photos and clips outside the repository):

    python bench/liveness_flat.py [--seeds 8 9 10 11] [--jobs 2]

Not a test. The print attacks of bench/liveness.py (`print_frames`: 120 prints of photos and 48
of clip stills per seed, 8 s at 15 frames/s, through the real detector and landmarks; the same
tracks every second frame for 7.5 frames/s) go through the LivenessTracker in the default mode,
and each flat-motion verdict (`flat_motion`, or `mixed_motion` where the live evidence was full)
is counted by the live evidence it also had (live pairs + `parallax_pairs` per confirmed blink).
A verdict with a full `parallax_pairs` of it is what kiosk/liveness.py now turns into a retry
without an HR case (docs/liveness.md, "Fairness to employees"): the table says how many prints
that spares an accusation (they are refused either way).
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
                out.append((15.0 / stride, state, reason,
                            s.get("parallax_pairs", 0) + cfg.parallax_pairs * s.get("blinks", 0) // cfg.blinks_needed))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[8, 9, 10, 11])
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = [r for rs in pool.map(verdicts, a.seeds, [a.faces] * len(a.seeds), [a.videos] * len(a.seeds))
                for r in rs]
    from kiosk.liveness import LivenessConfig

    full = LivenessConfig().parallax_pairs
    print(f"print attacks of seeds {a.seeds}: {len(rows)} tracks (both rates), accepted as live: "
          f"{sum(st == 'live' for _, st, _, _ in rows)}")
    print(f"flat_motion verdicts by the live evidence they also had ({full} or more: a retry, no HR case)")
    for fps in (15.0, 7.5):
        flat = Counter(min(ev, full) for f, st, reason, ev in rows if f == fps and reason in ("flat_motion", "mixed_motion"))
        cells = "  ".join(f"{k if k < full else f'>= {full}'}: {flat.get(k, 0):4d}" for k in range(full + 1))
        print(f"   {fps:4g} frames/s, {sum(flat.values()):4d} verdicts   {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
