"""One frame through the stages: detect -> choose the face -> landmarks -> gates -> encode.

Used by the kiosk loop (per camera frame), `kiosk identify` (per photo) and enrollment (per
photo, with one face required). Each stage's time is kept for the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kiosk.recognition.faces import Box, FaceModels, models
from kiosk.recognition.quality import Quality, assess


@dataclass
class Analysis:
    faces: list[Box]
    face: Box | None = None  # the chosen face
    landmarks: np.ndarray | None = None  # (68, 2) of the chosen face
    quality: Quality | None = None
    encoding: np.ndarray | None = None  # (128,) float32 when every gate passed
    reason: str | None = None  # why there is no encoding
    timings: dict = field(default_factory=dict)  # stage -> seconds


def choose_face(faces: list[Box], width: int, height: int) -> Box | None:
    """The largest face, discounted by its distance from the centre of the frame.

    The person at the kiosk stands close and in front; someone passing behind is smaller
    and off-centre. A face at the edge counts for half its area.
    """
    if not faces:
        return None
    cx, cy = width / 2, height / 2
    half_diag = ((cx ** 2 + cy ** 2) ** 0.5) or 1.0

    def score(b: Box) -> float:
        bx, by = b.center
        off = ((bx - cx) ** 2 + (by - cy) ** 2) ** 0.5 / half_diag
        return b.area * (1.0 - 0.5 * min(1.0, off))

    return max(faces, key=score)


class FaceAnalyzer:
    def __init__(self, rc, face_models: FaceModels | None = None):
        self.rc = rc  # the [recognition] config section
        self.m = face_models or models(rc.encoder, rc.encoder_threads)

    def detect(self, frame: np.ndarray, detect_width: int | None = None) -> Analysis:
        t = time.perf_counter()
        faces = self.m.detect(frame, detect_width or self.rc.detect_width, self.rc.upsample)
        a = Analysis(faces=faces)
        a.timings["detect"] = time.perf_counter() - t
        h, w = frame.shape[:2]
        a.face = choose_face(faces, w, h)
        if a.face is None:
            a.reason = "no_face"
        return a

    def finish(self, frame: np.ndarray, a: Analysis, encode: bool = True) -> Analysis:
        """Landmarks, gates and (if `encode` and the gates pass) the template of a.face."""
        if a.face is None:
            return a
        t = time.perf_counter()
        a.landmarks = self.m.shape68(frame, a.face)
        a.timings["landmarks"] = time.perf_counter() - t
        t = time.perf_counter()
        a.quality = assess(frame, a.face, a.landmarks, self.rc)
        a.timings["gates"] = time.perf_counter() - t
        if not a.quality.ok:
            a.reason = a.quality.reason
            return a
        if encode:
            t = time.perf_counter()
            a.encoding = self.m.encode(frame, a.face)
            a.timings["encode"] = time.perf_counter() - t
        return a

    def analyze(self, frame: np.ndarray, single: bool = False) -> Analysis:
        """Everything for one still photo; `single` refuses photos with more than one face."""
        a = self.detect(frame, self.rc.photo_detect_width)
        if single and len(a.faces) > 1:
            a.reason = "several_faces"
            return a
        return self.finish(frame, a)
