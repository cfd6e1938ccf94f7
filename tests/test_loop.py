"""The kiosk loop step by step on real faces: a queue of people, unknown faces, a bad frame."""

import json
import sys
from pathlib import Path

import numpy as np

from conftest import BIDEN, OBAMA
from kiosk.camera.base import Frame
from kiosk.imageio import load_rgb
from kiosk.loop import KioskLoop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))  # the attack simulators


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


def test_a_face_held_as_a_lookalike_is_refused_not_recorded_as_the_employee(cfg, enrolled, faces, tmp_path):
    # someone whose face `kiosk enroll` took for Obama's and did not enroll (look-alike hold)
    from enroll.batch import enroll_photos
    from enroll.photos import scan_folder

    from conftest import HOPPER

    (tmp_path / "more" / HOPPER).mkdir(parents=True)
    (tmp_path / "more" / HOPPER / "h.jpg").write_bytes((faces / "obama3.jpg").read_bytes())
    report = enroll_photos(enrolled, scan_folder(tmp_path / "more", cfg.enroll.nip_pattern), cfg, workers=1)
    assert report.held == {HOPPER: [OBAMA]}
    out = run(KioskLoop(cfg, enrolled), frames(faces, [("obama3.jpg", 12)]))
    assert [(o["type"], o["reason"]) for o in out] == [("unknown", "lookalike")]
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


# --- a face shown on a phone (issue 20) --------------------------------------------------------

def _turning_face(faces, face_px, size, seconds, fps, seed, photo="obama.jpg"):
    """A real photo of an enrolled employee whose head turns, as frames (tests/moving_face.py),
    with the face's (x, y, width) and the still photo's frame and landmarks."""
    import math

    from moving_face import face_scene, head_turn

    from kiosk.recognition.faces import models

    m = models()
    scene, lm = face_scene(m, load_rgb(faces / photo), face_px, size)
    rng = np.random.default_rng(seed)
    frames = [f for _, f in head_turn(scene, lm, lambda t: 0.25 * math.sin(2 * math.pi * t / 1.5), seconds, fps, rng)]
    width = float(lm[16, 0] - lm[0, 0])
    return frames, (float(lm[:, 0].mean()), float(lm[:, 1].mean()), width), scene, lm


def phone_replay(faces, seconds=12.0, fps=10.0, seed=8):
    """A phone held up by hand, playing a video of an enrolled employee turning his head: the
    video is made at test setup from a registry photo; the phone (bezel, fingers, hand motion, a
    bright screen) by bench/screen_replay.py.

    Seed 8 draws a phone whose screen glows as the real replay's does (its border and its light:
    glow ratio 2.7 against the 2.0 needed; the real replay of bench/liveness.py part e, 2.3-4.7).
    Seed 5, used before, gives a phone whose surroundings' motion is borderline (2 or 3 pairs when
    liveness decides): it was refused as `screen` on one machine and only held (`unverified`, the
    border alone) on another, because OpenCV's and dlib's float arithmetic differs between CPUs.
    A test must not ride on such a margin."""
    import random

    from screen_replay import replay_frames

    video, face, _, _ = _turning_face(faces, 200, (480, 640), seconds, fps, seed)
    gen = replay_frames(random.Random(seed), video, fps, 0, seconds, face, fps=fps, kind="phone_hand",
                        face_px=(160, 180), face_level=(190, 210), portrait=True)
    for i, (t, frame) in enumerate(gen):
        yield Frame(frame, t, i, f"phone{i}")


def test_a_phone_replaying_an_employee_records_nothing_and_is_an_hr_case(cfg, enrolled, faces):
    import json

    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    out = run(KioskLoop(cfg, enrolled), phone_replay(faces))
    assert not [o for o in out if o["type"] == "attendance"] and enrolled.events() == []
    refused = [o for o in out if o["type"] == "spoof"]  # each new face track (the face lost a moment) again
    assert refused and {(o["employee_id"], o["reason"]) for o in refused} == {(OBAMA, "screen")}
    audits = [json.loads(r["detail"]) for r in enrolled.audit_rows() if r["action"] == "liveness_failed"]
    assert len(audits) == len(refused)
    for detail in audits:  # suspected fraud, with the evidence: which cues agreed, and their scores
        assert detail["suspected_nip"] == OBAMA and detail["reason"] == "screen"
        assert len(detail["scores"]["screen_cues"]) >= cfg.values["liveness"]["screen_cues"], detail["scores"]
        assert {"screen_frame", "screen_context", "screen_glow_clipped"} <= set(detail["scores"])


