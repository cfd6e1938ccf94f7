"""The screen cues' cost, one version of kiosk/screen.py against another, on the same frames.

Run from the repository root (it needs the real clips outside the repository):

    git show main:kiosk/screen.py > /tmp/screen_main.py
    python bench/screen_ab.py --old /tmp/screen_main.py [--new kiosk/screen.py] [--fps 7.5] [--reps 3]

Not a test. The faces of every genuine clip in --videos are detected once at --fps (the frames
the kiosk would analyse; kept in --cache), then both versions' `ScreenCues.update` run on each
frame in turn, taking turns at going first (the first reads the frame into the CPU's cache).
It prints the median and mean per frame of each and their ratio, and checks that both give the
same measurements on every frame (border, surroundings' motion, glow) and the same scores per
clip: a change meant only to be faster must not change what the kiosk decides.
bench/liveness.py --only c gives the cost against recognition's.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="the baseline kiosk/screen.py (a copy)")
    ap.add_argument("--new", type=Path, default=ROOT / "kiosk" / "screen.py")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--reps", type=int, default=3, help="passes over all clips")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache")
    a = ap.parse_args()

    from kiosk.liveness import LivenessConfig

    seqs = frames_with_faces(a.videos, a.fps, a.cache)
    old, new = load("screen_old", a.old), load("screen_new", a.new)
    cfg = LivenessConfig(mode="passive")
    times: tuple[list, list] = ([], [])
    frames_differ, clips_differ = 0, []
    for rep in range(a.reps):
        for name, seq in seqs.items():
            cues = (old.ScreenCues(cfg), new.ScreenCues(cfg))
            for k, (ts, lm, g) in enumerate(seq):
                for w in ((0, 1) if k % 2 else (1, 0)):
                    t = time.perf_counter()
                    cues[w].update(ts, g, lm)
                    times[w].append(time.perf_counter() - t)
                if rep == 0 and repr(cues[0].last) != repr(cues[1].last):
                    frames_differ += 1
            if rep == 0 and cues[0].scores() != cues[1].scores():
                clips_differ.append(name)
    med = [statistics.median(t) * 1000 for t in times]
    mean = [statistics.mean(t) * 1000 for t in times]
    print(f"ScreenCues.update at {a.fps:g} frames/s, {len(times[0])} frames ({len(seqs)} clips x {a.reps}), "
          f"taking turns on each frame")
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
