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
    """The largest, most central face: its width times (1 - its distance from the centre as a
    share of the half diagonal) squared.

    The person at the kiosk (or in an enrollment portrait) stands in front and in the middle;
    someone passing behind is smaller or off-centre. Centrality weighs more than size: with area
    and a mild discount for the distance, a larger face at the edge of a news photo (a
    companion leaning in) was chosen over the person in the middle (lfw-dev: 5 of 373 photos
    with several faces, each then matched to the wrong person; an earlier measurement, its record lost).
    """
    if not faces:
        return None
    cx, cy = width / 2, height / 2
    half_diag = ((cx ** 2 + cy ** 2) ** 0.5) or 1.0

    def score(b: Box) -> float:
        bx, by = b.center
        off = ((bx - cx) ** 2 + (by - cy) ** 2) ** 0.5 / half_diag
        return b.width * max(0.0, 1.0 - off) ** 2

    return max(faces, key=score)


def others_smaller(face: Box, faces: list[Box], ratio: float) -> bool:
    """Every other face is at most `ratio` times as wide as `face` (people in the background)."""
    return all(b.width <= ratio * face.width for b in faces if b != face)


class FaceAnalyzer:
    def __init__(self, rc, face_models: FaceModels | None = None):
        self.rc = rc  # the [recognition] config section
        self.m = face_models or models(rc.encoder, rc.encoder_threads)

    def detect(self, frame: np.ndarray, detect_width: int | None = None, upsample: int | None = None) -> Analysis:
        """Faces in a camera frame (at `detect_width`, then, if none was found, once more at
        `far_detect_width` for someone further back), or at the given width for a photo."""
        t = time.perf_counter()
        up = self.rc.upsample if upsample is None else upsample
        faces = self.m.detect(frame, detect_width or self.rc.detect_width, up)
        far = getattr(self.rc, "far_detect_width", 0)
        if not faces and detect_width is None and far > self.rc.detect_width and frame.shape[1] > self.rc.detect_width:
            faces = self.m.detect(frame, far, up)
        a = Analysis(faces=faces)
        a.timings["detect"] = time.perf_counter() - t
        h, w = frame.shape[:2]
        a.face = choose_face(faces, w, h)
        if a.face is None:
            a.reason = "no_face"
        return a

    def finish(self, frame: np.ndarray, a: Analysis, encode: bool = True, template: bool = False) -> Analysis:
        """Landmarks, gates and (if `encode` and the gates pass) the encoding of a.face; an
        enrollment `template` is jittered (`[recognition] template_jitter`), a probe is not."""
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
            a.encoding = self.m.encode(frame, a.face, self.rc.mirror, self.rc.template_jitter if template else 0)
            a.timings["encode"] = time.perf_counter() - t
        return a

    def analyze(self, frame: np.ndarray, single: bool = False, others_ratio: float = 0.0,
                template: bool = False) -> Analysis:
        """Everything for one still photo. Detection runs at `photo_detect_width`; a photo
        narrower than half of it is also upsampled once (HOG finds no face under about 80 px:
        a portrait of 250 px would lose its faces of 70-80 px; docs/gates.md).

        `single` (enrollment): with several faces, the chosen one is used only when every other
        face is at most `others_ratio` times as wide (people in the background); otherwise the
        photo is refused as `several_faces`. `template`: the encoding is an enrollment
        template (jittered; see `finish`)."""
        up = self.rc.upsample + (1 if frame.shape[1] * 2 <= self.rc.photo_detect_width else 0)
        a = self.detect(frame, self.rc.photo_detect_width, min(up, 2))
        if single and len(a.faces) > 1 and not others_smaller(a.face, a.faces, others_ratio):
            a.reason = "several_faces"
            return a
        return self.finish(frame, a, template=template)
