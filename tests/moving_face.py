"""A real photo made to move like a live head, for liveness tests (no recorded video needed).

`face_scene` scales a real photo so that its face has a given width in a frame of a given size
(the photo's own surroundings around it, mirrored where the photo ends) and finds its 68
landmarks with the real detector; `head_turn` moves that face like a head turning: each point
moves sideways by amount x its height out of the face (a bump at the nose tip on a gentle dome),
so the nose moves against the cheeks (parallax) - what no flat print can do - while the room
around the head stays still.
"""

from __future__ import annotations

import numpy as np


def face_scene(models, photo: np.ndarray, face_px: float, size: tuple[int, int], centre_y: float = 0.48):
    """(frame RGB, landmarks (68, 2)): `photo` scaled so that its face is `face_px` wide, centred
    in a `size` (w, h) frame, the face's middle at `centre_y` of the height."""
    import cv2

    from kiosk.recognition.pipeline import choose_face

    w, h = size
    box = choose_face(models.detect(photo, 1024, 0), photo.shape[1], photo.shape[0])
    f = face_px / box.width
    small = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    cx, cy = (box.left + box.right) / 2 * f, (box.top + box.bottom) / 2 * f
    M = np.float32([[1, 0, w / 2 - cx], [0, 1, centre_y * h - cy]])
    frame = cv2.warpAffine(small, M, (w, h), borderMode=cv2.BORDER_REFLECT)
    b = choose_face(models.detect(frame, min(w, 640), 0), w, h)
    return frame, models.shape68(frame, b).astype(np.float64)


def head_turn(frame: np.ndarray, lm: np.ndarray, amount_at, seconds: float, fps: float, rng, noise: float = 2.0):
    """(t, frame) of the face in `frame` turning: `amount_at(t)` = the nose's sideways shift
    against the cheeks, in eye distances; with sensor noise (grey levels)."""
    import cv2

    h, w = frame.shape[:2]
    iod = np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nose, centre = lm[30], lm[27:36].mean(axis=0)
    depth = (np.exp(-((xx - nose[0]) ** 2 + (yy - nose[1]) ** 2) / (2 * (0.45 * iod) ** 2))
             + 0.5 * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * (1.3 * iod) ** 2)))
    nr = np.random.default_rng(rng.integers(1 << 31))
    for i in range(int(seconds * fps)):
        t = i / fps
        dx = (amount_at(t) * iod * depth).astype(np.float32)
        out = cv2.remap(frame, xx - dx, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        yield t, np.clip(out + nr.normal(0, noise, out.shape), 0, 255).astype(np.uint8)
