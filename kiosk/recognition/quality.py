"""Quality gates: is this face good enough to encode and trust?

Each gate has a stable reason code (used in JSON output, logs and the screen's hints) and the
measured value, so a refusal can be explained to HR and tuned from config. Every default was
set by measurement (docs/gates.md): a gate refuses a face only where
encoding it would mostly give a miss or a false match, never by a round number.

* **Size** is the distance between the eye centres (68 landmarks), not the detector's box:
  dlib's HOG returns boxes of a few fixed sizes (88, 105, 125 ... px on a still photo), so a
  face just under a box-width limit was refused whatever its real size.
* **Exposure** is judged from the inner face's histogram (cheeks, eyes, nose, mouth: the hull of
  the 68 landmarks without the jaw line), not its mean grey level: a darker-skinned face in
  ordinary light has a low mean but a full range of tones; an underexposed face has its shadows
  crushed at the black end and little contrast left. `too_dark` / `too_bright` mean clipped
  shadows over `max_shadows` / highlights over `max_highlights`, or contrast under `min_contrast`
  (two limits: a face mostly in shadow is still recognised, a burnt-out one much sooner not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kiosk.recognition.faces import Box, to_grey

# Reason codes, in the order the gates run. The kiosk screen maps them to hints (ui/text.py);
# enrollment words them for photos (enroll/batch.py).
REASONS = {
    "no_face": "no face found",
    "several_faces": "several faces of similar size",
    "partial": "face cut off by the edge of the picture",
    "too_small": "face too small",
    "too_dark": "face too dark (shadows clipped, too little contrast)",
    "too_bright": "face too bright (highlights clipped, too little contrast)",
    "blurred": "face blurred",
    "not_frontal": "face turned sideways",
    "tilted": "head tilted",
}

# The face is resized to this before measuring sharpness. It is only ever shrunk (faces the
# gates accept are larger), so the measure depends little on the face's size (docs/gates.md).
SHARPNESS_SIZE = 64
# Grey levels counted as clipped: at or below SHADOW, at or above HIGHLIGHT.
SHADOW, HIGHLIGHT = 10, 245


@dataclass(frozen=True)
class Quality:
    reason: str | None  # None = every gate passed
    face_px: int  # the detector's box width
    eye_px: float  # distance between the eye centres
    brightness: float  # mean grey level of the inner face
    median: float  # its median grey level
    shadows: float  # share of its pixels <= SHADOW
    highlights: float  # share >= HIGHLIGHT
    contrast: float  # its 95th minus 5th percentile grey level
    sharpness: float
    yaw: float
    roll_deg: float

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def light(self) -> dict:
        """What face-priority exposure steers by (kiosk.camera.exposure.FaceLight)."""
        return {"median": round(self.median, 1), "shadows": round(self.shadows, 4),
                "highlights": round(self.highlights, 4)}

    def exposure_text(self) -> str:
        return (f"median grey {self.median:.0f}, {100 * self.shadows:.0f} % of it black, "
                f"{100 * self.highlights:.0f} % white, contrast {self.contrast:.0f}")

    def as_dict(self) -> dict:
        return {
            "face_px": self.face_px,
            "eye_px": round(self.eye_px, 1),
            "brightness": round(self.brightness, 1),
            "median": round(self.median, 1),
            "shadows": round(self.shadows, 3),
            "highlights": round(self.highlights, 3),
            "contrast": round(self.contrast, 1),
            "sharpness": round(self.sharpness, 1),
            "yaw": round(self.yaw, 3),
            "roll_deg": round(self.roll_deg, 1),
        }


def pose(lm68: np.ndarray) -> tuple[float, float]:
    """(yaw, roll in degrees) from 68 landmarks.

    yaw: horizontal offset of the nose tip (point 30) from the midpoint of the eye centres,
    divided by the distance between the eye centres; about 0 for a frontal face and about
    +-0.5 at a 45 degree turn. roll: angle of the line through the eye centres.
    """
    left_eye = lm68[36:42].mean(axis=0)
    right_eye = lm68[42:48].mean(axis=0)
    dx, dy = right_eye - left_eye
    eye_dist = math.hypot(dx, dy) or 1.0
    mid = (left_eye + right_eye) / 2
    # project the nose offset onto the eye line, so a tilted head is not read as a turn
    nose = lm68[30] - mid
    yaw = float((nose[0] * dx + nose[1] * dy) / (eye_dist * eye_dist))
    roll = math.degrees(math.atan2(dy, dx))
    return yaw, roll


def eye_distance(lm68: np.ndarray) -> float:
    return float(np.hypot(*(lm68[42:48].mean(axis=0) - lm68[36:42].mean(axis=0))))


def inner_face(grey: np.ndarray, lm68: np.ndarray) -> np.ndarray:
    """The grey levels inside the hull of the landmarks without the jaw line (brows, eyes, nose,
    cheeks, mouth): skin and features, no hair or background."""
    import cv2

    pts = np.round(lm68[17:]).astype(np.int32)
    l, t = np.maximum(pts.min(axis=0), 0)
    r, b = pts.max(axis=0) + 1
    crop = grey[t:b, l:r]
    if crop.size == 0:
        return crop.reshape(-1)
    mask = np.zeros(crop.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts - [l, t]), 1)
    return crop[mask > 0]


def exposure(grey: np.ndarray, lm68: np.ndarray) -> tuple[float, float, float, float, float]:
    """(mean, median, shadows, highlights, contrast) of the inner face."""
    px = inner_face(grey, lm68)
    if px.size == 0:
        return 0.0, 0.0, 1.0, 0.0, 0.0
    p5, p50, p95 = np.percentile(px, [5, 50, 95])
    return (float(px.mean()), float(p50), float(np.mean(px <= SHADOW)), float(np.mean(px >= HIGHLIGHT)),
            float(p95 - p5))


def sharpness_of(crop: np.ndarray) -> float:
    """100 x the variance of the Laplacian of the face (shrunk to SHARPNESS_SIZE) over the
    variance of its grey levels: the share of fine detail, whatever the face's brightness and
    contrast. The Laplacian's variance alone falls with contrast, so a dark face (darker skin,
    a dim lobby) read as "blurred": 7 of 27 of person M's frames 5 stops darker (an earlier measurement, its record lost)."""
    import cv2

    if crop.size == 0:
        return 0.0
    small = cv2.resize(crop, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA).astype(np.float64)
    return float(100.0 * cv2.Laplacian(small, cv2.CV_64F).var() / max(small.var(), 1.0))


