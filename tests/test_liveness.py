"""Liveness (kiosk/liveness.py) on real faces only.

* Print attacks simulated from the real photos of the `faces` fixture (random perspective tilts,
  roll, scale, translation, hand tremor, blur, noise, lighting; bench/liveness.py's
  `print_frames`) go through the real dlib detector and 68 landmarks: none may be accepted.
* The face's surface (image points tracked frame to frame) on real photos rendered as frames:
  a print tilted by hand is declared flat; the same photo whose nose and cheeks move by
  different amounts (a head turning: parallax) is live; a still face or a person stepping
  closer is neither.
* The landmark pieces (blink, challenges, inconclusive handling) on landmark sequences built
  from a real face's 68 points: eyelids moved for a blink, a homography for a tilted print,
  the nose moved sideways against the rest of the face for a head turn.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from kiosk.liveness import (CHALLENGE_KINDS, LivenessConfig, LivenessTracker, ear, eye_distance, openness,
                            planarity)
from kiosk.imageio import load_rgb
from kiosk.recognition.quality import pose
from moving_face import face_scene, head_turn

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
    """Feed (ts, landmarks) or (ts, landmarks, frame) items until a verdict."""
    v = None
    for ts, lm, *image in seq:
        v = tracker.update(ts, lm, None, image[0] if image else None)
        if v.state != "pending":
            break
    return v


def _still(lm, seconds, rng, t0=0.0):
    return [(t0 + i / FPS, _jitter(lm, rng)) for i in range(int(seconds * FPS))]


# --- print attacks through the real detector ---------------------------------------------------

N_TRACKS, TRACK_S, TRACK_FPS = 100, 3.0, 10.0


@pytest.fixture(scope="module")
def print_tracks(faces):
    """(photo, [(ts, landmarks, grey frame)]) for N_TRACKS simulated print attacks, detected once."""
    import cv2
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
                seq.append((ts, m.shape68(frame, b), cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)))
        tracks.append((name, seq))
    return tracks


def test_simulated_print_attacks_are_never_accepted(print_tracks):
    seen = [t for t in print_tracks if len(t[1]) >= 4]
    # the simulation must really show faces to the detector, or the test proves nothing
    assert len(seen) >= 0.8 * len(print_tracks), len(seen)
    flat = 0
    for mode in ("passive", "passive_then_challenge", "challenge"):
        for k, (name, seq) in enumerate(seen):
            tracker = LivenessTracker(LivenessConfig(mode=mode), random.Random(k))
            v = _feed(tracker, seq)
            assert v.state != "live", (mode, name, k, v.as_dict())
            flat += v.state == "spoof" and v.reason == "flat_motion"
    # not just "not yet": the surface check already refused about half as flat within 3 s (159 of
    # 300 when written; 8 flat pairs are needed, a pair every 0.1 s)
    assert flat >= 0.45 * 3 * len(seen), flat


def test_print_attack_tracks_never_close_the_eyes(print_tracks):
    """What the attack looks like to liveness: the face moves and tilts, the eyes stay open."""
    dips = []
    for _, seq in print_tracks:
        if len(seq) >= 4:
            o = np.array([openness(lm) for _, lm, _ in seq])
            e = np.array([ear(lm) for _, lm, _ in seq])
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
    assert motion > 0.04 and nonplanar > LivenessConfig().turn_nonplanar, (motion, nonplanar)
    # moving, turning in plane and zooming is not motion the check judges
    c, a = lm.mean(axis=0), np.radians(10)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    motion, _ = planarity(lm, (lm - c) @ R.T * 1.3 + c + 40)
    assert motion < 1e-6


# --- the face's surface, on frames rendered from real photos --------------------------------------

SURFACE_FPS = 15.0


# The scene of `face_frames` (the Oval Office) has curtains and a flag pole beside the head: long
# straight edges on both sides of the face, the screen check's 'frame' look-alike (see the screen
# tests below). Tests of the other liveness signals in that scene leave the screen check out.
NO_SCREEN = {"screen_cues": 0}


@pytest.fixture(scope="module")
def face_frames(faces):
    """A real photo scaled so that the face is about 130 px wide in a 320 x 240 frame, with the
    landmarks of the real detector: (frame RGB, landmarks, dlib models)."""
    from kiosk.imageio import load_rgb
    from kiosk.recognition.faces import models

    m = models()
    frame, lm = face_scene(m, load_rgb(faces / "obama.jpg"), 130, (320, 240))
    return frame, lm, m


def _relief_frames(frame, lm, amount_at, seconds, rng, noise=2.0):
    """A head turning, made from a still photo (tests/moving_face.py), at SURFACE_FPS."""
    return head_turn(frame, lm, amount_at, seconds, SURFACE_FPS, rng, noise)


def _with_landmarks(m, frames):
    from kiosk.recognition.pipeline import choose_face

    seq = []
    for t, fr in frames:
        b = choose_face(m.detect(fr, 320, 0), fr.shape[1], fr.shape[0])
        if b is not None:
            seq.append((t, m.shape68(fr, b), fr))
    return seq


def _noisy(img, rng):
    """The frame with the camera's sensor noise (2 grey levels)."""
    return np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)


def _as_print(frame, angles_at, seconds, rng):
    """The photo as a flat print turned by hand: `angles_at(t)` = (about x, about y, in plane),
    degrees; (t, frame) at SURFACE_FPS, with sensor noise."""
    import cv2

    from liveness import _plane_homography

    out = []
    for i in range(int(seconds * SURFACE_FPS)):
        t = i / SURFACE_FPS
        H = _plane_homography(320, 240, *angles_at(t), 1.0, 0, 0, 320, 240, 1.0)
        out.append((t, _noisy(cv2.warpPerspective(frame, H, (320, 240), borderMode=cv2.BORDER_REFLECT), rng)))
    return out


