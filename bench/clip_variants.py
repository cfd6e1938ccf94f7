"""A clip as other cameras and other hands would have recorded it: variants for bench/liveness.py.

The one real replay attack we have (and each genuine clip) was recorded by one webcam, at one
size, rate, exposure and angle. An independent check records its own, so a decision that holds
only for that one recording is worth little. This writes variants of a clip that change what the
kiosk's cues look at without touching what was filmed:

* ``mirror``   - flipped left to right (a camera that mirrors its picture)
* ``hd``       - 1280 px wide, each frame three times (a 30 frames/s HD camera of the same scene;
                 the kiosk's replay scales it back to 640 px and feeds 15 of the 30 frames a second)
* ``small``    - 320 px wide (a low-resolution webcam: the face has half the pixels)
* ``tiltA``    - turned A degrees in the picture and enlarged 1.15x (a camera mounted askew; the
                 device's border at an angle), the corners filled by reflection
* ``gammaG``   - every level raised to the power G in 0..1 (G < 1 brighter, G > 1 darker: another
                 camera's exposure; clipped whites stay clipped)
* ``stopS``    - S stops less light, in linear light (sRGB decoded, divided by 2**S, encoded again:
                 a dimmer lobby at the same exposure)

    python bench/clip_variants.py CLIP OUTDIR [mirror hd small tilt12 gamma0.6 gamma1.6]
    python bench/liveness.py --only e --replay OUTDIR/NAME_tilt12.mp4 --enroll PHOTOS

Writes OUTDIR/<clip name>_<variant>.mp4 (mp4v) and prints each one's size and rate. Never
write them into the repository: they are copies of the clips in ../shared.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import cv2
import numpy as np

DEFAULT = ("mirror", "hd", "small", "tilt12", "gamma0.6", "gamma1.6")


def variant(frame: np.ndarray, kind: str) -> np.ndarray:
    h, w = frame.shape[:2]
    if kind == "mirror":
        return cv2.flip(frame, 1)
    if kind == "hd":
        return cv2.resize(frame, (1280, round(h * 1280 / w)), interpolation=cv2.INTER_CUBIC)
    if kind == "small":
        return cv2.resize(frame, (320, round(h * 320 / w)), interpolation=cv2.INTER_AREA)
    if kind.startswith("tilt"):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(kind[4:]), 1.15)
        return cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if kind.startswith(("gamma", "stop")):
        return cv2.LUT(frame, _lut(kind))
    raise ValueError(f"unknown variant {kind!r} (one of mirror, hd, small, tiltA, gammaG, stopS)")


@functools.lru_cache(maxsize=None)
def _lut(kind: str) -> np.ndarray:
    """The 8-bit look-up table of a gammaG or stopS variant (made once per kind)."""
    x = np.arange(256) / 255.0
    if kind.startswith("gamma"):
        return np.round(255 * x ** float(kind[5:])).astype(np.uint8)
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) / 2 ** float(kind[4:])
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(255 * srgb).astype(np.uint8)


def write(clip: Path, out: Path, kind: str) -> tuple[int, int, float, int]:
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    repeat = 3 if kind == "hd" else 1
    writer = None
    n = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frame = variant(frame, kind)
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps * repeat, size)
            for _ in range(repeat):
                writer.write(frame)
                n += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if n == 0:
        raise SystemExit(f"{clip}: no frames could be read")
    return size[0], size[1], fps * repeat, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("kinds", nargs="*", default=list(DEFAULT))
    a = ap.parse_args()
    if not a.clip.is_file():
        sys.exit(f"{a.clip}: no such clip")
    for kind in a.kinds:  # a misspelt variant fails before any file is written
        try:
            variant(np.zeros((4, 4, 3), np.uint8), kind)
        except ValueError as e:
            sys.exit(f"variant {kind!r}: {e}")
    a.outdir.mkdir(parents=True, exist_ok=True)
    for kind in a.kinds:
        out = a.outdir / f"{a.clip.stem}_{kind}.mp4"
        w, h, fps, n = write(a.clip, out, kind)
        print(f"{out}  {w} x {h}  {fps:.1f}/s  {n} frames")


if __name__ == "__main__":
    main()
