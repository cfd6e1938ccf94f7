"""The screen cues' look-alikes in real photos: one look of the border and of the glow per photo.

Two of the screen cues (kiosk/screen.py) can be measured on a single picture: the device's
border (two long parallel edges on opposite sides of the face, four closing a box, or a side edge
and one below the chin meeting at a lower corner) and the
glow (the face's skin clipped white while the face is much brighter than the frame). A real
person's own surroundings - clothes, a headscarf, a flag, a curtain, a framed picture, a flash
in a dark room - must seldom look like either, for every kind of person. The kiosk asks for
repeated hits over a track (``screen_frame_hits`` looks, ``screen_glow_hits``) and two cues to
refuse; one look of a still person is the upper bound of how often one cue fires for them.

Run on LFW's development half (2,879 people, 6,922 news photographs, deep-funneled: most photos
are rotated into a 250 x 250 frame with black corners, whose straight edges would be borders;
they are filled by inpainting before the cues look). Photos are faces of about 100 px, so edges
more than about one face width from the face are cut off: a kiosk frame shows more of the room.

    python bench/screen_photos.py [--photos ../shared/lfw-dev/images] [--show PNG]
    python bench/screen_photos.py --photos ../shared/faces --raw     # photos that were not aligned
    python bench/screen_photos.py --stops 0 0.5 1 1.5                # the glow on the photos made brighter

The fill takes every near-black region touching the picture's edge for padding, so it also
smooths true black there (a dark suit at the bottom edge): it can only remove edges, so on LFW the
border's figure is, if anything, low. `--raw` looks at the photos as they are.

Prints how many photos the face was found in, and how many looks hit: the border's pair (at
``screen_frame_min``), its box (at ``screen_box_min``), its lower corner (at ``screen_corner_min``), the glow (``screen_glow_clip`` and
``screen_glow_ratio``) and its two parts alone; ``--show`` writes a contact sheet of the photos
the border hit, to see what hit. ``--stops`` also looks at the glow with every photo made that many
stops brighter in linear light (a camera exposing for a darker room than the photographer did):
how much a real face may be over-exposed before its skin reads as a screen's light.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fill_padding(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo with the near-black regions touching its edge (an alignment's padding) filled by
    inpainting, and the share of the photo they covered."""
    import cv2

    dark = (grey <= 12).astype(np.uint8)
    _, lab = cv2.connectedComponents(dark)
    outer = np.setdiff1d(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])), [0])
    pad = np.isin(lab, outer) & (dark > 0)
    if not pad.any():
        return grey, 0.0
    mask = cv2.dilate(pad.astype(np.uint8), np.ones((5, 5), np.uint8))  # and the JPEG smear along it
    return cv2.inpaint(grey, mask, 3, cv2.INPAINT_TELEA), float(pad.mean())


def brighter(grey: np.ndarray, stops: float) -> np.ndarray:
    """The picture `stops` brighter in linear light (sRGB's curve), clipped at white."""
    from kiosk.camera.exposure import linear_to_srgb, srgb_to_linear

    return np.clip(np.round(linear_to_srgb(srgb_to_linear(grey.astype(np.float64)) * 2.0 ** stops)), 0, 255).astype(np.uint8)