def test_a_head_turning_is_live_from_its_surface_alone(face_frames):
    """Parallax of the surface (nose against cheeks), with the blink check unable to fire."""
    frame, lm, m = face_frames
    rng = np.random.default_rng(5)
    # the nose swings by up to 0.2 eye distances against the cheeks: a head turning about 10 degrees
    seq = _with_landmarks(m, _relief_frames(frame, lm, lambda t: 0.2 * np.sin(2 * np.pi * t / 1.5), 3.0, rng))
    assert len(seq) >= 40
    v = _feed(LivenessTracker(LivenessConfig(mode="passive", blinks_needed=5, **NO_SCREEN)), seq)
    assert v.state == "live" and v.reason == "parallax", v.as_dict()["scores"]
    assert v.scores["parallax_region"] in ("nose", "jaw", "left_eye", "right_eye", "mouth")
    assert abs(v.scores["fps"] - SURFACE_FPS) < 2.0  # the rate it ran at, kept with the event


def test_the_same_photo_tilted_as_a_print_is_flat(face_frames):
    """The same photo, the same noise, moved as a plane (a print tilted and turned by hand)."""
    frame, lm, m = face_frames
    rng = np.random.default_rng(4)
    frames = _as_print(frame, lambda t: (25 * np.sin(t * 3), 30 * np.sin(t * 4 + 1), 4 * np.sin(t * 2)), 4.0, rng)
    seq = _with_landmarks(m, frames)
    assert len(seq) >= 40
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), seq)
    assert v.state == "spoof" and v.reason == "flat_motion", v.as_dict()
    assert v.scores["motion"] >= LivenessConfig().flat_min_motion  # it was moved out of plane


def test_flat_motion_with_live_evidence_too_is_a_retry_not_an_accusation(real_landmarks):
    """HR's fraud log gets a face only on one-sided evidence. A real face held still on a
    low-resolution camera once gave 8 flat pairs *and* 3 live ones (bench/visit.py, man A 4.8 s
    into a track), and on soft or enlarged pictures 8 flat with 2 live (3 of 624 genuine tracks);
    about 1 % of simulated prints' flat verdicts had 2 live pairs too (docs/liveness.md,
    "Fairness"): they are still refused, only not accused. One stray live pair is not enough. The
    decision on the tracker's counts, as its surface check leaves them."""
    lm = real_landmarks["obama.jpg"]
    verdicts = {}
    for live in (1, 2, 3):
        tracker = LivenessTracker(LivenessConfig(mode="passive", **NO_SCREEN))
        assert tracker.update(0.0, lm, None, None).state == "pending"
        tracker.flat_pairs, tracker.live_pairs = LivenessConfig().flat_pairs, live
        verdicts[live] = tracker.update(0.1, lm, None, None)
    assert (verdicts[1].state, verdicts[1].reason, verdicts[1].suspected) == ("spoof", "flat_motion", True)
    for live in (2, 3):
        assert (verdicts[live].state, verdicts[live].reason, verdicts[live].suspected) == \
            ("unverified", "mixed_motion", False)


def test_eyes_that_lost_their_tracked_points_get_new_ones(face_frames):
    """In a dim picture or on darker skin the tracked points gather on the lit cheeks and nose and
    the shadowed eyes can lose theirs while enough remain elsewhere; the eyes' motion is then no
    longer measured, and a real face that moves its eyes against a still head looks flat (a genuine
    clip made darker was accused as a print: docs/liveness.md, "Dark faces"). A region left
    without points gets new ones from its own corners at the next frame."""
    import cv2

    from kiosk.liveness import _REGIONS, SurfaceFlow, _region_counts, _regions_of

    frame, lm, _ = face_frames
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(3)
    flow = SurfaceFlow()
    flow.update(0.0, _noisy(grey, rng), lm)
    eyes = [list(_REGIONS).index("left_eye"), list(_REGIONS).index("right_eye")]
    kept = ~np.isin(_regions_of(flow.pts, lm), eyes)  # the eyes' points lost, as in the dark clip
    flow.ids, flow.pts = flow.ids[kept], flow.pts[kept]
    assert len(flow.pts) >= SurfaceFlow.MIN_POINTS  # enough left that no full refill would come
    flow.update(1 / SURFACE_FPS, _noisy(grey, rng), lm)
    counts = _region_counts(flow.pts, lm)
    assert all(counts[k] >= SurfaceFlow.MIN_REGION for k in eyes), dict(zip(_REGIONS, counts.tolist()))
    # and the eyes' new points are tracked on: their motion is measured again from here
    for i in range(2, 8):
        pair = flow.update(i / SURFACE_FPS, _noisy(grey, rng), lm)
    assert pair is not None and pair.points >= SurfaceFlow.MIN_POINTS


