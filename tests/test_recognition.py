"""Recognition on real faces: same person, different people, two faces, no face, quality gates."""

import cv2
import numpy as np
import pytest

from conftest import side_by_side
from kiosk.config import load_config
from kiosk.imageio import load_rgb
from kiosk.recognition.faces import Box
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.pipeline import choose_face
from kiosk.recognition.tracker import Tracker

RC = load_config(None).recognition


def test_templates_equal_face_recognitions_own(faces, encodings):
    # Our lazy wrapper computes what face_recognition (the reference) computes for the same box;
    # our own detection (downscaled, grey) moves the box slightly, which changes little.
    import face_recognition

    from kiosk.recognition.faces import models

    img = face_recognition.load_image_file(str(faces / "obama.jpg"))
    (loc,) = face_recognition.face_locations(img)
    (ref,) = face_recognition.face_encodings(img, [loc])
    top, right, bottom, left = loc
    ours = models().encode(img, Box(left, top, right + 1, bottom + 1))
    assert np.abs(ref - ours).max() < 1e-4
    assert np.linalg.norm(ref - encodings["obama.jpg"]) < 0.1


def test_same_person_across_photos_and_different_people(encodings):
    d = lambda a, b: float(np.linalg.norm(encodings[a] - encodings[b]))  # noqa: E731
    assert d("obama.jpg", "obama2.jpg") < RC.threshold
    assert d("obama.jpg", "obama3.jpg") < RC.threshold
    assert d("obama.jpg", "biden.jpg") > RC.threshold
    assert d("obama2.jpg", "grace_hopper.jpg") > RC.threshold
    assert d("biden.jpg", "grace_hopper.jpg") > RC.threshold


def test_gallery_identifies_with_distance_and_margin(encodings):
    g = Gallery(np.stack([encodings["obama.jpg"], encodings["obama2.jpg"], encodings["biden.jpg"]]),
                ["obama", "obama", "biden"])
    m = g.match(encodings["obama3.jpg"])
    assert m.employee_id == "obama" and m.runner_up == "biden"
    assert m.accepted(RC.threshold, RC.margin) and m.margin > 0.2
    stranger = g.match(encodings["grace_hopper.jpg"])
    assert not stranger.accepted(RC.threshold, RC.margin)
    assert stranger.reason(RC.threshold, RC.margin) == "unknown"
    # excluding the nearest employee gives the best *different* one (used by duplicate checks)
    assert g.match(encodings["obama3.jpg"], exclude="obama").employee_id == "biden"


def test_gallery_match_equals_brute_force():
    rng = np.random.default_rng(7)
    enc = rng.normal(size=(3000, 128)).astype(np.float32) * 0.09
    ids = [f"e{i % 1000:04d}" for i in range(3000)]
    g = Gallery(enc, ids)
    for probe in rng.normal(size=(20, 128)).astype(np.float32) * 0.09:
        d = np.linalg.norm(enc - probe, axis=1)
        per = {}
        for i, e in enumerate(ids):
            per[e] = min(per.get(e, np.inf), d[i])
        ranked = sorted(per.items(), key=lambda kv: kv[1])
        m = g.match(probe)
        assert m.employee_id == ranked[0][0] and m.runner_up == ranked[1][0]
        assert m.distance == pytest.approx(ranked[0][1], abs=1e-4)
        assert m.margin == pytest.approx(ranked[1][1] - ranked[0][1], abs=1e-4)


def test_ambiguous_when_two_employees_are_too_close(encodings):
    e = encodings["obama.jpg"]
    g = Gallery(np.stack([e, e + 0.001]), ["a", "b"])
    assert g.match(e).reason(RC.threshold, RC.margin) == "ambiguous"


def test_two_faces_picks_the_larger_central_one_and_enrollment_refuses(faces, analyzer):
    frame = side_by_side(load_rgb(faces / "obama.jpg"), load_rgb(faces / "biden.jpg"))
    a = analyzer.analyze(frame)
    assert len(a.faces) == 2 and a.encoding is not None
    assert analyzer.analyze(frame, single=True).reason == "several_faces"
    # a larger face off-centre loses to a large face in the middle
    boxes = [Box(0, 0, 200, 200), Box(300, 250, 480, 430)]
    assert choose_face(boxes, 800, 700) == boxes[1]


def test_no_face(faces, analyzer):
    a = analyzer.analyze(load_rgb(faces / "chelsea.png"))  # a cat
    assert a.faces == [] and a.reason == "no_face" and a.encoding is None


@pytest.mark.parametrize("name, change, reason", [
    ("dark", lambda im: (im * 0.15).astype(np.uint8), "too_dark"),
    ("bright", lambda im: np.clip(im.astype(int) + 150, 0, 255).astype(np.uint8), "too_bright"),
    ("blurred", lambda im: cv2.GaussianBlur(im, (0, 0), 9), "blurred"),
    ("far away", lambda im: cv2.resize(im, None, fx=0.25, fy=0.25), "too_small"),
])
def test_quality_gates_refuse_with_a_reason(faces, analyzer, name, change, reason):
    a = analyzer.analyze(change(load_rgb(faces / "obama.jpg")))
    assert a.reason == reason and a.encoding is None, (name, a.quality)


def test_partial_face_is_refused(faces, analyzer):
    assert analyzer.analyze(load_rgb(faces / "obama_partial_face.jpg")).reason == "partial"
    assert analyzer.analyze(load_rgb(faces / "obama_partial_face2.jpg")).reason == "partial"


def test_turned_head_is_refused(faces, analyzer):
    # obama2.jpg is a real, slightly turned face (yaw about -0.2): refused by a strict gate,
    # accepted by the default one.
    strict = type(RC)(**{**vars(RC), "max_yaw": 0.1})
    from kiosk.recognition.pipeline import FaceAnalyzer

    a = FaceAnalyzer(strict).analyze(load_rgb(faces / "obama2.jpg"))  # yaw about -0.2
    assert a.reason == "not_frontal"
    assert FaceAnalyzer(RC).analyze(load_rgb(faces / "obama2.jpg")).reason is None


def test_tracker_needs_k_of_n_votes_in_one_track():
    t = Tracker(votes_needed=3, vote_window=5, gap_s=1.0)
    box = Box(100, 100, 300, 300)
    tr = t.observe(box, 0.0)
    assert t.vote(tr, "A", 0.3, 0.2) is None
    assert t.vote(tr, None, 0.7, 0.0) is None
    assert t.vote(tr, "B", 0.4, 0.1) is None
    assert t.vote(tr, "A", 0.35, 0.2) is None
    tr2 = t.observe(Box(110, 105, 310, 305), 0.3)  # moved a little: same track
    assert tr2 is tr
    assert t.vote(tr, "A", 0.32, 0.2) == "A"
    assert tr.best["A"] == (0.3, 0.2)
    assert t.vote(tr, "A", 0.3, 0.2) is None  # one identification per track
    # gone for longer than the gap: a new person, a new vote
    tr3 = t.observe(box, 5.0)
    assert tr3 is not tr and len(tr3.votes) == 0


def test_tracker_reports_unknown_once_after_a_full_window():
    t = Tracker(votes_needed=3, vote_window=5, gap_s=1.0)
    tr = t.observe(Box(0, 0, 100, 100), 0.0)
    flags = []
    for _ in range(7):
        t.vote(tr, None, 0.8, 0.0)
        flags.append(t.unknown(tr))
    assert flags == [False, False, False, False, True, False, False]
