"""The screen cues' cost, one version of kiosk/screen.py against another, on the same frames.

Run from the repository root (it needs the real clips outside the repository):

    git show main:kiosk/screen.py > /tmp/screen_main.py
    python bench/screen_ab.py --old /tmp/screen_main.py [--new kiosk/screen.py] [--fps 7.5] [--reps 3]

    git show main:kiosk/liveness.py > /tmp/liveness_main.py     # the rest of the liveness tracker
    python bench/screen_ab.py --tracker --old /tmp/liveness_main.py [--new kiosk/liveness.py]

Not a test. The faces of every genuine clip in --videos are detected once at --fps (the frames
the kiosk would analyse; kept in --cache), then both versions' `ScreenCues.update` run on each
frame in turn, taking turns at going first (the first reads the frame into the CPU's cache).
It prints the median and mean per frame of each and their ratio, and checks that both give the
same measurements on every frame (border, surroundings' motion, glow) and the same scores per
clip: a change meant only to be faster must not change what the kiosk decides.
With --tracker the two are versions of kiosk/liveness.py and what runs is LivenessTracker.update
without the screen cues (screen_cues = 0; a tracker that reaches a verdict starts over, as in
bench/liveness.py's part c): its verdict and surface pair must be the same on every frame.
bench/liveness.py --only c gives the cost against recognition's.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def frames_with_faces(videos: Path, fps: float, cache: Path) -> dict[str, list]:
    """Per clip, (ts, 68 landmarks, grey frame) of the frames the kiosk analyses at `fps`."""
    path = cache / f"screen-ab-{fps:g}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from liveness import _landmarks_of, grey, read_clip

    from kiosk.recognition.faces import models

    m = models()
    m.load_all()
    seqs = {}
    for clip in sorted(p for p in videos.iterdir() if p.suffix in (".mp4", ".avi")):
        frames, fps_in = read_clip(clip)
        seq = []
        for i in range(0, len(frames), max(1, round(fps_in / fps))):
            _, lm = _landmarks_of(m, frames[i], 320)
            if lm is not None:
                seq.append((i / fps_in, lm, grey(frames[i])))
        seqs[clip.name] = seq
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(seqs))
    return seqs


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class TrackerRun:
    """One version of kiosk/liveness.py's LivenessTracker over a clip, without the screen cues,
    started over after each verdict; `last` is this frame's verdict and surface pair."""

    def __init__(self, mod):
        from dataclasses import replace

        self.mod, self.cfg, self.n = mod, replace(mod.LivenessConfig(), screen_cues=0), 0
        self.tracker, self.last, self.verdicts = mod.LivenessTracker(self.cfg, random.Random(0)), None, []

    def update(self, ts, grey, lm) -> None:
        v = self.tracker.update(ts, lm, None, grey)
        self.last = (v, self.tracker.last_pair)
        self.n += 1
        if v.state != "pending":
            self.verdicts.append(v)
            self.tracker = self.mod.LivenessTracker(self.cfg, random.Random(self.n))

    def scores(self) -> list:
        return [(v.state, v.reason, v.scores) for v in self.verdicts]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="the baseline kiosk/screen.py (a copy; kiosk/liveness.py with --tracker)")
    ap.add_argument("--new", type=Path, help="the version to measure (default kiosk/screen.py, or kiosk/liveness.py "
                                              "with --tracker)")
    ap.add_argument("--tracker", action="store_true", help="compare kiosk/liveness.py versions: LivenessTracker "
                                                           "without the screen cues")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--reps", type=int, default=3, help="passes over all clips")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache")
    a = ap.parse_args()

    from kiosk.liveness import LivenessConfig

    seqs = frames_with_faces(a.videos, a.fps, a.cache)
    what = "liveness" if a.tracker else "screen"
    old, new = load(f"{what}_old", a.old), load(f"{what}_new", a.new or ROOT / "kiosk" / f"{what}.py")
    times: tuple[list, list] = ([], [])
    frames_differ, clips_differ = 0, []
    for rep in range(a.reps):
        for name, seq in seqs.items():
            if a.tracker:
                runs = (TrackerRun(old), TrackerRun(new))
            else:
                cfg = LivenessConfig(mode="passive")
                runs = (old.ScreenCues(cfg), new.ScreenCues(cfg))
            for k, (ts, lm, g) in enumerate(seq):
                for w in ((0, 1) if k % 2 else (1, 0)):
                    t = time.perf_counter()
                    runs[w].update(ts, g, lm)
                    times[w].append(time.perf_counter() - t)
                if rep == 0 and repr(runs[0].last) != repr(runs[1].last):
                    frames_differ += 1
            if rep == 0 and runs[0].scores() != runs[1].scores():
                clips_differ.append(name)
    med = [statistics.median(t) * 1000 for t in times]
    mean = [statistics.mean(t) * 1000 for t in times]
    print(f"{'LivenessTracker.update (no screen cues)' if a.tracker else 'ScreenCues.update'} at {a.fps:g} frames/s, "
          f"{len(times[0])} frames ({len(seqs)} clips x {a.reps}), taking turns on each frame")
    print(f"   {'version':10s} {'median ms':>10s} {'mean ms':>9s}")
    for label, i in (("old", 0), ("new", 1)):
        print(f"   {label:10s} {med[i]:10.3f} {mean[i]:9.3f}")
    print(f"   new / old  {med[1] / med[0]:10.3f} {mean[1] / mean[0]:9.3f}")
    n = sum(len(s) for s in seqs.values())
    print(f"   frames whose measurements differ: {frames_differ} of {n}; clips whose scores differ: "
          f"{len(clips_differ)} {clips_differ or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