def test_a_glitch_in_one_frame_is_counted_once(face_frames):
    """A still print whose left-eye area jumps sideways in one single frame, twice (a glint on
    glasses, a compression artefact): each glitch puts one region off the homography in both
    pairs that have that frame as an end - the pair ending there and the pair starting there.
    Those share the frame's error, so they are one piece of evidence, not two: two glitches are
    two live pairs, short of the three "live" needs. (Counting the pair that starts where the
    last counted one ended accepted a clip still in the seed-14 attack set, docs/liveness.md.)"""
    import cv2

    frame, lm, m = face_frames
    rng = np.random.default_rng(13)
    h, w = frame.shape[:2]
    iod = eye_distance(lm)
    eye = lm[36:42].mean(axis=0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xx - eye[0]) ** 2 + (yy - eye[1]) ** 2) / (2 * (0.4 * iod) ** 2)).astype(np.float32)
    glitched = cv2.remap(frame, (xx - 0.25 * iod * bump).astype(np.float32), yy, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    glitch_at = (15, 35)  # frames: 1 s and 2.3 s in, far more than planar_gap_s apart
    frames = [(i / SURFACE_FPS, _noisy(glitched if i in glitch_at else frame, rng))
              for i in range(int(4 * SURFACE_FPS))]
    v = _feed(LivenessTracker(LivenessConfig(mode="passive", max_seconds=60)), _with_landmarks(m, frames))
    assert v.state == "pending", v.as_dict()
    assert v.scores["parallax"] >= LivenessConfig().parallax_live and v.scores["parallax_region"] == "left_eye"
    assert v.scores["parallax_pairs"] == len(glitch_at), v.as_dict()


def test_a_still_face_or_one_stepping_closer_is_inconclusive_not_spoof(face_frames):
    """No blink and no motion: nothing to judge. Pending, then "unverified" on a timeout (not an accusation: not "spoof" by flat_motion)."""
    import cv2

    frame, lm, m = face_frames
    rng = np.random.default_rng(6)
    cfg = LivenessConfig(mode="passive", max_seconds=4.0)
    frames = [(i / SURFACE_FPS, _noisy(frame, rng)) for i in range(int(3 * SURFACE_FPS))]
    # then sliding sideways and zooming in (a person stepping closer): moved, but not out of plane
    for i in range(int(1.5 * SURFACE_FPS)):
        s = 1 + 0.01 * i
        M = np.float32([[s, 0, 160 * (1 - s) + 1.5 * i], [0, s, 120 * (1 - s)]])
        out = cv2.warpAffine(frame, M, (320, 240), borderMode=cv2.BORDER_REFLECT)
        frames.append((3.0 + i / SURFACE_FPS, _noisy(out, rng)))
    tracker = LivenessTracker(cfg)
    for ts, lm_, fr in _with_landmarks(m, frames):
        v = tracker.update(ts, lm_, None, fr)
        if v.state != "pending":
            break
    assert v.state == "unverified" and v.reason == "timeout" and ts > 4.0, v.as_dict()
    assert v.scores["flat_pairs"] == 0 and v.scores["parallax_pairs"] == 0 and v.scores["pairs"] > 40


def _eyes_shut(frame, lm, amount):
    """The photo with its eye openings painted over by the surrounding skin (cv2.inpaint) for
    `amount` >= 0.5: what the camera sees of eyelids closed over the iris."""
    import cv2

    if amount < 0.5:
        return frame
    mask = np.zeros(frame.shape[:2], np.uint8)
    for eye in (lm[36:42], lm[42:48]):
        cv2.fillConvexPoly(mask, cv2.convexHull(eye.astype(np.int32)), 255)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    return cv2.inpaint(frame, mask, 5, cv2.INPAINT_TELEA)


def test_a_landmark_blink_counts_only_when_the_eyes_look_closed(face_frames):
    """dlib's eyelid points can 'blink' on a blurred print: with frames, a blink counts only when
    the eyes' appearance changed too (the open frame aligned onto the closed one by the face's
    tracked surface), not when the picture of the eyes stayed the same."""
    frame, lm, m = face_frames
    rng = np.random.default_rng(12)
    seq = [(ts, x, 0.0) for ts, x in _still(lm, 1.0, rng)]  # (ts, landmarks, how closed)
    t = 1.0
    for amount in (0.5, 0.9, 0.6, 0.1, 0.0, 0.0):
        seq.append((t, _jitter(_close_eyes(lm, amount), rng), amount))
        t += 1 / FPS
    seq += [(ts, x, 0.0) for ts, x in _still(lm, 1.0, rng, t)]

    # the landmarks alone: a blink
    assert _feed(LivenessTracker(LivenessConfig(mode="passive")), [(ts, x) for ts, x, _ in seq]).reason == "blink"
    # with frames of a face whose eyes never changed (a print): no blink, and it is kept as unconfirmed
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), [(ts, x, _noisy(frame, rng)) for ts, x, _ in seq])
    assert v.state == "pending" and v.scores["blinks"] == 0, v.as_dict()
    assert v.scores["blinks_unconfirmed"] == 1 and v.scores["blink_eyes"] < LivenessConfig().blink_eye_change
    # with frames whose eyes really closed: the blink counts
    shut = _eyes_shut(frame, lm, 1.0)
    v = _feed(LivenessTracker(LivenessConfig(mode="passive", **NO_SCREEN)),
              [(ts, x, _noisy(shut if a >= 0.5 else frame, rng)) for ts, x, a in seq])
    assert v.state == "live" and v.reason == "blink", v.as_dict()
    assert v.scores["blink_eyes"] >= LivenessConfig().blink_eye_change > v.scores["blink_nose"] * 2


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
        cfg = LivenessConfig(mode="challenge", challenge_kinds=CHALLENGE_KINDS, challenge_count=2)
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


def test_blink_challenge_answered_in_front_of_the_camera(face_frames):
    """'Kedipkan mata' with frames: the eyes really closing answers it; the eyelid landmarks
    dipping over a picture whose eyes never change (a print) do not."""
    frame, lm, m = face_frames
    shut = _eyes_shut(frame, lm, 1.0)
    cfg = LivenessConfig(mode="challenge", challenge_kinds=("blink",), challenge_s=3.0, challenge_tries=1, **NO_SCREEN)
    for eyes_close, expected in ((True, "live"), (False, "unverified")):
        rng = np.random.default_rng(9)
        seq = [(ts, x, 0.0) for ts, x in _still(lm, 1.5, rng)]
        seq += [(ts, x, a) for (ts, x), a in zip(_blink_at(lm, 1.5, rng), (0.6, 0.95, 0.5, 0.0))]
        seq += [(ts, x, 0.0) for ts, x in _still(lm, 3.5, rng, 1.5 + 4 / FPS)]
        frames = [(ts, x, _noisy(shut if eyes_close and a >= 0.5 else frame, rng)) for ts, x, a in seq]
        v = _feed(LivenessTracker(cfg, random.Random(1)), frames)
        assert v.state == expected and v.challenge == "blink", v.as_dict()
        assert v.reason == ("challenge" if eyes_close else "challenge_failed")


def test_a_slow_deliberate_blink_answers_the_challenge_at_a_pi_like_rate(face_frames):
    """Asked to blink, people shut their eyes on purpose, for longer than a spontaneous blink:
    here shut for 0.6 s, seen at 7.5 frames/s (an estimate of a Raspberry Pi's rate), so 0.67 s
    pass from the first shut frame to the first open one. That is a blink (the limit is
    blink_max_s = 0.8 s, docs/liveness.md); eyes kept shut for 1.2 s are not."""
    frame, lm, m = face_frames
    shut = _eyes_shut(frame, lm, 1.0)
    cfg = LivenessConfig(mode="challenge", challenge_kinds=("blink",), challenge_s=4.0, challenge_tries=1, **NO_SCREEN)
    fps = 7.5
    for shut_s, expected in ((0.6, "live"), (1.2, "unverified")):
        rng = np.random.default_rng(12)
        n_shut = round(shut_s * fps)
        amounts = [0.0] * 12 + [0.6] + [1.0] * (n_shut - 1) + [0.0] * 12  # open 1.6 s, shut, open
        seq = []
        for i, a in enumerate(amounts):
            x = _jitter(_close_eyes(lm, 0.95 * a), rng)
            seq.append((i / fps, x, _noisy(shut if a >= 0.5 else frame, rng)))
        v = _feed(LivenessTracker(cfg, random.Random(0)), seq)
        assert v.state == expected and v.challenge == "blink", (shut_s, v.as_dict())


