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


def print_attack(faces, seconds=14.0, fps=10.0, seed=3):
    """A printed photo of an enrolled employee, held up and moved by hand: the same picture
    under a slowly changing perspective warp (tilt, turn of the sheet, shift, scale)."""
    import math

    import cv2

    from fetch_faces import kiosk_frames

    rng = np.random.default_rng(seed)
    import tempfile
    from pathlib import Path

    folder = kiosk_frames(faces, Path(tempfile.mkdtemp()) / "f")
    still = load_rgb(folder / "1-straight.jpg")
    h, w = still.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    phase = rng.uniform(0, 2 * math.pi, size=(4, 2))
    for i in range(int(seconds * fps)):
        t = i / fps
        wobble = 28 * np.sin(2 * math.pi * 0.4 * t + phase)  # the sheet tilts and turns
        shift = np.float32([18 * math.sin(0.7 * t), 10 * math.cos(0.5 * t)])
        dst = (src + wobble + shift).astype(np.float32)
        frame = cv2.warpPerspective(still, cv2.getPerspectiveTransform(src, dst), (w, h),
                                    borderMode=cv2.BORDER_REPLICATE)
        yield Frame(np.ascontiguousarray(frame), t, i, f"print{i}")


def test_a_printed_photo_of_an_employee_records_nothing(cfg, enrolled, faces):
    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    loop = KioskLoop(cfg, enrolled)
    out = run(loop, print_attack(faces))
    assert not [o for o in out if o["type"] == "attendance"]
    (refused,) = [o for o in out if o["type"] == "spoof"]
    assert refused["employee_id"] == OBAMA  # it was recognised: only liveness stopped it
    assert enrolled.events() == []
    (audit,) = [r for r in enrolled.audit_rows() if r["action"] == "liveness_failed"]
    import json

    detail = json.loads(audit["detail"])
    assert detail["suspected_nip"] == OBAMA and detail["state"] == "spoof" and "parallax" in detail["scores"]


def test_with_liveness_off_the_same_print_would_be_recorded(cfg, enrolled, faces):
    loop = KioskLoop(cfg, enrolled)  # the test config turns liveness off
    out = run(loop, print_attack(faces, seconds=2.0))
    assert [o["employee_id"] for o in out if o["type"] == "attendance"] == [OBAMA]


def test_an_unknown_face_is_encoded_only_now_and_then_and_is_no_fraud_case(cfg, enrolled, faces):
    """A stranger standing in front of the kiosk for 6 s (at 10 frames/s, liveness in its default
    mode): after a full vote window without a match, one encoding per unknown_reencode_s - the
    rest of the frames cost only detection and landmarks - and nothing in HR's audit log."""
    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    loop = KioskLoop(cfg, enrolled)
    out = run(loop, frames(faces, [("grace_hopper.jpg", 60)], step=0.1))
    assert [o["type"] for o in out if o["type"] != "liveness"] == ["unknown"]
    window, every = cfg.recognition.vote_window, cfg.recognition.unknown_reencode_s
    assert loop.frames == 60 and window <= loop.encodings <= window + 6.0 / every + 1, loop.encodings
    assert not [r for r in enrolled.audit_rows() if r["action"].startswith("liveness")]
    assert enrolled.events() == []



def test_a_print_of_someone_not_enrolled_is_no_hr_case(cfg, faces, tmp_path):
    """Flat motion (a print) of a face that matches nobody: liveness may well see the print, but
    nobody was held up - nothing goes to HR's audit log as suspected fraud."""
    from kiosk.store import Store

    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    with Store(tmp_path / "empty.db") as store:  # nobody enrolled
        loop = KioskLoop(cfg, store)
        out = run(loop, print_attack(faces))
        assert not [o for o in out if o["type"] in ("attendance", "spoof")]
        assert [o["type"] for o in out if o["type"] == "unknown"]
        assert not [r for r in store.audit_rows() if r["action"].startswith("liveness")]