def main() -> int:
    import cv2

    from kiosk.config import load_config
    from kiosk.liveness import LivenessConfig
    from kiosk.recognition.pipeline import FaceAnalyzer, choose_face
    from kiosk.screen import DeviceFrame, FaceGeometry, glow

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "lfw-dev" / "images",
                    help="a folder of photos (searched recursively for .jpg and .png)")
    ap.add_argument("--show", type=Path, help="write a contact sheet of the photos the border hit")
    ap.add_argument("--raw", action="store_true", help="no padding fill (photos that were not aligned)")
    ap.add_argument("--stops", type=float, nargs="+", default=[],
                    help="also: the glow with each photo this many stops brighter (linear light)")
    a = ap.parse_args()
    paths = sorted(p for p in a.photos.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        print(f"no photos under {a.photos}")
        return 1
    cfg = load_config(None)
    lc = LivenessConfig.from_config(cfg)
    analyzer = FaceAnalyzer(cfg.recognition)
    analyzer.m.load_all()
    rows = []
    t0 = time.perf_counter()
    for p in paths:
        bgr = cv2.imread(str(p))
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        w = rgb.shape[1]
        box = choose_face(analyzer.m.detect(rgb, min(w, 640), 0 if w >= 200 else 1), w, rgb.shape[0])
        if box is None:
            continue
        lm = np.asarray(analyzer.m.shape68(rgb, box), np.float64)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        grey, padded = (grey, 0.0) if a.raw else fill_padding(grey)
        g = FaceGeometry(lm)
        border = DeviceFrame().measure(grey, g)
        clipped, ratio = glow(grey, lm, g)
        rows.append((p, border.length, border.box, border.sides, clipped, ratio, padded, border.corner,
                     [glow(brighter(grey, s), lm, g) for s in a.stops]))
    took = time.perf_counter() - t0
    n = len(rows)
    pair = [r for r in rows if r[1] >= lc.screen_frame_min]
    boxed = [r for r in rows if lc.screen_box_min > 0 and r[2] >= lc.screen_box_min]
    cornered = [r for r in rows if lc.screen_corner_min > 0 and r[7] >= lc.screen_corner_min]
    clip = [r for r in rows if r[4] >= lc.screen_glow_clip]
    bright = [r for r in rows if r[5] >= lc.screen_glow_ratio]
    lit = [r for r in clip if r[5] >= lc.screen_glow_ratio]
    pct = lambda k: f"{k:5d} ({100 * k / max(n, 1):5.2f} %)"
    print(f"screen cues, one look per photo: {a.photos}, {len(paths)} photos, a face in {n} "
          f"({sum(r[6] > 0 for r in rows)} with alignment padding, filled), {took:.0f} s")
    print(f"   border: a pair of edges >= {lc.screen_frame_min:g} eye distances      {pct(len(pair))}")
    print(f"   border: a closed box, sides >= {lc.screen_box_min:g}                 {pct(len(boxed))}")
    print(f"   border: a lower corner, legs >= {lc.screen_corner_min:g}                {pct(len(cornered))}")
    print(f"   border: any of the three                            {pct(len({r[0] for r in pair + boxed + cornered}))}")
    print(f"   glow: skin clipped >= {lc.screen_glow_clip:g} alone                   {pct(len(clip))}")
    print(f"   glow: face >= {lc.screen_glow_ratio:g} x the frame's median alone            {pct(len(bright))}")
    print(f"   glow: both (a hit)                                  {pct(len(lit))}")
    shares = np.array([r[4] for r in rows])
    print("   glow: skin clipped, photos at or over a share: "
          + ", ".join(f">= {t:g} {int(np.sum(shares >= t))}" for t in (0.05, 0.1, 0.15, 0.2, 0.3))
          + "; most clipped: " + ", ".join(f"{r[0].parent.name}/{r[0].name} {r[4]:.2f} (x{r[5]:.1f})"
                                           for r in sorted(rows, key=lambda r: -r[4])[:4]))
    print(f"   border and glow in the same photo                   {pct(len({r[0] for r in pair + boxed + cornered} & {r[0] for r in lit}))}")
    for k, stops in enumerate(a.stops):
        lit_k = np.array([r[8][k] for r in rows]).reshape(-1, 2)
        hits = (lit_k[:, 0] >= lc.screen_glow_clip) & (lit_k[:, 1] >= lc.screen_glow_ratio)
        print(f"   glow, every photo {stops:g} stops brighter: a hit {pct(int(hits.sum()))}; skin clipped >= "
              + ", ".join(f"{t:g} {int(np.sum(lit_k[:, 0] >= t))}" for t in (0.05, 0.1, 0.2))
              + f"; not a hit (the face < {lc.screen_glow_ratio:g} x the median) but clipped >= 0.05 / 0.1: "
              + " / ".join(str(int(np.sum((lit_k[:, 0] >= t) & ~hits))) for t in (0.05, 0.1)))
    longest = sorted(rows, key=lambda r: -r[1])[:5]
    print("   longest pairs: " + ", ".join(f"{r[0].parent.name}/{r[0].name} {r[1]:.2f} ({r[3]})" for r in longest))
    if a.show and (pair or boxed or cornered):
        tiles = []
        for r in (cornered + boxed + pair)[:64]:
            im = cv2.resize(cv2.imread(str(r[0])), (160, 160))
            what = f"corner {r[7]:.1f}" if r in cornered else f"{max(r[1], r[2]):.1f} {r[3]}"
            cv2.putText(im, what, (2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
            tiles.append(im)
        while len(tiles) % 8:
            tiles.append(np.zeros_like(tiles[0]))
        cv2.imwrite(str(a.show), np.vstack([np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles), 8)]))
        print(f"   contact sheet: {a.show}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