def test_a_print_turned_like_a_head_does_not_answer_a_turn_challenge(face_frames):
    """'Tengok ke kiri/kanan' asked of a print: turned about its vertical axis by hand, it moves
    dlib's yaw estimate as far the asked way as a real turn does, but its landmarks stay a
    homography of the start - refused, whichever way is asked."""
    frame, lm, m = face_frames
    for asked, way in (("turn_left", -1), ("turn_right", 1)):
        rng = np.random.default_rng(21)
        flat = _with_landmarks(m, _as_print(frame, lambda t: (0, way * 55 * min(1.0, max(0.0, t - 0.5)), 0),
                                            3.0, rng))
        sign = 1.0 if asked == "turn_left" else -1.0
        assert max(sign * (pose(x)[0] - pose(flat[0][1])[0]) for _, x, _ in flat) >= LivenessConfig().turn_yaw
        # the turn check alone (the flat evidence, which refuses this print too, switched off)
        cfg = LivenessConfig(mode="challenge", challenge_kinds=(asked,), challenge_s=2.5, challenge_tries=1,
                             flat_pairs=10 ** 6)
        v = _feed(LivenessTracker(cfg, random.Random(0)), flat)
        assert v.state == "unverified" and v.challenge == asked and v.reason == "challenge_failed", v.as_dict()
        v = _feed(LivenessTracker(LivenessConfig(mode="challenge", challenge_kinds=(asked,)), random.Random(0)), flat)
        assert v.state == "spoof" and v.reason == "flat_motion", v.as_dict()


def test_unanswered_challenge_fails_at_its_time_limit(real_landmarks):
    rng = np.random.default_rng(8)
    lm = real_landmarks["biden.jpg"]
    cfg = LivenessConfig(mode="passive_then_challenge", challenge_kinds=CHALLENGE_KINDS, passive_s=2.0,
                         challenge_s=3.0, challenge_tries=2)
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
    assert v.state == "unverified" and v.reason == "challenge_failed" and v.challenge_met is False
    assert v.scores["challenges_failed"] == 2
    # asked at 2.0 s; failed at 5.0 s and asked another kind; failed again at 8.0 s
    assert len(prompts) == 2 and prompts[0][1] != prompts[1][1], prompts
    assert abs(prompts[0][0] - 2.0) <= 1 / FPS and 5.0 <= prompts[1][0] <= 5.0 + 2 / FPS, prompts
    assert 8.0 <= ts <= 8.0 + 2 / FPS


def test_a_failed_challenge_is_followed_by_a_blink_which_a_blink_answers(real_landmarks):
    """Whatever was asked first, a person who did not manage it is asked to blink next (the
    challenge real people answer most reliably) - and blinking then passes; when the blink was
    the one missed, another kind is asked."""
    lm = real_landmarks["biden.jpg"]
    cfg = LivenessConfig(mode="challenge", challenge_kinds=CHALLENGE_KINDS, challenge_s=2.0, challenge_tries=2)
    firsts = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        tracker = LivenessTracker(cfg, random.Random(seed))
        first = tracker.update(0.0, lm).prompt
        firsts.add(first)
        prompts = [first]
        for ts, x in _still(lm, 2.5, rng, 1 / FPS):
            v = tracker.update(ts, x)
            if v.prompt != prompts[-1]:
                prompts.append(v.prompt)
        assert v.state == "pending" and v.scores["challenges_failed"] == 1, v.as_dict()
        if first == "blink":
            assert prompts == ["blink", v.prompt] and v.prompt in ("turn_left", "turn_right"), prompts
            continue
        assert prompts == [first, "blink"], (seed, prompts)
        v = _feed(tracker, _blink_at(lm, 2.6, rng) + _still(lm, 0.5, rng, 2.6 + 4 / FPS))
        assert v.state == "live" and v.reason == "challenge" and v.challenge == "blink", v.as_dict()
    assert firsts == {"blink", "turn_left", "turn_right"}  # the first challenge is still drawn at random


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
        assert v.state == "unverified" and v.reason == "challenge_failed", v.as_dict()


def test_one_frame_of_misfitted_landmarks_does_not_answer_a_turn(real_landmarks):
    """dlib's landmarks on a print can jump for one frame to a shape that looks turned (seen in the
    seed-15 attack set: yaw +0.40 for one frame, +0.09 before and after). A head that turns stays
    turned for a moment: the same jump held for two frames answers the challenge."""
    lm = real_landmarks["grace_hopper.jpg"]
    cfg = LivenessConfig(mode="challenge", challenge_kinds=("turn_left",), challenge_s=2.0, challenge_tries=1)
    for held, expected in ((1, "unverified"), (2, "live")):
        rng = np.random.default_rng(14)
        seq = _still(lm, 1.0, rng)
        seq += [(1.0 + i / FPS, _jitter(_turn(lm, 0.5), rng)) for i in range(held)]
        seq += _still(lm, 2.0, rng, 1.0 + held / FPS)
        v = _feed(LivenessTracker(cfg, random.Random(0)), seq)
        assert v.state == expected and v.challenge == "turn_left", (held, v.as_dict())


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
    assert d["state"] == "live" and set(d["scores"]) >= {"blink", "ear", "parallax", "motion", "flat_pairs"}