def assess(frame: np.ndarray, box: Box, lm68: np.ndarray, rc) -> Quality:
    """Run the gates on one face; `rc` is the [recognition] config section."""
    grey = to_grey(frame)
    h, w = grey.shape
    crop = grey[max(0, box.top):box.bottom, max(0, box.left):box.right]
    sharpness = sharpness_of(crop)
    mean, median, shadows, highlights, contrast = exposure(grey, lm68)
    yaw, roll = pose(lm68)
    q = dict(face_px=box.width, eye_px=eye_distance(lm68), brightness=mean, median=median, shadows=shadows,
             highlights=highlights, contrast=contrast, sharpness=sharpness, yaw=yaw, roll_deg=roll)
    # dlib's box reaches the edge (boxes are clamped to the frame) or landmarks fall outside it
    edge = box.left <= 0 or box.top <= 0 or box.right >= w or box.bottom >= h
    outside = (lm68[:, 0].min() < 0 or lm68[:, 1].min() < 0
               or lm68[:, 0].max() >= w or lm68[:, 1].max() >= h)
    if edge or outside:
        return Quality("partial", **q)
    if q["eye_px"] < rc.min_eye_px:
        return Quality("too_small", **q)
    flat = contrast < rc.min_contrast
    if shadows > rc.max_shadows or (flat and median < 128):
        return Quality("too_dark", **q)
    if highlights > rc.max_highlights or flat:
        return Quality("too_bright", **q)
    if sharpness < rc.min_sharpness:
        return Quality("blurred", **q)
    if abs(yaw) > rc.max_yaw:
        return Quality("not_frontal", **q)
    if abs(roll) > rc.max_roll_deg:
        return Quality("tilted", **q)
    return Quality(None, **q)