def test_the_phone_is_refused_when_face_priority_exposure_darkens_its_glow(cfg, enrolled, faces):
    """Face-priority exposure ([camera] face_exposure, on by default) darkens a face brighter than
    its target - a glowing screen is one - so the skin the glow cue counts as clipped is no longer
    white. Each frame carries the exposure compensation it may have been taken with, and the glow
    judges clipping as the camera's own metering would: the same phone is refused as `screen`.
    Blind to it (as before), the darkened frames would leave the glow cue silent."""
    from kiosk.camera.exposure import FacePriority
    from kiosk.camera.fake import ReExposed

    cfg.values["liveness"]["mode"] = "passive_then_challenge"

    def played(ev_known: bool):
        loop, priority, camera, out = KioskLoop(cfg, enrolled), FacePriority(), ReExposed(), []
        glow = []
        for f in phone_replay(faces):
            priority.apply(camera, now=f.ts)  # as kiosk.app's camera reader does before each read
            ev = priority.in_force(f.ts) if ev_known else 0.0
            out += loop.process(Frame(camera(f.image), f.ts, f.seq, f.label, ev=ev))
            priority.observe(loop.last_light, f.ts)  # the worker's measured light steers the next frames
            t = loop.tracker.track
            if t is not None and t.liveness is not None and t.liveness.screen is not None:
                glow.append(t.liveness.screen.glow_hits)
        return out, camera, glow

    out, camera, _ = played(True)
    assert min(camera.ev_history) <= -0.75, camera.ev_history  # the phone's face was darkened
    assert not [o for o in out if o["type"] == "attendance"] and enrolled.events() == []
    refused = [o for o in out if o["type"] == "spoof"]
    assert refused and {o["reason"] for o in refused} == {"screen"}, out
    detail = [json.loads(r["detail"]) for r in enrolled.audit_rows() if r["action"] == "liveness_failed"][0]
    assert "glow" in detail["scores"]["screen_cues"] and detail["scores"]["screen_glow_ev"] < 0, detail["scores"]
    _, _, blind_glow = played(False)
    assert max(blind_glow) < cfg.values["liveness"]["screen_glow_hits"], blind_glow


def test_without_the_screen_check_the_same_phone_replay_would_be_recorded(cfg, enrolled, faces):
    """The attack above is one liveness alone falls for: the video's head turns (parallax)."""
    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    cfg.values["liveness"]["screen_cues"] = 0
    out = run(KioskLoop(cfg, enrolled), phone_replay(faces))
    assert [o["employee_id"] for o in out if o["type"] == "attendance" and o["status"] == "recorded"] == [OBAMA]


def test_the_same_face_turning_in_front_of_the_kiosk_is_recorded(cfg, enrolled, faces):
    """The employee himself (the same kind of moving face, not on a device; the room behind him
    still): recorded with the default liveness, and nothing in HR's audit log."""
    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    video, *_ = _turning_face(faces, 190, (640, 480), 8.0, 10.0, 5, photo="obama2.jpg")
    out = run(KioskLoop(cfg, enrolled), (Frame(f, i / 10.0, i, f"live{i}") for i, f in enumerate(video)))
    assert [o["employee_id"] for o in out if o["type"] == "attendance"] == [OBAMA]
    assert not [r for r in enrolled.audit_rows() if r["action"].startswith("liveness")]


def test_a_kiosk_too_slow_for_liveness_records_nobody_and_says_why_in_the_log(cfg, enrolled, faces, caplog):
    """The same employee turning his head, but analysed only 3.3 times a second (a machine too
    slow for its models): liveness sees neither a blink nor the head's 3D motion, so nothing is
    recorded and he is asked to try again - no HR case - and the log tells the technician why."""
    import logging

    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    video, *_ = _turning_face(faces, 190, (640, 480), 13.0, 10 / 3, 5, photo="obama2.jpg")
    with caplog.at_level(logging.WARNING, logger="kiosk.loop"):
        out = run(KioskLoop(cfg, enrolled), (Frame(f, i * 0.3, i, f"slow{i}") for i, f in enumerate(video)))
    assert not [o for o in out if o["type"] in ("attendance", "spoof")] and enrolled.events() == []
    assert [o["employee_id"] for o in out if o["type"] == "unverified"][:1] == [OBAMA]
    slow = [r.getMessage() for r in caplog.records if "frames a second" in r.getMessage()]
    assert len(slow) == 1 and "only 3.3 frames a second" in slow[0], slow  # once, not at every retry