def test_with_the_default_timing_a_missed_blink_gets_its_second_try(real_landmarks):
    """Default mode and times: nothing passive for 3 s, the first "Kedipkan mata" not answered;
    the second one comes and a blink then passes - within max_seconds. Before, 3 s + 5 s left no
    room for the second try under 12 s and a person who missed one blink was refused as a spoof."""
    rng = np.random.default_rng(21)
    lm = real_landmarks["biden.jpg"]
    cfg = LivenessConfig()  # the defaults of kiosk/config.py
    assert cfg.mode == "passive_then_challenge"
    second_ask = cfg.passive_s + cfg.challenge_s
    seq = _still(lm, second_ask + 1.0, rng) + _blink_at(lm, second_ask + 1.0, rng) + \
        _still(lm, 1.0, rng, second_ask + 1.3)
    tracker = LivenessTracker(cfg, random.Random(2))
    prompts = []
    for ts, x in seq:
        v = tracker.update(ts, x)
        if v.prompt:
            prompts.append(ts)
        if v.final:
            break
    # the blink answered the second challenge (a blink counts passively too in this mode)
    assert v.state == "live" and v.reason in ("challenge", "blink") and v.challenge == "blink", v.as_dict()
    assert v.scores["challenges_failed"] == 1 and ts <= cfg.max_seconds
    assert min(prompts) < second_ask < max(prompts)  # asked twice
    # and never answering at all ends "unverified" - a retry hint, not a fraud case
    v = _feed(LivenessTracker(cfg, random.Random(2)), _still(lm, cfg.max_seconds + 1, rng))
    assert v.state == "unverified" and v.reason == "challenge_failed" and not v.suspected
    assert v.scores["challenges_failed"] == cfg.challenge_tries


# --- a face on a device: the screen cues (kiosk/screen.py) ------------------------------------

def _geometry(m, frame):
    from kiosk.recognition.pipeline import choose_face
    from kiosk.screen import FaceGeometry

    b = choose_face(m.detect(frame, 320, 0), frame.shape[1], frame.shape[0])
    assert b is not None
    lm = m.shape68(frame, b).astype(np.float64)
    return lm, FaceGeometry(lm)


def _phone_frames(faces, m, seconds=2.0, fps=SURFACE_FPS, kind="phone_hand", seed=3):
    """A portrait phone held up, playing a still-room video of a real face (bench/screen_replay.py)."""
    import random

    from screen_replay import replay_frames

    video, lm = face_scene(m, load_rgb(faces / "obama2.jpg"), 200, (480, 640))
    face = (float(lm[:, 0].mean()), float(lm[:, 1].mean()), float(lm[16, 0] - lm[0, 0]))
    return list(replay_frames(random.Random(seed), [video] * int(seconds * fps + 1), fps, 0, seconds, face, fps=fps, kind=kind,
                              face_px=(160, 170), face_level=(190, 200), portrait=True))


def test_a_phones_border_is_found_around_the_face_and_not_around_the_same_face_in_a_room(faces, face_frames):
    import cv2

    from kiosk.screen import DeviceFrame

    m = face_frames[2]
    (_, on_phone), *_ = _phone_frames(faces, m, seconds=0.1)
    plain, _ = face_scene(m, load_rgb(faces / "obama2.jpg"), 170, (640, 480))
    border = {}
    for name, frame in (("phone", on_phone), ("room", plain)):
        _, g = _geometry(m, frame)
        border[name] = DeviceFrame().measure(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), g)
    assert border["phone"].length >= LivenessConfig().screen_frame_min and border["phone"].sides == "left-right"
    assert border["room"].length < LivenessConfig().screen_frame_min, border


