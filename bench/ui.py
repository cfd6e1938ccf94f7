#!/usr/bin/env python3
"""Does the preview stay smooth while recognition works? UI-thread frame gaps, two designs.

The real kiosk window runs offscreen with a replayed camera at 30 fps (every frame of the clip one
camera frame: the replay's own_time=False, a frame source at an exact rate). Recognition is kept
busy on purpose: the person in the clip is *not* enrolled, so every frame of the track is
encoded (the worst case for the preview). Measured in the UI thread: the time between
consecutive frames reaching the camera view (median, p99, max) and frames shown per second.

  process  the kiosk's design: recognition in a spawned worker process (kiosk/worker.py)
  thread   the baseline the design avoids: the same KioskLoop in a thread of the UI process

Each variant runs in its own subprocess, one after the other, in the same invocation.
Usage: python bench/ui.py [--video ../shared/videos/person-a_cap12.mp4] [--seconds 20]
                          [--encoder onnxruntime|opencv|dlib]  ([recognition] encoder; default: the kiosk's)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_variant(variant: str, video: str, seconds: float, fps: float, encoder: str) -> dict:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["KIOSK_OVERRIDE"] = os.devnull
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from kiosk.camera.replay import ReplaySource
    from kiosk.config import load_config
    from kiosk.loop import KioskLoop
    from kiosk.store import Store
    from kiosk.ui.window import KioskWindow

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-uibench-"))
    (tmp / "config.toml").write_text('[store]\ndata_dir = "data"\n[display]\nsound = false\n'
                                     '[camera]\nwidth = 640\nheight = 480\n'
                                     '[recognition]\nmin_eye_px = 4.0\n' + (f'encoder = "{encoder}"\n' if encoder else "")
                                     + '[liveness]\nmode = "off"\n')  # the clip's faces are small
    cfg = load_config(tmp / "config.toml")
    Store(cfg.db_path).close()
    app = QApplication.instance() or QApplication([])

    def make_source():  # every frame of the clip one frame at fps: a load at an exact rate, not a visit
        return ReplaySource(Path(video), fps=fps, realtime=True, loop=True, own_time=False)

    win = KioskWindow(cfg, make_source, start_worker=(variant == "process"))
    win.resize(1024, 600)
    win.show()
    encodings = [0]  # thread variant: frames analysed
    stop = threading.Event()
    if variant == "thread":
        def recognise():
            store = Store(cfg.db_path)
            loop = KioskLoop(cfg, store)
            loop.analyzer.m.load_all()
            while not stop.is_set():
                frame = win.ring.take(timeout=0.5)
                if frame is None:
                    continue
                try:
                    loop._safe_process(frame)
                finally:
                    win.ring.release()
                encodings[0] = loop.frames
        threading.Thread(target=recognise, daemon=True).start()

    def pump(until):
        while time.monotonic() < until:
            app.processEvents()
            time.sleep(0.001)

    # warm-up: models loaded, frames flowing
    ready = time.monotonic() + 60
    while time.monotonic() < ready and (win.view.shown < 30 or (variant == "process" and win.state["recognition"] != "ok")):
        pump(time.monotonic() + 0.05)
    pump(time.monotonic() + 2.0)
    win.view.gaps.clear()
    shown0 = win.view.shown
    faces0 = [0]
    busy = []
    orig = win.handle

    def handle(msg):
        if msg.get("type") == "face":
            faces0[0] += 1
            busy.append(msg.get("busy_ms", 0))
        orig(msg)

    win.handle = handle
    t0 = time.monotonic()
    pump(t0 + seconds)
    elapsed = time.monotonic() - t0
    gaps = np.array(win.view.gaps) * 1000
    stop.set()
    result = {
        "variant": variant,
        "frames_shown_per_s": (win.view.shown - shown0) / elapsed,
        "gap_median_ms": float(np.median(gaps)), "gap_p99_ms": float(np.percentile(gaps, 99)),
        "gap_max_ms": float(gaps.max()),
        "analysed_per_s": (faces0[0] if variant == "process" else encodings[0]) / elapsed,
        "recognition_ms_median": float(np.median(busy)) if busy else None,
    }
    win.request_quit()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=str(ROOT.parent / "shared" / "videos" / "person-a_cap12.mp4"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--encoder", default="", help="[recognition] encoder (default: the kiosk's default)")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.video, args.seconds, args.fps, args.encoder)), flush=True)
        os._exit(0)  # skip interpreter teardown: PySide6 6.12 can crash there, after the work is done
    rows = []
    for variant in ("process", "thread"):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--video", args.video,
                              "--seconds", str(args.seconds), "--fps", str(args.fps), "--encoder", args.encoder],
                             capture_output=True, text=True, timeout=600)
        line = [x for x in out.stdout.splitlines() if x.startswith("{")]
        if out.returncode or not line:
            sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(line[-1]))
    base = rows[1]
    print(f"UI thread while recognition is busy: replay {Path(args.video).name} at {args.fps:g} fps, "
          f"{args.seconds:g} s per variant, {os.cpu_count()} cores, encoder {args.encoder or 'default'}\n")
    print("| variant | frames shown/s | gap median ms | gap p99 ms | gap max ms | frames analysed/s | p99 gap vs thread |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['frames_shown_per_s']:.1f} | {r['gap_median_ms']:.1f} | {r['gap_p99_ms']:.1f} | "
              f"{r['gap_max_ms']:.1f} | {r['analysed_per_s']:.1f} | {r['gap_p99_ms'] / base['gap_p99_ms']:.2f}x |")
    p = rows[0]
    print()
    print(f"target p99 gap < 50 ms: {'PASS' if p['gap_p99_ms'] < 50 else 'MISS'} ({p['gap_p99_ms']:.1f} ms)")
    print(f"target >= 25 frames shown/s: {'PASS' if p['frames_shown_per_s'] >= 25 else 'MISS'} "
          f"({p['frames_shown_per_s']:.1f})")


if __name__ == "__main__":
    main()
