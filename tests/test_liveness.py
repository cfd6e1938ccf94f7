"""Liveness (kiosk/liveness.py) on real faces only.

* Print attacks simulated from the real photos of the `faces` fixture (random perspective tilts,
  roll, scale, translation, hand tremor, blur, noise, lighting; bench/liveness.py's
  `print_frames`) go through the real dlib detector and 68 landmarks: none may be accepted.
* The pieces (blink, planarity, challenges, inconclusive handling) on landmark sequences built
  from a real face's 68 points: eyelids moved for a blink, a homography for a tilted print,
  the nose moved sideways against the rest of the face for a head turn (parallax).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from kiosk.liveness import (LivenessConfig, LivenessTracker, ear, openness, planarity)
from kiosk.recognition.quality import pose

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

FPS = 12.0


@pytest.fixture(scope="module")
def real_landmarks(faces):
    """68 landmarks of real single-face photos: name -> (68, 2) float64."""
    from kiosk.imageio import load_rgb
    from kiosk.recognition.faces import models
    from kiosk.recognition.pipeline import choose_face

    m = models()
    out = {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "grace_hopper.jpg"):
        im = load_rgb(faces / name)
        box = choose_face(m.detect(im, 1024, 0), im.shape[1], im.shape[0])
        out[name] = m.shape68(im, box).astype(np.float64)
    return out


def _jitter(lm, rng, sigma=0.3):
    return lm + rng.normal(0, sigma, lm.shape)


def _close_eyes(lm, amount):
    """The eyelids moved towards each other by `amount` (0 open .. 1 shut)."""
    out = lm.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        mid = (lm[upper] + lm[lower]) / 2
        out[upper] = lm[upper] + (mid - lm[upper]) * amount
        out[lower] = lm[lower] + (mid - lm[lower]) * amount
    return out


def _homography(lm, H):
    p = np.c_[lm, np.ones(len(lm))] @ H.T
    return p[:, :2] / p[:, 2:3]


def _tilt(lm, ry_deg, rx_deg, f=600.0):
    """A real landmark set as if printed flat and turned in 3D by the given angles."""
    c = lm.mean(axis=0)
    ax, ay = np.radians(rx_deg), np.radians(ry_deg)
    Rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    Ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    p = np.c_[lm - c, np.zeros(len(lm))] @ (Ry @ Rx).T + np.array([0, 0, f])
    return f * p[:, :2] / p[:, 2:3] + c


def _turn(lm, amount):
    """A head turn built from a real face: points that stand out of the face (nose, then mouth
    and brows less) move sideways more than the eyes and the jaw line (parallax)."""
    out = lm.copy()
    iod = np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0))
    depth = np.zeros(68)
    depth[27:36] = [0.3, 0.5, 0.7, 1.0, 0.6, 0.7, 0.8, 0.7, 0.6]  # nose bridge .. tip .. nostrils
    depth[48:68] = 0.35
    depth[17:27] = 0.25
    depth[0:17] = -0.3  # the jaw line is behind the eyes
    out[:, 0] += amount * iod * depth
    return out


def _feed(tracker, seq):
    v = None
    for ts, lm in seq:
        v = tracker.update(ts, lm, None, (480, 640, 3))
        if v.state != "pending":
            break
    return v


def _still(lm, seconds, rng, t0=0.0):
    return [(t0 + i / FPS, _jitter(lm, rng)) for i in range(int(seconds * FPS))]


# --- print attacks through the real detector ---------------------------------------------------

N_TRACKS, TRACK_S, TRACK_FPS = 160, 2.0, 8.0


@pytest.fixture(scope="module")
def print_tracks(faces):
    """(photo, [(ts, landmarks)]) for N_TRACKS simulated print attacks, detected once."""
    from liveness import print_frames

    from kiosk.imageio import load_rgb
    from kiosk.recognition.faces import models
    from kiosk.recognition.pipeline import choose_face

    m = models()
    photos = []
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "grace_hopper.jpg", "astronaut.png"):
        im = load_rgb(faces / name)
        box = choose_face(m.detect(im, 1024, 0), im.shape[1], im.shape[0])
        photos.append((name, im, tuple(box.as_list())))
    rng = random.Random(20261124)
    tracks = []
    for i in range(N_TRACKS):
        name, im, box = photos[i % len(photos)]
        seq = []
        for ts, frame in print_frames(rng, im, box, TRACK_S, TRACK_FPS, size=(256, 192), face_px=(95, 125)):
            b = choose_face(m.detect(frame, 256, 0), frame.shape[1], frame.shape[0])
            if b is not None:
                seq.append((ts, m.shape68(frame, b)))
        tracks.append((name, seq))
    return tracks


def test_simulated_print_attacks_are_never_accepted(print_tracks):
    seen = [t for t in print_tracks if len(t[1]) >= 4]
    # the simulation must really show faces to the detector, or the test proves nothing
    assert len(seen) >= 0.8 * len(print_tracks), len(seen)
    moved = 0
    for mode in ("passive", "passive_then_challenge", "challenge"):
        for k, (name, seq) in enumerate(seen):
            tracker = LivenessTracker(LivenessConfig(mode=mode), random.Random(k))
            v = _feed(tracker, seq)
            assert v.state != "live", (mode, name, k, v.as_dict())
            moved += v.scores["motion"] >= 0.04
    # the prints were moved out of plane enough for the 3D check to judge most of them
    assert moved >= 0.5 * 3 * len(seen), moved


def test_print_attack_tracks_never_close_the_eyes(print_tracks):
    """What the attack looks like to liveness: the face moves and tilts, the eyes stay open."""
    dips = []
    for _, seq in print_tracks:
        if len(seq) >= 4:
            o = np.array([openness(lm) for _, lm in seq])
            e = np.array([ear(lm) for _, lm in seq])
            dips.append(np.minimum(1 - o / np.percentile(o, 80), 1 - e / np.percentile(e, 80)).max())
    assert max(dips) < LivenessConfig().blink_dip, max(dips)


# --- blink -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_a_blink_on_real_landmarks_is_live_at_any_scale(real_landmarks, scale):
    rng = np.random.default_rng(1)
    lm = real_landmarks["obama.jpg"] * scale
    seq = _still(lm, 1.0, rng)
    t = 1.0
    for amount in (0.5, 0.9, 0.6, 0.1, 0.0, 0.0):  # closes and opens within 0.4 s
        seq.append((t, _jitter(_close_eyes(lm, amount), rng)))
        t += 1 / FPS
    seq += _still(lm, 0.5, rng, t)
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), seq)
    assert v.state == "live" and v.reason == "blink", v.as_dict()
    assert v.scores["blink"] > 0.6
    assert v.scores["ear_min"] < 0.6 * ear(lm)


def test_eyes_closed_too_long_or_half_closed_is_no_blink(real_landmarks):
    rng = np.random.default_rng(2)
    lm = real_landmarks["biden.jpg"]
    cfg = LivenessConfig(mode="passive")
    # closed for 1.5 s (looking down, eyes shut): not a blink
    seq = _still(lm, 1.0, rng) + [(1.0 + i / FPS, _jitter(_close_eyes(lm, 0.9), rng)) for i in range(18)]
    seq += _still(lm, 1.0, rng, 2.6)
    v = _feed(LivenessTracker(cfg), seq)
    assert v.state == "pending" and v.scores["blinks"] == 0, v.as_dict()
    # a squint (20 % closed) is below the dip threshold
    seq = _still(lm, 1.0, rng) + [(1.0 + i / FPS, _jitter(_close_eyes(lm, 0.2), rng)) for i in range(3)]
    seq += _still(lm, 1.0, rng, 1.3)
    v = _feed(LivenessTracker(cfg), seq)
    assert v.state == "pending" and v.scores["blinks"] == 0, v.as_dict()


def test_a_print_tilted_back_and_forth_fakes_no_blink(real_landmarks):
    """Tilting a photo about its horizontal axis squashes the eyes (the EAR drops) but also the
    nose: the openness ratio stays, so no blink."""
    rng = np.random.default_rng(3)
    lm = real_landmarks["grace_hopper.jpg"]
    seq = []
    for i in range(int(3 * FPS)):
        t = i / FPS
        rx = 55 * max(0.0, np.sin(2 * np.pi * t / 1.2)) ** 4  # quick 55 degree nods of the print
        seq.append((t, _jitter(_tilt(lm, 0, rx), rng)))
    squashed = min(ear(s[1]) for s in seq) / ear(lm)
    assert squashed < 0.7  # the classic EAR would have "blinked"
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), seq)
    assert v.scores["blinks"] == 0, v.as_dict()
    assert v.state != "live"


# --- 3D versus flat ----------------------------------------------------------------------------

def test_planarity_separates_a_tilted_print_from_a_head_turn(real_landmarks):
    lm = real_landmarks["obama.jpg"]
    motion, nonplanar = planarity(lm, _tilt(lm, 30, 15))
    assert motion > 0.04 and nonplanar < 0.005, (motion, nonplanar)
    motion, nonplanar = planarity(lm, _turn(lm, 0.5))
    assert motion > 0.04 and nonplanar > LivenessConfig().nonplanar_live, (motion, nonplanar)
    # moving, turning in plane and zooming is not motion the check judges
    c, a = lm.mean(axis=0), np.radians(10)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    motion, _ = planarity(lm, (lm - c) @ R.T * 1.3 + c + 40)
    assert motion < 1e-6


def test_a_flat_object_waved_in_3d_is_declared_spoof(real_landmarks):
    rng = np.random.default_rng(4)
    lm = real_landmarks["obama2.jpg"]
    seq = [(i / FPS, _jitter(_tilt(lm, 35 * np.sin(i / FPS * 4), 25 * np.cos(i / FPS * 3)), rng, 0.2))
           for i in range(int(4 * FPS))]
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), seq)
    assert v.state == "spoof" and v.reason == "flat_motion", v.as_dict()


def test_a_head_turning_and_back_is_live(real_landmarks):
    rng = np.random.default_rng(5)
    lm = real_landmarks["biden.jpg"]
    seq = [(i / FPS, _jitter(_turn(lm, 0.9 * np.sin(i / FPS * 4)), rng)) for i in range(int(3 * FPS))]
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), seq)
    assert v.state == "live" and v.reason == "nonplanar", v.as_dict()


def test_a_still_face_is_inconclusive_not_spoof(real_landmarks):
    """No blink and no motion: nothing to judge. Pending, then a timeout (not 'flat_motion')."""
    rng = np.random.default_rng(6)
    lm = real_landmarks["grace_hopper.jpg"]
    cfg = LivenessConfig(mode="passive", max_seconds=4.0)
    tracker = LivenessTracker(cfg)
    states = [tracker.update(ts, x).state for ts, x in _still(lm, 3.9, rng)]
    assert set(states) == {"pending"}
    assert tracker.verdict.scores["flat_pairs"] == 0 and tracker.verdict.scores["nonplanar_pairs"] == 0
    # sliding sideways and zooming (a person stepping closer) is not judged either
    t0 = 3.9
    for i in range(int(0.5 * FPS)):
        x = _jitter(lm * (1 + 0.05 * i) + 10 * i, rng)
        v = tracker.update(t0 + i / FPS, x)
    assert v.state == "spoof" and v.reason == "timeout", v.as_dict()
    assert v.scores["flat_pairs"] == 0


def test_mode_off_is_live_at_once_and_bad_config_is_refused(real_landmarks):
    v = LivenessTracker(LivenessConfig(mode="off")).update(0.0, real_landmarks["obama.jpg"])
    assert v.state == "live" and v.reason == "off"
    with pytest.raises(ValueError):
        LivenessConfig(mode="sometimes")
    with pytest.raises(ValueError):
        LivenessConfig(challenge_kinds=("smile",))


# --- challenges --------------------------------------------------------------------------------

def _blink_at(lm, t, rng):
    return [(t + i / FPS, _jitter(_close_eyes(lm, a), rng)) for i, a in enumerate((0.6, 0.95, 0.5, 0.0))]


def test_challenge_order_is_random_but_reproducible(real_landmarks):
    lm = real_landmarks["obama.jpg"]
    firsts = set()
    for seed in range(20):
        cfg = LivenessConfig(mode="challenge", challenge_count=2)
        a = LivenessTracker(cfg, random.Random(seed)).update(0.0, lm)
        b = LivenessTracker(cfg, random.Random(seed)).update(0.0, lm)
        assert a.prompt == b.prompt and a.prompt in ("blink", "turn_left", "turn_right")
        firsts.add(a.prompt)
    assert firsts == {"blink", "turn_left", "turn_right"}


def test_blink_challenge_is_met_by_a_blink_after_it_is_asked(real_landmarks):
    rng = np.random.default_rng(7)
    lm = real_landmarks["obama2.jpg"]
    cfg = LivenessConfig(mode="challenge", challenge_kinds=("blink",))
    tracker = LivenessTracker(cfg, random.Random(1))
    v = _feed(tracker, _still(lm, 1.5, rng))
    assert v.state == "pending" and v.prompt == "blink" and v.challenge_met is None
    v = _feed(tracker, _blink_at(lm, 1.5, rng) + _still(lm, 0.5, rng, 1.9))
    assert v.state == "live" and v.reason == "challenge" and v.challenge == "blink" and v.challenge_met


def test_unanswered_challenge_fails_at_its_time_limit(real_landmarks):
    rng = np.random.default_rng(8)
    lm = real_landmarks["biden.jpg"]
    cfg = LivenessConfig(mode="passive_then_challenge", passive_s=2.0, challenge_s=3.0, challenge_tries=2)
    tracker = LivenessTracker(cfg, random.Random(3))
    last, prompts = None, []
    for ts, x in _still(lm, 12.0, rng):
        v = tracker.update(ts, x)
        if ts < 2.0:
            assert v.prompt is None  # passive phase: nothing asked yet
        if v.state != "pending":
            last = (ts, v)
            break
        if v.prompt and (not prompts or prompts[-1][1] != v.prompt):
            prompts.append((ts, v.prompt))
    ts, v = last
    assert v.state == "spoof" and v.reason == "challenge_failed" and v.challenge_met is False
    assert v.scores["challenges_failed"] == 2
    # asked at 2.0 s; failed at 5.0 s and asked another kind; failed again at 8.0 s
    assert len(prompts) == 2 and prompts[0][1] != prompts[1][1], prompts
    assert abs(prompts[0][0] - 2.0) <= 1 / FPS and 5.0 <= prompts[1][0] <= 5.0 + 2 / FPS, prompts
    assert 8.0 <= ts <= 8.0 + 2 / FPS


@pytest.mark.parametrize("asked,amount,ok", [("turn_left", 0.5, True), ("turn_right", -0.5, True),
                                             ("turn_left", -0.5, False), ("turn_right", 0.0, False)])
def test_turn_challenge_needs_the_asked_direction(real_landmarks, asked, amount, ok):
    rng = np.random.default_rng(9)
    lm = real_landmarks["grace_hopper.jpg"]
    cfg = LivenessConfig(mode="challenge", challenge_kinds=(asked,), challenge_s=2.0, challenge_tries=1)
    seq = _still(lm, 0.5, rng)
    seq += [(0.5 + i / FPS, _jitter(_turn(lm, amount * min(1.0, i / 6)), rng)) for i in range(int(2.5 * FPS))]
    assert (pose(_turn(lm, 0.5))[0] - pose(lm)[0]) > 0  # the person's left is the image's right
    v = _feed(LivenessTracker(cfg, random.Random(0)), seq)
    if ok:
        assert v.state == "live" and v.reason == "challenge" and v.challenge == asked, v.as_dict()
    else:
        assert v.state == "spoof" and v.reason == "challenge_failed", v.as_dict()


def test_a_print_turned_on_its_vertical_axis_does_not_answer_a_turn(real_landmarks):
    rng = np.random.default_rng(10)
    lm = real_landmarks["obama.jpg"]
    cfg = LivenessConfig(mode="challenge", challenge_kinds=("turn_left", "turn_right"), challenge_s=2.0)
    seq = [(i / FPS, _jitter(_tilt(lm, 50 * np.sin(i / FPS * 2), 0), rng)) for i in range(int(3 * FPS))]
    v = _feed(LivenessTracker(cfg, random.Random(0)), seq)
    assert v.state != "live", v.as_dict()


def test_verdict_record_is_plain_data(real_landmarks):
    import json

    rng = np.random.default_rng(11)
    lm = real_landmarks["obama.jpg"]
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), _still(lm, 1.0, rng) + _blink_at(lm, 1.0, rng))
    d = json.loads(json.dumps(v.as_dict()))
    assert d["state"] == "live" and set(d["scores"]) >= {"blink", "ear", "nonplanar", "motion"}