def _device_around(scene, g, outer, fingers=(), lines=()):
    """`scene` with a dark-bezelled device drawn around the face (`outer`: x0, y0, x1, y1 in face
    coordinates; the picture inside left as it is, a plain room outside), skin-coloured fingers
    over it ((x, y, half-width, half-height) ellipses, face coordinates) and straight lines of a
    room (pairs of face-coordinate points) drawn over the room."""
    import cv2

    def px(pts):
        return np.round(g.to_image(np.array(pts, np.float64))).astype(np.int32)

    x0, y0, x1, y1 = outer
    out = np.full_like(scene, 130)
    for a, b in lines:
        cv2.line(out, *[tuple(int(v) for v in q) for q in px([a, b])], (60, 55, 50), max(2, int(0.08 * g.iod)))
    inner = px([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    mask = np.zeros(scene.shape[:2], np.uint8)
    cv2.fillPoly(mask, [inner], 1)
    out[mask > 0] = 25  # the bezel
    b = 0.18  # its width (eye distances)
    screen = np.zeros_like(mask)
    cv2.fillPoly(screen, [px([[x0 + b, y0 + b], [x1 - b, y0 + b], [x1 - b, y1 - b], [x0 + b, y1 - b]])], 1)
    out[screen > 0] = scene[screen > 0]
    for x, y, w, h in fingers:
        c = px([[x, y]])[0]
        cv2.ellipse(out, (int(c[0]), int(c[1])), (int(w * g.iod), int(h * g.iod)), 0, 0, 360, (190, 140, 110), -1)
    return out


def test_a_device_held_by_its_edges_closes_a_box_around_the_face_a_rooms_lines_do_not(faces, face_frames):
    """A phone held by a thumb and a finger over its long edges: no side edge is long enough for
    the pair rule, but its four edges close a box around the face ('frame' hits). A live face in
    a doorway, with the door's lines above and beside it and sloped shoulders below, or in front
    of a window whose bars run on past one another, closes none."""
    import cv2

    from kiosk.screen import DeviceFrame, ScreenCues

    m = face_frames[2]
    scene, _ = face_scene(m, load_rgb(faces / "obama2.jpg"), 150, (640, 480))
    _, g = _geometry(m, scene)
    cfg = LivenessConfig()
    held = _device_around(scene, g, (-1.7, -2.2, 1.7, 2.7), fingers=[(-1.75, 0.3, 0.35, 0.8), (1.75, 0.5, 0.35, 0.8)])
    door = _device_around(scene, g, (-2.9, -3.9, 2.9, 9.0), lines=[((-2.9, -3.9), (2.9, -3.9))])
    shoulders = np.round(g.to_image(np.array([[-4.0, 4.4], [-1.1, 2.9], [1.1, 2.9], [4.0, 4.4]]))).astype(np.int32)
    cv2.fillPoly(door, [np.r_[shoulders, [[640, 480], [0, 480]]]], (40, 40, 45))
    window = _device_around(scene, g, (-1.9, -2.4, 1.9, 9.0), lines=[((-4.4, -2.0), (4.4, -2.0)), ((-4.4, 2.9), (4.4, 2.9)),
                                                                     ((-1.4, -4.0), (-1.4, 5.9)), ((1.4, -4.0), (1.4, 5.9))])
    border = {}
    for name, frame in (("held", held), ("door", door), ("window", window), ("plain", scene)):
        _, g_ = _geometry(m, frame)
        border[name] = DeviceFrame().measure(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), g_)
    assert border["held"].length < cfg.screen_frame_min, border["held"]  # no pair: the thumb breaks the sides
    assert border["held"].box >= cfg.screen_box_min, border["held"]
    for name in ("door", "window", "plain"):
        assert border[name].box == 0.0, (name, border[name])
    # the box is a hit of the frame cue: two looks fire it (the doorway's long sides are a pair,
    # the known look-alike of test_one_screen_cue_holds_the_face_two_refuse_it)
    for frame, want in ((held, ["frame"]), (scene, []), (door, ["frame"])):
        cues, (lm, _) = ScreenCues(cfg), _geometry(m, frame)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for ts in (0.0, 0.35):
            cues.update(ts, grey, lm)
        assert cues.fired() == want, cues.scores()
    cues = ScreenCues(LivenessConfig(screen_box_min=0.0))  # boxes off: the held phone's pairs alone are too short
    for ts in (0.0, 0.35):
        cues.update(ts, cv2.cvtColor(held, cv2.COLOR_RGB2GRAY), _geometry(m, held)[0])
    assert cues.fired() == [], cues.scores()


def test_a_devices_lower_corner_is_a_border_a_doorways_upper_corners_are_not(faces, face_frames):
    """A tablet held so close that its top and right side leave the picture shows one lower corner
    around the face: its left edge and the edge below the chin ('frame' hits, two looks fire it),
    with no pair and no box. A live face in a doorway shows the door's upper corners, above the
    head, and its body hides the room below the chin: no lower corner, with or without sloped
    shoulders; nor a window whose bars cross and run on."""
    from dataclasses import replace

    import cv2

    from kiosk.screen import DeviceFrame, ScreenCues

    m = face_frames[2]
    scene, _ = face_scene(m, load_rgb(faces / "obama2.jpg"), 150, (640, 480))
    _, g = _geometry(m, scene)
    cfg = LivenessConfig()
    close = _device_around(scene, g, (-2.0, -9.0, 9.0, 3.5), fingers=[(-2.0, 3.5, 0.5, 0.35)])  # a thumb on the corner
    door = _device_around(scene, g, (-2.9, -3.9, 2.9, 9.0))
    shoulders = np.round(g.to_image(np.array([[-4.6, 3.9], [-1.1, 3.1], [1.1, 3.1], [4.6, 3.9]]))).astype(np.int32)
    sloped = door.copy()
    cv2.fillPoly(sloped, [np.r_[shoulders, [[640, 480], [0, 480]]]], (40, 40, 45))
    window = _device_around(scene, g, (-1.9, -2.4, 1.9, 9.0), lines=[((-4.4, -2.0), (4.4, -2.0)), ((-4.4, 2.9), (4.4, 2.9)),
                                                                     ((-1.4, -4.0), (-1.4, 5.9)), ((1.4, -4.0), (1.4, 5.9))])
    border = {}
    for name, frame in (("close", close), ("door", door), ("sloped", sloped), ("window", window), ("plain", scene)):
        _, g_ = _geometry(m, frame)
        border[name] = DeviceFrame().measure(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), g_)
    assert border["close"].corner >= cfg.screen_corner_min, border["close"]
    assert border["close"].length < cfg.screen_frame_min and border["close"].box == 0.0, border["close"]
    for name in ("door", "sloped", "window", "plain"):
        assert border[name].corner < cfg.screen_corner_min, (name, border[name])
    # the corner is a hit of the frame cue (the doorway's and the window's long sides are pairs:
    # the known look-alike of test_one_screen_cue_holds_the_face_two_refuse_it)
    for frame, want, corners in ((close, ["frame"], cfg.screen_corner_min), (close, [], 0.0), (scene, [], cfg.screen_corner_min)):
        cues, (lm, _) = ScreenCues(replace(cfg, screen_corner_min=corners)), _geometry(m, frame)
        for ts in (0.0, 0.35):
            cues.update(ts, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), lm)
        assert cues.fired() == want, cues.scores()
        assert (cues.scores()["screen_frame_corner"] >= cfg.screen_corner_min) == (frame is close)


def test_the_room_around_a_hand_held_device_moves_and_around_a_live_head_does_not(faces, face_frames):
    """Context: the same face turning its head (the room still), and that scene moved by a hand
    (everything around the face moves with it)."""
    import cv2

    from kiosk.screen import ContextFlow

    m = face_frames[2]
    scene, lm = face_scene(m, load_rgb(faces / "obama2.jpg"), 150, (640, 480))
    rng = np.random.default_rng(2)
    live = list(head_turn(scene, lm, lambda t: 0.2 * np.sin(2 * np.pi * t / 1.5), 2.0, SURFACE_FPS, rng))
    moved = [(t, cv2.warpAffine(f, np.float32([[1, 0, 12 * np.sin(3 * t)], [0, 1, 8 * np.sin(2 * t + 1)]]), (640, 480),
                                borderMode=cv2.BORDER_REFLECT)) for t, f in live]
    motion = {}
    for name, frames in (("live", live), ("hand", moved)):
        flow, pairs = ContextFlow(LivenessConfig().planar_gap_s), []
        for t, f in frames:
            _, g = _geometry(m, f)
            p = flow.update(t, cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), g)
            if p is not None and p.share >= LivenessConfig().screen_context_share:
                pairs.append(p.motion)
        assert len(pairs) >= 10, name
        motion[name] = np.array(pairs)
    assert motion["live"].max() < LivenessConfig().screen_context_min / 2, motion["live"].max()
    assert np.mean(motion["hand"] >= LivenessConfig().screen_context_min) >= 0.5, motion["hand"]