def _empty_room(scene, lm):
    """The scene without the person: head and body painted over from their surroundings."""
    import cv2

    h, w = scene.shape[:2]
    f = 160 / w
    small = cv2.resize(scene, (160, round(h * f)), interpolation=cv2.INTER_AREA)
    iod = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0))) * f
    eyes = (lm[36:48].mean(axis=0) * f).astype(int)
    mask = np.zeros(small.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(eyes[0]), int(eyes[1] + 0.3 * iod)), (int(1.9 * iod), int(3.0 * iod)), 0, 0, 360, 255, -1)
    body = np.array([[eyes[0] - 1.2 * iod, eyes[1] + 2.2 * iod], [eyes[0] + 1.2 * iod, eyes[1] + 2.2 * iod],
                     [eyes[0] + 4.5 * iod, eyes[1] + 4 * iod], [eyes[0] + 4.5 * iod, small.shape[0]],
                     [eyes[0] - 4.5 * iod, small.shape[0]], [eyes[0] - 4.5 * iod, eyes[1] + 4 * iod]], np.int32)
    cv2.fillPoly(mask, [body], 255)
    filled = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def test_a_live_face_before_curtains_and_flags_is_no_case_and_is_recorded_once_the_room_is_known(cfg, enrolled, faces):
    """The curtains' folds and a flag pole beside the head are long straight edges on both sides
    of the face: the 'frame' cue's look-alike (docs/liveness.md). One cue is no accusation: a
    kiosk that has not yet seen its room empty asks the person to try again (screen_hold), nothing
    for HR; once it has (the empty view between visits), the room's own edges are no border."""
    cfg.values["liveness"]["mode"] = "passive_then_challenge"
    video, _, scene, lm = _turning_face(faces, 190, (640, 480), 8.0, 10.0, 5)
    loop = KioskLoop(cfg, enrolled)
    out = run(loop, (Frame(f, i / 10.0, i, f"live{i}") for i, f in enumerate(video)))
    assert not [o for o in out if o["type"] in ("attendance", "spoof")]
    assert {o["reason"] for o in out if o["type"] == "unverified"} == {"screen_cue"}
    assert not [r for r in enrolled.audit_rows() if r["action"] == "liveness_failed"]
    # the same kiosk, after the person stepped away: the empty room for 8 s, then the person again
    room = _empty_room(scene, lm)
    rng = np.random.default_rng(1)
    t0 = 60.0
    empty = (Frame(np.clip(room + rng.normal(0, 2, room.shape), 0, 255).astype(np.uint8), t0 + i / 10, 1000 + i)
             for i in range(80))
    assert run(loop, empty) == []
    back = (Frame(f, t0 + 8.0 + i / 10.0, 2000 + i, f"back{i}") for i, f in enumerate(video))
    assert [o["employee_id"] for o in run(loop, back) if o["type"] == "attendance"] == [OBAMA]


def test_the_admin_test_and_capture_decide_as_identification_does(cfg, enrolled, faces):
    # "Coba" (test my face) for one employee and the live capture's duplicate warning use the
    # gallery's own match: Obama's face tests as recognised for Obama only, and capturing it
    # for Biden warns that it is Obama's.
    from kiosk.worker import analyse_for_admin

    loop = KioskLoop(cfg, enrolled)
    frame = Frame(load_rgb(faces / "obama3.jpg"), 0.0, 1)
    mine = analyse_for_admin(loop, frame, {"mode": "test", "nip": OBAMA})
    other = analyse_for_admin(loop, frame, {"mode": "test", "nip": BIDEN})
    assert mine["recognised"] is True and mine["best"] == OBAMA and mine["margin"] > cfg.recognition.margin
    assert other["recognised"] is False and other["margin"] < 0 and other["best"] == OBAMA
    m = loop.gallery.match(loop.analyzer.analyze(frame.image).encoding)  # detected as a photo: nearly the same
    assert abs(mine["distance"] - m.distance) < 0.01
    capture = analyse_for_admin(loop, frame, {"mode": "capture", "nip": BIDEN, "session": 1})
    assert capture["duplicate"]["employee_id"] == OBAMA
    assert analyse_for_admin(loop, frame, {"mode": "capture", "nip": OBAMA, "session": 1})["duplicate"] is None
