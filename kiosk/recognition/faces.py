"""A lazy, plain-data wrapper over dlib: detect faces, find landmarks, compute 128-d templates.

This is face_recognition's algorithm (dlib HOG detector, 5-point alignment, the ResNet encoder
from face_recognition_models, Euclidean distance) with two differences that matter on a kiosk:

* nothing loads at import: face_recognition's ``api`` module loads all four models (including
  the CNN detector the kiosk never uses) when imported and calls ``quit()`` if one is missing;
  here each model loads on first use, from a path checked against models/manifest.toml, and a
  problem raises ``ModelError``;
* boxes are a ``Box`` dataclass in full-frame pixels, detection runs on a downscaled grey frame
  and the box is scaled back, and encodings are float32;
* the 128-d encoding runs the same network on a faster runtime by default (encoder.py): the
  face chip is cut here exactly as dlib's ``compute_face_descriptor`` cuts it, then encoded.

tests/test_recognition.py checks that the templates equal face_recognition's own to float
precision, and tests/test_encoder.py that every runtime gives dlib's descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kiosk.recognition.encoder import CHIP_PADDING, CHIP_SIZE, DEFAULT_RUNTIME, Encoder, load_encoder
from kiosk_models import model_path


def _jitter_table(n: int = 32, seed: int = 7) -> tuple[tuple[float, float, float, float], ...]:
    """Fixed re-cuts of a face chip for jittered templates: (turn in degrees, shift right and
    down as a share of the chip, scale), turns within 3 degrees, shifts within 2 %, scales within
    3 %. Fixed, so the same photo always gives the same template; larger jitter (6 degrees, 4 %,
    6 %) was worse on lfw-dev (docs/gates.md, "Jittered templates")."""
    rng = np.random.default_rng(seed)
    return tuple((float(rng.uniform(-3, 3)), float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02)),
                  float(rng.uniform(0.97, 1.03))) for _ in range(n))


JITTER = _jitter_table()


@dataclass(frozen=True)
class Box:
    """A face rectangle in full-frame pixel coordinates (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    def scaled(self, f: float) -> "Box":
        return Box(round(self.left * f), round(self.top * f), round(self.right * f), round(self.bottom * f))

    def clamped(self, width: int, height: int) -> "Box":
        return Box(max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom))

    def iou(self, other: "Box") -> float:
        ix = max(0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


def to_grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    if rgb.ndim == 2:
        return rgb
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class FaceModels:
    """dlib's detector and landmark predictors and the encoder, each loaded on first use.

    `encoder` is the runtime of the 128-d encoder (encoder.RUNTIMES) and `threads` its
    intra-op threads (0: half the cores)."""

    def __init__(self, encoder: str = DEFAULT_RUNTIME, threads: int = 0):
        self.encoder_runtime, self.encoder_threads = encoder, threads

    @cached_property
    def _dlib(self):
        import dlib

        return dlib

    @cached_property
    def detector(self):
        return self._dlib.get_frontal_face_detector()

    @cached_property
    def landmarks5(self):
        return self._dlib.shape_predictor(str(model_path("landmarks_5")))

    @cached_property
    def landmarks68(self):
        return self._dlib.shape_predictor(str(model_path("landmarks_68")))

    @cached_property
    def encoder(self) -> Encoder:
        return load_encoder(self.encoder_runtime, self.encoder_threads)

    def load_all(self) -> None:
        """Load every model now (workers do this at start, not on the first face)."""
        for name in ("detector", "landmarks5", "landmarks68", "encoder"):
            getattr(self, name)

    # --- stages -------------------------------------------------------------------------

    def detect(self, frame: np.ndarray, detect_width: int = 320, upsample: int = 0) -> list[Box]:
        """Faces in `frame` (RGB or grey), found on a copy downscaled to `detect_width`."""
        import cv2

        grey = to_grey(frame)
        h, w = grey.shape
        f = 1.0
        if w > detect_width:
            f = detect_width / w
            grey = cv2.resize(grey, (detect_width, max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        rects = self.detector(grey, upsample)
        boxes = [Box(r.left(), r.top(), r.right() + 1, r.bottom() + 1).scaled(1 / f) for r in rects]
        return [b.clamped(w, h) for b in boxes if b.clamped(w, h).area > 0]

    def _rect(self, box: Box):
        return self._dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)

    def shape68(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """68 landmark points (x, y) as a float32 (68, 2) array."""
        shape = self.landmarks68(to_grey(frame), self._rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def chip(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The aligned 150x150 RGB face chip the encoder takes (5-point landmarks, padding
        0.25), cut as dlib's compute_face_descriptor cuts it."""
        return self.chips(rgb, box)[0]

    def chips(self, rgb: np.ndarray, box: Box, jitter: int = 0) -> np.ndarray:
        """(1 + jitter, 150, 150, 3): the face chip (`chip`), then the first `jitter` of JITTER's
        re-cuts of it, each cut from the frame by dlib with its rectangle moved and turned."""
        dlib = self._dlib
        shape = self.landmarks5(rgb, self._rect(box))
        out = [dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)]
        if jitter:
            d = dlib.get_face_chip_details(shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            r = d.rect
            cx, cy, w, h = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2, r.width(), r.height()
            cos, sin = np.cos(d.angle), np.sin(d.angle)
            for turn, dx, dy, scale in JITTER[:jitter]:
                x, y = cx + (cos * dx * w - sin * dy * h), cy + (sin * dx * w + cos * dy * h)  # in the chip's frame
                half_w, half_h = w * scale / 2, h * scale / 2
                details = dlib.chip_details(dlib.drectangle(x - half_w, y - half_h, x + half_w, y + half_h),
                                            dlib.chip_dims(CHIP_SIZE, CHIP_SIZE), d.angle + np.deg2rad(turn))
                out.append(np.asarray(dlib.extract_image_chip(rgb, details)))
        return np.stack(out)

    def encode(self, rgb: np.ndarray, box: Box, mirror: bool = False, jitter: int = 0) -> np.ndarray:
        """The 128-d template of the face in `box` (float32). With `mirror`, the mean of the
        descriptors of the chip and of its mirror image (one batch of two): a face and its
        mirror image are the same person, and the mean is steadier against the side the light
        or the turn came from (docs/gates.md, "Matching"). With `jitter` (enrollment's
        templates only), the mean over the chip and `jitter` slightly turned, shifted and scaled
        re-cuts of it, each with its mirror when `mirror`: a template less tied to where the
        landmarks happened to fall on that one photo (docs/gates.md, "Jittered templates")."""
        chips = self.chips(rgb, box, jitter)
        if mirror:
            chips = np.concatenate([chips, chips[:, :, ::-1]])
        return self.encoder.encode(chips).mean(axis=0)


_models: dict[tuple[str, int], FaceModels] = {}


def models(encoder: str = DEFAULT_RUNTIME, threads: int = 0) -> FaceModels:
    """The process-wide FaceModels for an encoder runtime (each worker process has its own)."""
    key = (encoder, threads)
    if key not in _models:
        _models[key] = FaceModels(encoder, threads)
    return _models[key]