def test_a_hand_moving_beside_a_live_head_is_not_the_surroundings_moving(faces, face_frames):
    """In front of a plain wall, a hand (a textured patch) moving up and down beside a still live
    head moves the ring's points on one side only: no shared motion, since a hand-held device
    moves both sides. The same frames with the both-sides rule off (SIDE_MIN = 0) count the hand
    as the room moving."""
    import cv2

    from kiosk.screen import ContextFlow

    m = face_frames[2]
    scene, lm = face_scene(m, load_rgb(faces / "obama2.jpg"), 150, (640, 480))
    _, g = _geometry(m, scene)
    head = np.zeros(scene.shape[:2], np.uint8)
    cv2.ellipse(head, (int(g.mid[0]), int(g.mid[1] + 0.3 * g.iod)), (int(1.5 * g.iod), int(2.4 * g.iod)), 0, 0, 360, 1, -1)
    scene = np.where(head[..., None] > 0, scene, np.uint8(120))  # the wall: no corners to track
    rng = np.random.default_rng(4)
    hand = cv2.GaussianBlur(rng.integers(0, 255, (int(1.6 * g.iod), int(1.2 * g.iod), 3)).astype(np.uint8), (0, 0), 1.5)
    x0 = int(g.mid[0] + 2.2 * g.iod)
    frames = []
    for i in range(int(3.0 * SURFACE_FPS)):
        t = i / SURFACE_FPS
        f = scene.copy()
        y0 = int(g.mid[1] - 1.5 * g.iod + 0.6 * g.iod * np.sin(2 * np.pi * t / 1.2))
        f[y0:y0 + hand.shape[0], x0:x0 + hand.shape[1]] = hand
        frames.append((t, cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)))
    cfg = LivenessConfig()
    counted = {}
    for side_min in (ContextFlow.SIDE_MIN, 0):
        flow, n = ContextFlow(cfg.planar_gap_s), 0
        flow.SIDE_MIN = side_min
        for t, grey in frames:
            p = flow.update(t, grey, g)
            n += p is not None and p.share >= cfg.screen_context_share and p.motion >= cfg.screen_context_min
        counted[side_min] = n
    assert counted[ContextFlow.SIDE_MIN] == 0 and counted[0] > 0, counted


def _glowing_face(faces, face_frames):
    """A registry face in a room, as photographed (grey) and as a glowing screen would show it
    (lit: the face x 2.25, the room x 0.35), with its landmarks and geometry."""
    import cv2

    m = face_frames[2]
    scene, lm = face_scene(m, load_rgb(faces / "obama2.jpg"), 170, (640, 480))
    _, g = _geometry(m, scene)
    grey = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mask = np.zeros(grey.shape, np.float32)
    cv2.ellipse(mask, (int(g.mid[0]), int(g.mid[1] + 0.5 * g.iod)), (int(1.5 * g.iod), int(2.2 * g.iod)), 0, 0, 360, 1, -1)
    lit = np.clip(grey * (0.35 + 1.9 * mask), 0, 255).astype(np.uint8)
    return lit, grey.astype(np.uint8), lm, g


def test_a_face_glowing_brighter_than_its_room_is_a_screens_light(faces, face_frames):
    """Glow: a face whose skin is clipped to white in a room a third as bright (a screen at full
    brightness, the camera exposing for the room); the same face as photographed is not."""
    from kiosk.screen import glow

    lit, grey, lm, g = _glowing_face(faces, face_frames)
    clipped, ratio = glow(lit, lm, g)
    cfg = LivenessConfig()
    assert clipped >= cfg.screen_glow_clip and ratio >= cfg.screen_glow_ratio, (clipped, ratio)
    # the photo itself: a face brighter than its dark room too (a ratio over 2), but nothing
    # clipped - why the cue needs both
    clipped, ratio = glow(grey, lm, g)
    assert clipped < cfg.screen_glow_clip and ratio >= cfg.screen_glow_ratio, (clipped, ratio)


def test_the_glow_is_judged_as_the_cameras_own_metering_would_see_it(faces, face_frames):
    """Face-priority exposure darkens a bright face by a stop or two: the glowing face's white skin
    turns grey. Judged at the EV the frame was taken with, it is as clipped as before; judged at 0,
    the cue would miss it. The photographed face, darkened the same way, is no glow either way."""
    from kiosk.camera.fake import ReExposed
    from kiosk.screen import clip_level, glow

    assert clip_level(0.0) == 250 and clip_level(0.5) == 250
    assert 180 < clip_level(-1.0) < 188 and 130 < clip_level(-2.0) < 138  # sRGB: -1 stop is not half the grey
    lit, grey, lm, g = _glowing_face(faces, face_frames)
    cfg = LivenessConfig()
    at_metering = glow(lit, lm, g)
    camera = ReExposed()
    for ev in (-1.0, -1.75):
        camera.set_exposure_compensation(ev)
        darker = camera(np.dstack([lit] * 3))[..., 0]
        assert glow(darker, lm, g)[0] < cfg.screen_glow_clip  # blind to the EV: no clipped skin
        clipped, ratio = glow(darker, lm, g, ev)
        assert clipped == pytest.approx(at_metering[0], abs=0.01) and clipped >= cfg.screen_glow_clip
        assert ratio >= cfg.screen_glow_ratio
        photo = camera(np.dstack([grey] * 3))[..., 0]
        assert glow(photo, lm, g, ev)[0] < cfg.screen_glow_clip


