"""Could the pulse tell a still, unblinking person from a print? A probe, tried and not adopted.

Run from the repository root (it needs the real clips and photos outside the repository):

    python bench/liveness_pulse.py [--videos ../shared/videos] [--faces ../shared/faces] [--prints 60] [--window 4]

Not a test. A live face's skin colour changes slightly with every heartbeat (remote
photoplethysmography); a print does not. That would cover exactly the case the motion and
blink signals of kiosk/liveness.py cannot judge: someone who stands still and does not blink.
The probe takes the mean RGB of both cheeks and the forehead (polygons from the 68 landmarks)
in every frame, resamples it to a uniform rate, extracts the pulse with the POS algorithm
(Wang et al. 2017: plane orthogonal to the skin tone, 1.6 s windows, overlap-added) and, per
window of --window seconds, the spectrum's signal-to-noise ratio in the heart-rate band
0.7-3 Hz (the peak and its harmonic against the rest; de Haan and Jeanne 2013). It prints the
SNR's distribution on the genuine clips and on simulated prints (bench/liveness.py's
`print_frames`), both at 15 frames per second. docs/liveness.md has the result: on these
compressed clips the two overlap completely, so it was not adopted.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FPS, LO, HI = 15.0, 0.7, 3.0


def skin_rgb(frame: np.ndarray, lm: np.ndarray) -> np.ndarray | None:
    """Mean RGB of both cheeks and the forehead, weighted by their pixel counts."""
    import cv2

    from kiosk.liveness import eye_distance

    d = eye_distance(lm)
    regions = (lm[[1, 2, 3, 4, 48, 31, 39, 40, 41]], lm[[15, 14, 13, 12, 54, 35, 42, 47, 46]],
               np.r_[lm[17:27], lm[[26, 17]] - [0, 0.5 * d]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    for poly in regions:
        cv2.fillConvexPoly(mask, cv2.convexHull(poly.astype(np.int32)), 1)
    if mask.sum() < 30:
        return None
    return np.array(cv2.mean(frame, mask)[:3])


def pos_pulse(rgb: np.ndarray, fs: float) -> np.ndarray:
    """The POS pulse signal of a (n, 3) RGB series sampled at fs."""
    n, l = len(rgb), max(4, int(round(1.6 * fs)))
    proj = np.array([[0, 1, -1], [-2, 1, 1]], float)
    out = np.zeros(n)
    for s in range(n - l + 1):
        a, b = ((rgb[s:s + l] / rgb[s:s + l].mean(axis=0)) @ proj.T).T
        h = a + (a.std() / (b.std() + 1e-9)) * b
        out[s:s + l] += h - h.mean()
    return out


def band_snr(x: np.ndarray, fs: float) -> float:
    """dB: power at the strongest heart-rate peak (+-0.1 Hz) and its harmonic over the rest of the band."""
    x = (x - x.mean()) * np.hanning(len(x))
    f = np.fft.rfftfreq(8 * len(x), 1 / fs)
    p = np.abs(np.fft.rfft(x, 8 * len(x))) ** 2
    band = (f >= LO) & (f <= HI)
    fb, pb = f[band], p[band]
    f0 = fb[np.argmax(pb)]
    sig = (np.abs(fb - f0) <= 0.1) | (np.abs(fb - 2 * f0) <= 0.2)
    return float(10 * np.log10(pb[sig].sum() / max(pb[~sig].sum(), 1e-12)))


def window_snrs(series: list[tuple[float, np.ndarray]], window: float, step: float = 0.5) -> list[float]:
    """SNR of every window (step apart) of a track's (ts, RGB) series with >= 80 % of its frames."""
    if len(series) < 5:
        return []
    ts = np.array([t for t, _ in series])
    rgb = np.array([c for _, c in series])
    out = []
    for t0 in np.arange(ts[0], ts[-1] - window + 1e-6, step):
        sel = (ts >= t0) & (ts <= t0 + window)
        if sel.sum() < 0.8 * window * FPS:
            continue
        grid = np.arange(t0, t0 + window, 1 / FPS)
        uniform = np.stack([np.interp(grid, ts[sel], rgb[sel, k]) for k in range(3)], axis=1)
        out.append(band_snr(pos_pulse(uniform, FPS), FPS))
    return out


def main() -> int:
    from liveness import _landmarks_of, attack_photos, print_frames, read_clip

    from kiosk.recognition.faces import models

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--prints", type=int, default=60, help="print-attack tracks of 8 s from the photos")
    ap.add_argument("--window", type=float, default=4.0, help="seconds of pulse signal per judgement")
    ap.add_argument("--seed", type=int, default=21)
    a = ap.parse_args()
    m = models()
    m.load_all()

    def series(frames):
        out = []
        for ts, fr in frames:
            _, lm = _landmarks_of(m, fr, 320)
            rgb = skin_rgb(fr, lm) if lm is not None else None
            if rgb is not None:
                out.append((ts, rgb))
        return out

    def row(name, snrs):
        q = np.percentile(snrs, [10, 50, 90, 99]) if snrs else [float("nan")] * 4
        top = max(snrs, default=float("nan"))
        print(f"   {name:26s} {len(snrs):7d} {q[0]:7.2f} {q[1]:7.2f} {q[2]:7.2f} {q[3]:7.2f} {top:7.2f}")

    print(f"pulse (POS) SNR in 0.7-3 Hz, dB, per {a.window:g}-s window (step 0.5 s), {FPS:g} frames/s")
    print(f"   {'track':26s} {'windows':>7s} {'p10':>7s} {'p50':>7s} {'p90':>7s} {'p99':>7s} {'max':>7s}")
    genuine = []
    for clip in sorted(p for p in a.videos.iterdir() if p.suffix in (".mp4", ".avi")):
        frames, fps_in = read_clip(clip)
        stride = max(1, round(fps_in / FPS))
        snrs = window_snrs(series((i / fps_in, frames[i]) for i in range(0, len(frames), stride)), a.window)
        genuine += snrs
        row(clip.name, snrs)
    row("ALL genuine", genuine)
    photos = attack_photos(m, a.faces)
    rng = random.Random(a.seed)
    prints = []
    for i in range(a.prints):
        _, im, box = photos[i % len(photos)]
        prints += window_snrs(series(print_frames(rng, im, box, 8.0, FPS)), a.window)
    row(f"simulated prints ({a.prints})", prints)
    cut = max(prints, default=float("inf"))
    print(f"   genuine windows above the prints' largest SNR ({cut:.2f} dB): "
          f"{sum(s > cut for s in genuine)} of {len(genuine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
