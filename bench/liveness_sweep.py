"""How the surface check's thresholds were chosen: a sweep over attack sets of several seeds.

Run from the repository root (it needs the real clips and photos outside the repository):

    python bench/liveness_sweep.py [--seeds 8 9 10 11] [--strides 1 2 3] [--videos ../shared/videos] [--faces ../shared/faces]

Not a test. It detects faces once (genuine clips at 15 frames/s, and the print attacks of
bench/liveness.py for each seed), then for each frame rate in --strides (every frame: 15 fps,
every 2nd: 7.5 fps, every 3rd: 5 fps - a Raspberry Pi recognises somewhere in that range; not
measured, there is no Pi here) runs a LivenessTracker that only measures (its SurfaceFlow and
blink check; bench/liveness.py's `observer`) over every track once, replays the pairs and
confirmed blinks through the passive decision (live pairs and blinks against flat pairs; no
challenges) for a grid of thresholds, and prints, best first: prints accepted (all seeds and
rates) and, per rate, genuine tracks accepted within 5 s. docs/liveness.md says which point was
chosen and why; check the choice on a seed that is not in the sweep with bench/liveness.py
--seed N [--fps 7.5]. ``--speed``: how soon the genuine clips reach "live", as shipped and with a
stronger tier of live pairs added (a question, not a setting of the tracker), and how many prints
each accepts (``--prints 0 --stills 0``: the genuine clips alone, in seconds).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FPS = 15.0


def surface_pairs(track) -> tuple[list[tuple[float, float, float, float]], list[float]]:
    """(ts, parallax, motion, start) of every pair of a track of (ts, landmarks, grey frame), and
    the times of its confirmed blinks."""
    from liveness import observer

    tracker, out, blinks = observer(), [], []
    for ts, lm, grey in track:
        seen = tracker.blinks
        tracker.update(ts, lm, None, grey)
        p = tracker.last_pair
        if p is not None:
            out.append((ts, p.parallax, p.motion, p.since))
        if tracker.blinks > seen:
            blinks.append(ts)
    return out, blinks


def decide(pairs, blinks, live_t, ratio, live_n, flat_n, share, flat_motion=0.03, flat_max=0.015,
           strong=None):
    """The passive decision of LivenessTracker: a live pair counts only if it starts after the
    last counted one ended (pairs overlap); a blink is worth live_n live pairs. `strong` =
    (parallax, n): a tier that is NOT in the tracker, for --speed: "live" also after n
    non-overlapping pairs of at least that parallax."""
    events = sorted([(ts, parallax, motion, since, False) for ts, parallax, motion, since in pairs]
                    + [(ts, 0.0, 0.0, ts, True) for ts in blinks])
    live = flat = n_blinks = n_strong = 0
    live_until = strong_until = -1e9
    for ts, parallax, motion, since, blink in events:
        if blink:
            n_blinks += 1
        elif parallax >= live_t and parallax >= ratio * motion:
            if since > live_until:
                live, live_until = live + 1, ts
            if strong and parallax >= strong[0] and since > strong_until:
                n_strong, strong_until = n_strong + 1, ts
        elif motion >= flat_motion and parallax <= flat_max:
            flat += 1
        evidence = live + live_n * n_blinks
        if flat >= flat_n and evidence <= share * flat:
            return "spoof", ts
        if evidence > share * flat and (n_blinks or live >= live_n or (strong and n_strong >= strong[1])):
            return "live", ts
    return "pending", None


def genuine_trials(genuine: dict, k: int):
    """Every genuine track of stride k: one starting every 0.5 s of each clip that has 5 s left
    (a clip ending sooner is not a fair trial); (its pairs, its confirmed blinks, start)."""
    for dur, by_stride in genuine.values():
        pairs, blinks = by_stride[k]
        for s in np.arange(0.0, max(0.5, dur - 2.0), 0.5):
            if dur - s >= 5.0:
                yield [p for p in pairs if p[3] >= s], [b for b in blinks if b >= s + 0.5], s


def speed(genuine: dict, strides: list[int], tiers: list[tuple[float, int] | None], attacks: dict) -> None:
    """How soon genuine tracks (every 0.5-s start with 5 s of clip left) reach "live" under the
    shipped passive decision and with a stronger tier added (not in the tracker), and how many
    print tracks of `attacks` each accepts (all seeds, per rate)."""
    from kiosk.liveness import LivenessConfig

    c = LivenessConfig()
    shipped = (c.parallax_live, c.parallax_ratio, c.parallax_pairs, c.flat_pairs, c.flat_live_share)
    print("genuine tracks live within 2 s / 5 s, median seconds to live; prints accepted (all seeds) | tier "
          f"added to the shipped {c.parallax_live:g} x {c.parallax_pairs} pairs (none = shipped)")
    for tier in tiers:
        cells = []
        for k in strides:
            t2 = t5 = n = 0
            times = []
            for pairs, blinks, s in genuine_trials(genuine, k):
                n += 1
                state, t = decide(pairs, blinks, *shipped, strong=tier)
                if state == "live":
                    t2, t5 = t2 + (t - s <= 2), t5 + (t - s <= 5)
                    times.append(t - s)
            med = f"{np.median(times):.2f}" if times else "-"
            acc = sum(decide(*t[k], *shipped, strong=tier)[0] == "live"
                      for tracks in attacks.values() for t in tracks)
            n_att = sum(len(tracks) for tracks in attacks.values())
            cells.append(f"{FPS / k:g} fps {100 * t2 / n:3.0f} % / {100 * t5 / n:3.0f} %, {med} s; "
                         f"prints {acc} of {n_att}")
        label = "none" if tier is None else f"{tier[0]:g} x {tier[1]}"
        print(f"  {label:>9} | " + " | ".join(cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--seeds", type=int, nargs="+", default=[8, 9, 10, 11])
    ap.add_argument("--prints", type=int, default=120)
    ap.add_argument("--stills", type=int, default=48)
    ap.add_argument("--strides", type=int, nargs="+", default=[1, 2, 3],
                    help="feed every Nth frame of the 15 fps tracks (1, 2, 3 = 15, 7.5, 5 fps)")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--speed", action="store_true",
                    help="how soon genuine tracks reach live, shipped and with a stronger tier added, and the prints each accepts")
    a = ap.parse_args()

    from liveness import _landmarks_of, attack_photos, grey, print_frames, read_clip

    from kiosk.recognition.faces import models

    m = models()
    m.load_all()
    genuine, clips = {}, {}
    for clip in sorted(p for p in a.videos.iterdir() if p.suffix in (".mp4", ".avi")):
        frames, fps_in = read_clip(clip)
        clips[clip.name] = frames
        track = []
        for i in range(0, len(frames), max(1, round(fps_in / FPS))):
            _, lm = _landmarks_of(m, frames[i], 320)
            if lm is not None:
                track.append((i / fps_in, lm, grey(frames[i])))
        genuine[clip.name] = (len(frames) / fps_in, {k: surface_pairs(track[::k]) for k in a.strides})
    photos = [(im, box) for _, im, box in attack_photos(m, a.faces)]
    stills = []
    for frames in clips.values():
        for k in np.linspace(0, len(frames) - 1, 8).astype(int):
            faces = m.detect(frames[k], 640, 0)
            if len(faces) == 1:
                stills.append((frames[k], tuple(faces[0].as_list())))
    attacks = {}
    for seed in a.seeds:
        rng = random.Random(seed)  # the same tracks as bench/liveness.py --seed SEED
        sources = [photos[i % len(photos)] for i in range(a.prints)] + [stills[i % len(stills)] for i in range(a.stills)]
        tracks = []
        for im, box in sources:
            track = []
            for ts, fr in print_frames(rng, im, box, 8.0, FPS):
                _, lm = _landmarks_of(m, fr, 320)
                if lm is not None:
                    track.append((ts, lm, grey(fr)))
            tracks.append({k: surface_pairs(track[::k]) for k in a.strides})
        attacks[seed] = tracks
        print(f"seed {seed}: {len(tracks)} print tracks", flush=True)
    if a.speed:
        speed(genuine, a.strides, [None, (0.12, 2), (0.14, 2), (0.16, 2), (0.2, 1), (0.25, 1)], attacks)
        return 0

    rows = []
    for live_t, ratio, live_n, flat_n, share in itertools.product(
            (0.08, 0.1, 0.12, 0.14), (2.0, 3.0), (2, 3, 4), (6, 8), (0.5, 1.0)):
        gen = {}
        for k in a.strides:
            ok = n = refused = 0
            for pairs, blinks, s in genuine_trials(genuine, k):
                n += 1
                state, t = decide(pairs, blinks, live_t, ratio, live_n, flat_n, share)
                ok += state == "live" and t - s <= 5
                refused += state == "spoof" and t - s <= 5
            gen[k] = (ok, n, refused)
        acc = {(seed, k): sum(decide(*t[k], live_t, ratio, live_n, flat_n, share)[0] == "live" for t in tracks)
               for seed, tracks in attacks.items() for k in a.strides}
        rows.append((sum(acc.values()), -gen[a.strides[0]][0], acc, gen, (live_t, ratio, live_n, flat_n, share)))
    rows.sort(key=lambda r: r[:2])
    print("prints accepted (all seeds and rates) | per rate: genuine within 5 s, refused | parallax_live "
          "parallax_ratio parallax_pairs flat_pairs flat_live_share")
    for total, _, acc, gen, params in rows[:a.top]:
        cells = "  ".join(f"{FPS / k:g} fps {100 * ok / max(n, 1):3.0f} % of {n} ({ref})"
                          for k, (ok, n, ref) in gen.items())
        print(f"{total:3d} | {cells} | " + " ".join(map(str, params)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