def test_one_screen_cue_holds_the_face_two_refuse_it(faces, face_frames):
    """The Oval Office's curtains beside a live, turning head fire the 'frame' cue alone: not live
    (screen_hold), but only 'unverified' - no accusation; with screen_hold off it passes. A phone
    held by hand fires two cues: 'screen', suspected fraud."""
    frame, lm, m = face_frames
    rng = np.random.default_rng(5)
    seq = _with_landmarks(m, _relief_frames(frame, lm, lambda t: 0.2 * np.sin(2 * np.pi * t / 1.5), 3.0, rng))
    v = _feed(LivenessTracker(LivenessConfig(mode="passive", blinks_needed=5)), seq)
    assert v.state == "unverified" and v.reason == "screen_cue" and not v.suspected, v.as_dict()["scores"]
    assert v.scores["screen_cues"] == ["frame"]
    v = _feed(LivenessTracker(LivenessConfig(mode="passive", blinks_needed=5, screen_hold=False)), seq)
    assert v.state == "live" and v.reason == "parallax", v.as_dict()["scores"]

    phone = _with_landmarks(m, _phone_frames(faces, m, seconds=4.0))
    v = _feed(LivenessTracker(LivenessConfig(mode="passive")), phone)
    assert v.state == "spoof" and v.reason == "screen" and v.suspected, v.as_dict()["scores"]
    assert len(v.scores["screen_cues"]) >= 2


def test_the_glow_alone_holds_a_face_unless_a_lobby_turns_it_off(face_frames):
    """A live, turning head lit far above its dark room (x 2.25 on the face, x 0.35 around it: a
    lamp over the kiosk in a dim lobby - the same picture as a screen's light) fires the glow. By
    default the glow alone holds it, as it holds a phone that fills the picture ("unverified", no
    HR case); a lobby whose employees it holds turns screen_glow_holds off: then the face is live
    and a glow that has begun does not make "live" wait, since it could change nothing."""
    import cv2

    frame, lm, m = face_frames
    seq = _with_landmarks(m, _relief_frames(frame, lm, lambda t: 0.2 * np.sin(2 * np.pi * t / 1.5), 4.0,
                                            np.random.default_rng(5)))
    lit = []
    for ts, lm_t, img in seq:
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        c, r = lm_t[27], np.linalg.norm(lm_t[45] - lm_t[36])
        mask = np.zeros(grey.shape, np.float32)
        cv2.ellipse(mask, (int(c[0]), int(c[1] + 0.3 * r)), (int(0.9 * r), int(1.3 * r)), 0, 0, 360, 1, -1)
        lit.append((ts, lm_t, np.clip(grey * (0.35 + 1.9 * mask), 0, 255).astype(np.uint8)))
    no_border = dict(mode="passive", blinks_needed=5, screen_frame_min=20.0, screen_box_min=0, screen_corner_min=0)
    held = _feed(LivenessTracker(LivenessConfig(**no_border)), lit)
    assert held.state == "unverified" and held.reason == "screen_cue" and not held.suspected, held.as_dict()["scores"]
    assert held.scores["screen_cues"] == ["glow"]
    v = _feed(LivenessTracker(LivenessConfig(**no_border, screen_glow_holds=False)), lit)
    assert v.state == "live" and v.reason == "parallax" and v.scores["screen_cues"] == ["glow"], v.as_dict()["scores"]
    assert "screen_wait" not in v.scores
    # a glow begun that cannot fire in time: no wait either when it cannot hold
    v1 = _feed(LivenessTracker(LivenessConfig(**no_border, screen_glow_holds=False, screen_glow_hits=50,
                                              screen_wait_s=1.0)), lit)
    assert v1.state == "live" and v1.elapsed == v.elapsed and "screen_wait" not in v1.scores, v1.as_dict()["scores"]
    v2 = _feed(LivenessTracker(LivenessConfig(**no_border, screen_glow_hits=50, screen_wait_s=1.0)), lit)
    assert v2.state == "live" and v2.scores["screen_wait"] >= 1.0, v2.as_dict()["scores"]  # it can hold: it waits


def test_a_screen_cue_that_has_begun_gets_its_time_before_the_face_is_live(face_frames):
    """A replay can pass on its parallax (or a blink) while a cue has only some of the looks it
    needs - the real phone replay held closer was recorded with its glow at 2 of 3. Then "live"
    waits up to screen_wait_s: a cue that fires meanwhile holds the face; one that does not, lets
    it pass that much later; a face no cue has touched is not delayed at all."""
    frame, lm, m = face_frames
    seq = _with_landmarks(m, _relief_frames(frame, lm, lambda t: 0.2 * np.sin(2 * np.pi * t / 1.5), 4.0,
                                            np.random.default_rng(5)))
    base = dict(mode="passive", blinks_needed=5, screen_hold=True)
    # the curtains beside the head are a border at every look: how many had the frame cue when
    # liveness passed the face, with the cue out of reach and no wait
    v0 = _feed(LivenessTracker(LivenessConfig(**base, screen_frame_hits=50, screen_wait_s=0)), seq)
    assert v0.state == "live" and v0.reason == "parallax", v0.as_dict()["scores"]
    hits = v0.scores["screen_frame_hits"]
    assert 1 <= hits < 50 and "screen_wait" not in v0.scores
    # one look short of firing then: no wait -> live as before; the wait -> the cue fires, held
    cfg = dict(base, screen_frame_hits=hits + 1)
    v = _feed(LivenessTracker(LivenessConfig(**cfg, screen_wait_s=0)), seq)
    assert v.state == "live" and v.elapsed == v0.elapsed
    v = _feed(LivenessTracker(LivenessConfig(**cfg, screen_wait_s=1.0)), seq)
    assert v.state == "unverified" and v.reason == "screen_cue" and v.scores["screen_cues"] == ["frame"], \
        v.as_dict()["scores"]
    assert v.elapsed <= v0.elapsed + 1.0
    # a cue begun that never fires: live, screen_wait_s later
    v = _feed(LivenessTracker(LivenessConfig(**base, screen_frame_hits=50, screen_wait_s=1.0)), seq)
    assert v.state == "live" and v0.elapsed + 1.0 <= v.elapsed <= v0.elapsed + 1.2, (v.elapsed, v0.elapsed)
    assert v.scores["screen_wait"] >= 1.0
    # no border look at all (the frame cue's lengths out of reach): no delay
    v = _feed(LivenessTracker(LivenessConfig(**base, screen_frame_min=20.0, screen_box_min=0, screen_corner_min=0,
                                             screen_wait_s=1.0)), seq)
    assert v.state == "live" and v.elapsed == v0.elapsed and v.scores["screen_frame_hits"] == 0, \
        v.as_dict()["scores"]
