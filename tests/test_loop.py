"""The kiosk loop step by step on real faces: a queue of people, unknown faces, a bad frame."""

import numpy as np

from conftest import BIDEN, OBAMA
from kiosk.camera.base import Frame
from kiosk.imageio import load_rgb
from kiosk.loop import KioskLoop


def frames(faces, names_and_counts, start=0.0, step=0.2):
    t, seq = start, 0
    for name, n in names_and_counts:
        img = load_rgb(faces / name) if name else np.zeros((480, 640, 3), np.uint8)
        for _ in range(n):
            yield Frame(img, t, seq, name)
            t += step
            seq += 1


def run(loop, fs):
    out = []
    for f in fs:
        out += loop._safe_process(f)
    return out


def test_the_next_person_in_a_queue_is_recognised(cfg, enrolled, faces):
    # Biden steps into Obama's place without the kiosk ever seeing an empty frame.
    loop = KioskLoop(cfg, enrolled)
    out = run(loop, frames(faces, [("obama3.jpg", 5), ("biden.jpg", 10)]))
    got = [(o["employee_id"], o["kind"], o["status"]) for o in out if o["type"] == "attendance"]
    assert got == [(OBAMA, "masuk", "recorded"), (BIDEN, "masuk", "recorded")]
    assert loop.encodings < 15  # identified faces are only re-checked, not encoded every frame


def test_unknown_face_is_reported_once_per_track(cfg, enrolled, faces):
    loop = KioskLoop(cfg, enrolled)
    out = run(loop, frames(faces, [("grace_hopper.jpg", 12)]))
    assert [o["type"] for o in out] == ["unknown"]
    assert enrolled.events() == []


def test_a_bad_frame_is_reported_and_the_loop_goes_on(cfg, enrolled, faces):
    loop = KioskLoop(cfg, enrolled)
    bad = Frame(np.zeros((10, 10), np.float64), 0.0, 0)  # not an image the detector accepts
    (err,) = loop._safe_process(bad)
    assert err["type"] == "error" and err["error"] == "frame"
    out = run(loop, frames(faces, [("obama3.jpg", 4)], start=5.0))
    assert [o["employee_id"] for o in out if o["type"] == "attendance"] == [OBAMA]
