"""Liveness: is the face in front of the kiosk a live person, or a photo or a screen held up to it?

Plain data in and out: one ``LivenessTracker`` per face track, fed per frame with the 68
landmarks the kiosk already computes for its quality gates (no extra dlib call) and the frame::

    tracker = LivenessTracker(cfg, random.Random(), room)   # room: kiosk.screen.Room or None
    verdict = tracker.update(ts, landmarks68, box, frame_rgb)
    verdict.state    # "live" | "spoof" (evidence of an attack) | "unverified" (retry) | "pending"
    verdict.prompt   # None | "blink" | "turn_left" | "turn_right" (the screen translates it)
    verdict.scores   # {"blink": .., "parallax": .., "flat_pairs": .., "screen_cues": [..], ...} for the event record

Passive signals (from what the track gives over a second or two):

* **blink** -- eye openness (eyelid gap over nose length, so a tilted or scaled photo does not
  change it) and the classic EAR (gap over eye width) both dip below ``1 - blink_dip`` of their
  recent open level, and the openness recovers within ``blink_max_s``; with frames, the blink
  counts only if the eyes' *appearance* changed as well (the open frame mapped onto the most
  closed one by the face's surface homography: both eyes change, the nose does not);
* **the face's surface, 3D versus flat** -- image points inside the face are tracked from frame
  to frame (``SurfaceFlow``: Lucas-Kanade, checked forwards and backwards); between frames
  ``planar_gap_s`` apart their motion is fitted by a similarity and by a homography (any motion
  of a plane, e.g. a print tilted by hand). ``motion`` = what the similarity cannot explain
  (out-of-plane motion), ``parallax`` = the largest median residual of one face region after the
  homography, both relative to the eye distance. A head that turns (the nose against the
  cheeks), blinks or talks gives a region off the homography: a live pair. A print moved out of
  plane follows it to the tracking noise: a flat pair.

"live" needs ``parallax_pairs`` live pairs that do not overlap in time (each pair spans
``planar_gap_s``, and one ends at every frame: overlapping pairs share their frames' tracking
errors) or a confirmed blink, more than ``flat_live_share`` of the flat pairs; "spoof" is
declared only on positive evidence of an attack (``flat_pairs`` flat pairs outweighing the live
ones: ``SUSPECT_REASONS``) - unless the live evidence reached ``mixed_live_pairs`` too: a face
that moved both ways is "unverified" ("mixed_motion"), not accused. Every challenge not answered
(``challenge_tries`` of them, each with its full ``challenge_s``) or ``max_seconds`` without a
pass end as "unverified" (reasons "challenge_failed", "timeout"): the person is asked to try
again, and HR never sees it as a fraud case. Without frames (landmarks only) just the blink and
the challenges work.

Active challenge ("Kedipkan mata", "Tengok ke kiri/kanan"): asked in mode "challenge" at once,
in "passive_then_challenge" when the passive signals are not conclusive after ``passive_s``.
Each challenge has ``challenge_s``; the kinds are drawn from ``challenge_kinds`` in random order
by the injected ``random.Random``; a failed one is followed by a blink (the challenge real people
answer most reliably), or by another kind when the blink was the one that failed. A turn is met
when the yaw (kiosk.recognition.quality.pose) moves by ``turn_yaw`` in the asked direction *and*
the landmarks' motion is not planar (dlib's yaw estimate moves on a print turned by hand too, but
its landmarks stay a homography of the start). Landmarks are in camera coordinates, not
mirrored: the person's left is the image's right (yaw grows).

A face shown on a phone, tablet or monitor (a video replay blinks and turns like a live face):
kiosk/screen.py's cues - the device's border, surroundings that move, a face that glows - are
fed the same frames; ``screen_cues`` of them agreeing end the track as "spoof" ("screen", in
``SUSPECT_REASONS``), and with ``screen_hold`` a single one keeps it from "live" ("unverified",
"screen_cue": asked to try again, no accusation) - the glow alone only with ``screen_glow_holds``
(on by default; a lobby where real faces lit well above the room clip like a screen's light turns
it off). The caller may pass the kiosk's empty view (``kiosk.screen.Room``) so that the room's
own straight edges are not taken for a border.

What this cannot stop: a large screen far enough away that its border is out of view, dimmed,
on a stand (no cue fires), a 3D mask. See docs/liveness.md.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kiosk.config import section_defaults
from kiosk.recognition.quality import pose
from kiosk.screen import Room, ScreenCues

MODES = ("off", "passive", "passive_then_challenge", "challenge")
CHALLENGE_KINDS = ("blink", "turn_left", "turn_right")

# landmark indices (dlib 68-point scheme)
_LEFT_EYE = slice(36, 42)   # the eye on the image's left
_RIGHT_EYE = slice(42, 48)
_GAPS = ((37, 41), (38, 40), (43, 47), (44, 46))  # upper/lower eyelid pairs
_CORNERS = ((36, 39), (42, 45))
_NOSE = (27, 33)  # top of the nasal bridge, bottom of the nose
TURN_HELD_FRAMES = 2  # a turn challenge is met when two frames in a row show the turn
MAX_FRAME_GAP_S = 0.25  # a longer gap between a track's frames restarts the blink detector
# Liveness needs about this many analysed frames a second: below it a blink falls between frames
# and the gaps restart the blink detector and the surface tracker (0 of 175 genuine tracks passed
# at 3.75, docs/liveness.md), so every employee is asked to try again. The kiosk says so in its
# log and on the admin status page; each verdict carries its rate (scores["fps"]).
MIN_FPS = 5.0
_NON_EYE = np.r_[17:36, 48:60]
_FIT_POINTS = np.r_[17:60]  # brows, nose, eyes, outer lips: dlib's jaw line slides on tilted photos


_D = section_defaults("liveness")  # the one copy of the defaults: kiosk/config.py's schema


@dataclass(frozen=True)
class LivenessConfig:
    """Every threshold of the liveness check; the defaults and their meaning are the
    ``[liveness]`` settings of kiosk/config.py (measured in docs/liveness.md)."""

    mode: str = _D["mode"]  # off | passive | passive_then_challenge | challenge
    # blink
    blink_dip: float = _D["blink_dip"]
    blink_max_s: float = _D["blink_max_s"]
    blink_baseline_s: float = _D["blink_baseline_s"]
    blinks_needed: int = _D["blinks_needed"]
    blink_max_shape: float = _D["blink_max_shape"]
    blink_eye_change: float = _D["blink_eye_change"]
    blink_eye_ratio: float = _D["blink_eye_ratio"]
    # 3D versus flat motion of the face's surface (image points tracked frame to frame)
    planar_gap_s: float = _D["planar_gap_s"]
    parallax_live: float = _D["parallax_live"]
    parallax_ratio: float = _D["parallax_ratio"]
    parallax_pairs: int = _D["parallax_pairs"]
    flat_min_motion: float = _D["flat_min_motion"]
    flat_max: float = _D["flat_max"]
    flat_pairs: int = _D["flat_pairs"]
    flat_live_share: float = _D["flat_live_share"]
    mixed_live_pairs: int = _D["mixed_live_pairs"]
    # challenge
    passive_s: float = _D["passive_s"]
    challenge_kinds: tuple = tuple(_D["challenge_kinds"])
    challenge_count: int = _D["challenge_count"]
    challenge_s: float = _D["challenge_s"]
    challenge_tries: int = _D["challenge_tries"]
    turn_yaw: float = _D["turn_yaw"]
    turn_nonplanar: float = _D["turn_nonplanar"]
    # overall
    max_seconds: float = _D["max_seconds"]
    # a face shown on a device (kiosk/screen.py)
    screen_cues: int = _D["screen_cues"]
    screen_frame_min: float = _D["screen_frame_min"]
    screen_box_min: float = _D["screen_box_min"]
    screen_corner_min: float = _D["screen_corner_min"]
    screen_frame_hits: int = _D["screen_frame_hits"]
    screen_context_min: float = _D["screen_context_min"]
    screen_context_share: float = _D["screen_context_share"]
    screen_context_pairs: int = _D["screen_context_pairs"]
    screen_glow_clip: float = _D["screen_glow_clip"]
    screen_glow_ratio: float = _D["screen_glow_ratio"]
    screen_glow_hits: int = _D["screen_glow_hits"]
    screen_hold: bool = _D["screen_hold"]
    screen_glow_holds: bool = _D["screen_glow_holds"]
    screen_wait_s: float = _D["screen_wait_s"]

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"liveness mode {self.mode!r} is not one of {MODES}")
        bad = [k for k in self.challenge_kinds if k not in CHALLENGE_KINDS]
        if bad or not self.challenge_kinds:
            raise ValueError(f"challenge_kinds {self.challenge_kinds!r}: each must be one of {CHALLENGE_KINDS}")

    @classmethod
    def from_config(cls, cfg) -> "LivenessConfig":
        """The ``[liveness]`` section of a loaded kiosk.config.Config."""
        values = {k: v for k, v in cfg.values["liveness"].items() if k in cls.__dataclass_fields__}
        values["challenge_kinds"] = tuple(values["challenge_kinds"])
        return cls(**values)


# Refusals that rest on positive evidence of an attack: only these are suspected fraud for HR: a
# flat print, and a face on a device (screen cues agreeing). "unverified" outcomes - a challenge
# not answered, time up, one screen cue alone - are a retry hint for the person in front of the
# kiosk, never an accusation.
SUSPECT_REASONS = frozenset({"flat_motion", "screen"})


@dataclass
class LivenessVerdict:
    state: str                      # "live" | "spoof" | "unverified" | "pending"
    reason: str | None = None       # live: blink | parallax | challenge | off; spoof: flat_motion | screen;
                                    # unverified: challenge_failed | timeout | screen_cue | mixed_motion
    scores: dict = field(default_factory=dict)
    prompt: str | None = None       # the challenge being asked (screen text key), or None
    challenge: str | None = None    # the current (or last) challenge kind
    challenge_met: bool | None = None
    elapsed: float = 0.0

    @property
    def live(self) -> bool:
        return self.state == "live"

    @property
    def suspected(self) -> bool:
        """A refusal on positive evidence of an attack (an HR fraud case)."""
        return self.state == "spoof" and self.reason in SUSPECT_REASONS

    @property
    def final(self) -> bool:
        return self.state != "pending"

    def as_dict(self) -> dict:
        return {"state": self.state, "reason": self.reason, "challenge": self.challenge,
                "challenge_met": self.challenge_met, "elapsed": round(self.elapsed, 2),
                "scores": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.scores.items()}}


# --- measures on one landmark set ----------------------------------------------------------

def eye_distance(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[_RIGHT_EYE].mean(axis=0) - lm[_LEFT_EYE].mean(axis=0))) or 1.0


def ear(lm: np.ndarray) -> float:
    """Classic eye aspect ratio, mean of both eyes (about 0.25-0.35 open, under 0.15 closed)."""
    g = [np.linalg.norm(lm[a] - lm[b]) for a, b in _GAPS]
    w = [np.linalg.norm(lm[a] - lm[b]) or 1.0 for a, b in _CORNERS]
    return float((g[0] + g[1]) / (2 * w[0]) + (g[2] + g[3]) / (2 * w[1])) / 2


def openness(lm: np.ndarray) -> float:
    """Mean eyelid gap over the nose length: both are near-vertical segments, so a photo tilted,
    turned or scaled (an affine map, locally) keeps the ratio; the EAR (gap over eye width) does not."""
    g = sum(float(np.linalg.norm(lm[a] - lm[b])) for a, b in _GAPS) / 4
    return g / (float(np.linalg.norm(lm[_NOSE[0]] - lm[_NOSE[1]])) or 1.0)


def _median0(x: np.ndarray):
    """np.median(x, axis=0) (the same values) without its per-call overhead: called for each
    region of the face at every frame."""
    s = np.sort(x, axis=0)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def _similarity_residuals(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Each point's distance from the least-squares similarity src -> dst (Umeyama), in pixels."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    # complex-number form: d ~ a * s with a complex a (rotation + scale)
    zs = s[:, 0] + 1j * s[:, 1]
    zd = d[:, 0] + 1j * d[:, 1]
    a = np.vdot(zs, zd) / (np.vdot(zs, zs).real or 1.0)
    return np.abs(zd - a * zs)


def _similarity_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS residual of the least-squares similarity src -> dst, in pixels."""
    return float(np.sqrt(np.mean(_similarity_residuals(src, dst) ** 2)))


def _homography_errors(H: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(n, 2) vectors from where H takes each src point to its dst point."""
    p = np.c_[src, np.ones(len(src))] @ H.T
    w = p[:, 2:3]
    w[np.abs(w) < 1e-9] = 1e-9
    return p[:, :2] / w - dst


def _homography_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS residual of the least-squares homography src -> dst, in pixels."""
    import cv2

    H, _ = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), 0)
    if H is None:
        return float("inf")
    r = _homography_errors(H, src, dst)
    return float(np.sqrt(np.mean(np.sum(r * r, axis=1))))


def _clamped(lo, hi, w: int, h: int) -> tuple[int, int, int, int]:
    """The pixel box lo..hi (inclusive corners, floats) inside a w x h frame: x0, y0, x1, y1."""
    return max(0, int(lo[0])), max(0, int(lo[1])), min(w, int(hi[0]) + 1), min(h, int(hi[1]) + 1)


def planarity(lm_a: np.ndarray, lm_b: np.ndarray) -> tuple[float, float]:
    """(motion, nonplanar) between two landmark sets, both relative to the eye distance.

    motion: residual after the best similarity (what a move, in-plane turn or zoom explains);
    nonplanar: residual after the best homography (what no flat object could do)."""
    a = np.asarray(lm_a, dtype=np.float64)[_FIT_POINTS]
    b = np.asarray(lm_b, dtype=np.float64)[_FIT_POINTS]
    iod = (eye_distance(lm_a) + eye_distance(lm_b)) / 2
    return _similarity_residual(a, b) / iod, _homography_residual(a, b) / iod


# --- the face's surface: image points tracked frame to frame ---------------------------------

# Face regions (landmark indices) whose tracked points are summarised together: a real head
# moves them against each other (the nose stands out, the jaw line turns away, eyes blink,
# lips talk); on a print they all follow one homography.
_REGIONS = {"jaw": np.r_[0:17], "left_eye": np.r_[17:22, 36:42], "right_eye": np.r_[22:27, 42:48],
            "nose": np.r_[27:36], "mouth": np.r_[48:68]}
_REGION_OF = np.zeros(68, np.int64)  # each landmark's region: its index in _REGIONS (they part the 68)
_REGION_OF[np.concatenate(list(_REGIONS.values()))] = np.repeat(np.arange(len(_REGIONS)),
                                                                 [len(v) for v in _REGIONS.values()])
_HULL = np.r_[0:17, 26:16:-1]  # jaw line, then the brows back: the face's outline
_LK_CRITERIA = (3, 20, 0.03)   # cv2.TERM_CRITERIA_EPS | COUNT, 20 iterations, 0.03 px


@dataclass
class SurfacePair:
    """Tracked points of one face between two frames ``planar_gap_s`` apart."""

    motion: float    # median residual after the best similarity (/ eye distance): out-of-plane motion
    parallax: float  # largest region median residual after the best homography (/ eye distance)
    region: str      # the region with that residual
    points: int      # points tracked across the pair
    since: float = 0.0  # time of the pair's first frame (it ends at the frame that produced it)


class SurfaceFlow:
    """Points inside the face tracked from frame to frame (pyramidal Lucas-Kanade, checked
    forwards and backwards), and, between frames ``gap_s`` apart, how well one homography
    explains their motion: per face region, the median residual.

    dlib's landmarks re-fit a mean shape in every frame, so their own motion is mostly jitter on a
    small face; image points on the skin's texture follow the surface itself, to a fraction of a
    pixel. A print moved by hand is a plane: every region follows the homography (residuals at the
    tracking noise). A head that turns shows parallax (the nose against the cheeks), and a face
    that blinks or talks moves one region against the others.

    Points are found where the face's texture is strongest, which in a dim picture or on darker
    skin is the lit cheeks and nose: the eyes, in shadow, could lose all theirs and with them the
    motion that tells a face from a print (a real face in a darker picture was accused as a print:
    docs/liveness.md, "Dark faces"). So a region that had ``MIN_REGION`` points at the last full
    refill and has fewer now is topped up to ``REGION_FILL`` from its own best corners, down to
    ``REGION_QUALITY`` of the face's strongest; one that has none that good is left until the next
    full refill, and so are regions that never had enough (often the thin jaw line)."""

    MAX_POINTS, MIN_POINTS, MIN_REGION = 60, 40, 4
    REGION_FILL, REGION_QUALITY, REGION_CANDIDATES = 6, 0.0005, 200
    LK_WIN, LK_LEVELS = 11, 2  # Lucas-Kanade window (px) and pyramid levels
    TRACK_IOD = 48.0  # faces with a larger eye distance (px) are tracked scaled down to it

    def __init__(self, gap_s: float = 0.3, max_fb_px: float = 0.3):
        self.gap_s, self.max_fb_px = gap_s, max_fb_px
        self.prev: tuple | None = None  # (ts, gray frame, landmarks)
        self.ids = np.zeros(0, np.int64)
        self.pts = np.zeros((0, 2), np.float32)
        self.next_id = 0
        self.hist: deque = deque()  # (ts, ids, points, landmarks)
        self.held: set[int] = set()  # regions with MIN_REGION points at the last full refill, kept supplied

    def reset(self) -> None:
        self.prev = None
        self.hist.clear()
        self.ids, self.pts = np.zeros(0, np.int64), np.zeros((0, 2), np.float32)
        self.held = set()

    @staticmethod
    def _face_mask(shape, lm: np.ndarray, shrink: float = 0.85) -> np.ndarray:
        import cv2

        c = lm[_HULL].mean(axis=0)
        hull = (c + shrink * (lm[_HULL] - c)).astype(np.int32)
        mask = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(hull), 255)
        return mask

    def update(self, ts: float, gray: np.ndarray, lm: np.ndarray) -> SurfacePair | None:
        """One frame (grey, full frame) and its landmarks; the pair ending here, once there is one."""
        import cv2

        d = eye_distance(lm)
        if self.prev is not None and ts - self.prev[0] > MAX_FRAME_GAP_S:
            self.reset()  # the face was lost: start over
        h, w = gray.shape
        mask = self._face_mask(gray.shape, lm)  # the face's outline in this frame, once
        scale = min(1.0, self.TRACK_IOD / d)  # a large face is tracked smaller: same motion in pixels
        lk = dict(winSize=(self.LK_WIN, self.LK_WIN), maxLevel=self.LK_LEVELS, criteria=_LK_CRITERIA)
        if self.prev is not None and len(self.pts):
            _, pgray, plm = self.prev
            x0, y0, x1, y1 = _clamped(np.minimum(lm.min(axis=0), plm.min(axis=0)) - 0.3 * d,
                                      np.maximum(lm.max(axis=0), plm.max(axis=0)) + 0.3 * d, w, h)
            (a, b), f = _scaled((pgray[y0:y1, x0:x1], gray[y0:y1, x0:x1]), scale)
            p0 = ((self.pts - (x0, y0)) * f).astype(np.float32).reshape(-1, 1, 2)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, **lk)
            pb, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, **lk)
            fb = np.linalg.norm((pb - p0).reshape(-1, 2), axis=1)
            new = p1.reshape(-1, 2) / f + (x0, y0)
            ok = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < self.max_fb_px)
            # points that left the face (onto hair, the background, a hand) are dropped
            xi = np.clip(np.round(new[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(new[:, 1]).astype(int), 0, h - 1)
            ok &= mask[yi, xi] > 0
            self.ids, self.pts = self.ids[ok], new[ok].astype(np.float32)
        counts = _region_counts(self.pts, lm)
        refill = len(self.pts) < self.MIN_POINTS
        lost = [k for k in self.held if counts[k] < self.MIN_REGION]
        if refill or lost:
            _mask_out(mask, self.pts, d)  # new points away from the ones still tracked
            box = _clamped(lm.min(axis=0) - 0.1 * d, lm.max(axis=0) + 0.1 * d, w, h)
        if refill:
            self._add(self._corners(gray, mask, box, scale, d, self.MAX_POINTS - len(self.pts), 0.005))
            counts = _region_counts(self.pts, lm)
            self.held = {k for k, n in enumerate(counts) if n >= self.MIN_REGION}
        elif lost:
            found = self._corners(gray, mask, box, scale, d, self.REGION_CANDIDATES, self.REGION_QUALITY)
            of = _regions_of(found, lm)
            top = [found[of == k][:self.REGION_FILL - counts[k]] for k in lost]  # strongest first
            self.held -= {k for k, t in zip(lost, top) if counts[k] + len(t) < self.MIN_REGION}
            self._add(np.concatenate(top))
        self.prev = (ts, gray, lm)
        while self.hist and ts - self.hist[0][0] > 2 * self.gap_s:
            self.hist.popleft()
        ref = None
        for item in self.hist:  # the newest frame at least gap_s old
            if ts - item[0] >= self.gap_s:
                ref = item
        self.hist.append((ts, self.ids.copy(), self.pts.copy(), lm))
        return None if ref is None else self._measure(ref, lm, d)

    @staticmethod
    def _corners(gray: np.ndarray, mask: np.ndarray, box, scale: float, d: float, n: int,
                 quality: float) -> np.ndarray:
        """Up to n corners (full-frame pixels, strongest first) inside the mask within box."""
        import cv2

        x0, y0, x1, y1 = box
        if x1 - x0 <= 8 or y1 - y0 <= 8 or n <= 0:
            return np.zeros((0, 2), np.float32)
        (crop, m), fxy = _scaled((gray[y0:y1, x0:x1], mask[y0:y1, x0:x1]), scale)
        found = cv2.goodFeaturesToTrack(crop, n, quality, max(2.0, scale * d / 8), mask=m, blockSize=5)
        if found is None:
            return np.zeros((0, 2), np.float32)
        return (found.reshape(-1, 2) / fxy + (x0, y0)).astype(np.float32)

    def _add(self, found: np.ndarray) -> None:
        """Track these new points from this frame on."""
        self.pts = np.r_[self.pts, found].astype(np.float32)
        self.ids = np.r_[self.ids, np.arange(self.next_id, self.next_id + len(found))]
        self.next_id += len(found)

    def _measure(self, ref, lm: np.ndarray, d: float) -> SurfacePair | None:
        import cv2

        _, ids, pts, rlm = ref
        _, ia, ib = np.intersect1d(ids, self.ids, return_indices=True)
        if len(ia) < 12:
            return None
        a, b = pts[ia].astype(np.float64), self.pts[ib].astype(np.float64)
        iod = (eye_distance(rlm) + d) / 2
        H, _ = cv2.findHomography(a, b, cv2.RANSAC, 0.02 * iod)
        if H is None:
            return None
        res = _homography_errors(H, a, b)
        best, region = 0.0, ""
        of = _regions_of(a, rlm)
        for k, name in enumerate(_REGIONS):
            sel = of == k
            if sel.sum() >= self.MIN_REGION:
                r = float(np.linalg.norm(_median0(res[sel]))) / iod
                if r > best:
                    best, region = r, name
        motion = float(_median0(_similarity_residuals(a, b))) / iod
        return SurfacePair(motion, best, region, len(a), float(ref[0]))


def _regions_of(pts: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Each point's face region (its index in _REGIONS): that of the nearest landmark."""
    if not len(pts):
        return np.zeros(0, np.int64)
    return _REGION_OF[np.argmin(((pts[:, None, :] - lm[None]) ** 2).sum(axis=-1), axis=1)]


def _region_counts(pts: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """How many of the points each face region has (indexed as _REGIONS)."""
    return np.bincount(_regions_of(pts, lm), minlength=len(_REGIONS))


def _mask_out(mask: np.ndarray, pts: np.ndarray, d: float) -> None:
    """Clear the mask around each point (a radius of an eighth of the eye distance d): corner
    searches in it keep away from points already tracked."""
    import cv2

    for p in pts:
        cv2.circle(mask, (int(p[0]), int(p[1])), max(2, int(d / 8)), 0, -1)


def _scaled(images: tuple, scale: float) -> tuple[tuple, np.ndarray]:
    """The images (same size) resized by `scale` (<= 1), and the exact (x, y) factors used."""
    import cv2

    h, w = images[0].shape[:2]
    if scale >= 1.0:
        return images, np.ones(2)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    out = tuple(cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images)
    return out, np.array([size[0] / w, size[1] / h])


def _grey(image: np.ndarray) -> np.ndarray:
    """A grey copy the tracker may keep (the caller's frame buffer may be reused)."""
    import cv2

    return image.copy() if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


# --- a blink seen in the image -------------------------------------------------------------

@dataclass
class _Seen:
    """One frame of the track, kept for a blink's look back (about blink_max_s)."""

    ts: float
    grey: np.ndarray
    lm: np.ndarray
    openness: float
    ids: np.ndarray   # SurfaceFlow's tracked point ids and positions in this frame
    pts: np.ndarray


def _ncc(a: np.ndarray, b: np.ndarray) -> float | None:
    """Normalised cross-correlation of two patches; None when either is too flat to judge."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    a, b = a - a.mean(), b - b.mean()
    na, nb = float(np.sqrt((a * a).mean())), float(np.sqrt((b * b).mean()))
    if na < 2.0 or nb < 2.0:  # grey levels: an overexposed or blank patch says nothing
        return None
    return float((a * b).mean() / (na * nb))


def eye_change(before: _Seen, closed: _Seen) -> tuple[float, float] | None:
    """How much the eyes' *appearance* changed between an open frame and the most closed one,
    against the nose: (eyes, nose), each 1 - NCC; eyes is the smaller of the two eyes' changes
    (a blink closes both). The open frame is first mapped onto the closed one by the homography
    of the face's tracked surface points (on a print that is exact, so nothing changes beyond
    blur and noise; on a face the eyelids cover the iris). Falls back to the landmarks outside the
    eyes when too few points are shared. None when a patch cannot be judged."""
    import cv2

    lm, iod = closed.lm, eye_distance(closed.lm)
    _, ia, ib = np.intersect1d(before.ids, closed.ids, return_indices=True)
    H = None
    if len(ia) >= 12:
        H, _ = cv2.findHomography(before.pts[ia].astype(np.float64), closed.pts[ib].astype(np.float64),
                                  cv2.RANSAC, 0.02 * iod)
    if H is None:
        H, _ = cv2.findHomography(before.lm[_NON_EYE], lm[_NON_EYE], 0)
    if H is None:
        return None
    boxes = []
    for a, b in _CORNERS:  # an eye's box from its corners, which stay put while the lids move
        d = float(np.linalg.norm(lm[b] - lm[a]))
        c = (lm[a] + lm[b]) / 2
        boxes.append((c[0] - 0.65 * d, c[1] - 0.4 * d, c[0] + 0.65 * d, c[1] + 0.4 * d))
    lo, hi = lm[27:36].min(axis=0), lm[27:36].max(axis=0)
    boxes.append((lo[0], lo[1], hi[0], hi[1]))
    h, w = closed.grey.shape
    corners = np.array(boxes)
    x0, y0, x1, y1 = _clamped(corners[:, :2].min(axis=0), corners[:, 2:].max(axis=0), w, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    warped = cv2.warpPerspective(before.grey, shift @ H, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    now = closed.grey[y0:y1, x0:x1]
    changes = []
    for bx in boxes:
        l, t = max(0, int(bx[0]) - x0), max(0, int(bx[1]) - y0)
        r, b = int(bx[2]) + 1 - x0, int(bx[3]) + 1 - y0
        if r - l < 4 or b - t < 3:
            return None
        n = _ncc(now[t:b, l:r], warped[t:b, l:r])
        if n is None:
            return None
        changes.append(1.0 - n)
    return min(changes[0], changes[1]), changes[2]


# --- blink ---------------------------------------------------------------------------------

class BlinkDetector:
    """Dips of the eyes below (1 - dip) x their recent open level that recover within max_s.

    Both measures must dip: the openness (eyelid gap over nose length, which a tilted photo
    keeps) and the classic EAR (eyelid gap over eye width). On simulated prints dlib's eyelid
    points wobble by up to about 0.36 of the openness alone, but less on both at once."""

    def __init__(self, cfg: LivenessConfig):
        self.cfg = cfg
        self.hist: deque = deque()  # (ts, openness, ear)
        self.closed_at: float | None = None
        self.closed_base = (0.0, 0.0)
        self.closed_min = (0.0, 0.0)
        self.blinks: list[tuple[float, float]] = []  # (ts of closing, depth of the dip)
        self.deepest = 0.0
        self.last_ts = -math.inf

    def update(self, ts: float, o: float, e: float, shape_change: float = 0.0) -> bool:
        """Feed one frame; True when a blink has just completed. `shape_change`: how much the
        rest of the face (brows, nose, mouth) changed since the previous frame, beyond a
        similarity, relative to the eye distance (a blink moves the eyelids, not the face)."""
        c = self.cfg
        if self.hist and ts - self.last_ts > MAX_FRAME_GAP_S:
            # the face was lost for a while: what came before says nothing about a blink now
            self.hist.clear()
            self.closed_at = None
        self.last_ts = ts
        while self.hist and ts - self.hist[0][0] > c.blink_baseline_s:
            self.hist.popleft()
        done = False
        if len(self.hist) >= 5 and ts - self.hist[0][0] >= 0.4:
            bo, be = np.percentile([h[1:] for h in self.hist], 80, axis=0).tolist()  # openness, ear
            if self.closed_at is None:
                if (bo > 0 and be > 0 and o < bo * (1 - c.blink_dip) and e < be * (1 - c.blink_dip)
                        and shape_change <= c.blink_max_shape):
                    self.closed_at, self.closed_base, self.closed_min = ts, (bo, be), (o, e)
            else:
                self.closed_min = (min(self.closed_min[0], o), min(self.closed_min[1], e))
                if ts - self.closed_at > c.blink_max_s:
                    self.closed_at = None  # eyes down or closed too long: not a blink
                elif o >= self.closed_base[0] * (1 - c.blink_dip / 2):
                    depth = min(1 - self.closed_min[0] / self.closed_base[0],
                                1 - self.closed_min[1] / self.closed_base[1])
                    self.blinks.append((self.closed_at, depth))
                    self.deepest = max(self.deepest, depth)
                    self.closed_at = None
                    done = True
        # the closed frames do not lower the open level
        if self.closed_at is None or done:
            self.hist.append((ts, o, e))
        return done


# --- challenges ----------------------------------------------------------------------------

class Challenge:
    """One asked action with a time limit, checked from landmarks."""

    def __init__(self, kind: str, started: float, limit_s: float, cfg: LivenessConfig,
                 blinks_before: int, start_lm: np.ndarray | None, start_yaw: float | None):
        self.kind, self.started, self.deadline, self.cfg = kind, started, started + limit_s, cfg
        self.blinks_before = blinks_before
        self.start_lm, self.start_yaw = start_lm, start_yaw
        self.met: bool | None = None  # None while open
        self.best = 0.0  # blink: blinks since start; turn: best yaw change in the asked direction
        self.held = 0    # turn: frames in a row that are turned far enough, and not as a plane

    def update(self, ts: float, lm: np.ndarray, blinks: int) -> bool | None:
        if self.met is not None:
            return self.met
        if self.kind == "blink":
            self.best = float(blinks - self.blinks_before)
            if blinks > self.blinks_before:
                self.met = True
        else:
            yaw, _ = pose(lm)
            if self.start_lm is None:
                self.start_lm, self.start_yaw = lm, yaw
            sign = 1.0 if self.kind == "turn_left" else -1.0
            change = sign * (yaw - self.start_yaw)
            self.best = max(self.best, change)
            if change >= self.cfg.turn_yaw and planarity(self.start_lm, lm)[1] >= self.cfg.turn_nonplanar:
                # a head that turned stays turned for a moment; dlib's landmarks misfitted in one
                # frame of a print do not (that met a turn in the seed-15 attack set)
                self.held += 1
                if self.held >= TURN_HELD_FRAMES:
                    self.met = True
            else:
                self.held = 0
        if self.met is None and ts > self.deadline:
            self.met = False
        return self.met


# --- the tracker ---------------------------------------------------------------------------

class LivenessTracker:
    """Liveness of one face track. Feed every frame of the track's chosen face to `update`."""

    def __init__(self, cfg: LivenessConfig | None = None, rng: random.Random | None = None, room: Room | None = None):
        self.cfg = cfg or LivenessConfig()
        self.rng = rng or random.Random()
        self.start: float | None = None
        self.last_ts = -math.inf
        self.last_pair: SurfacePair | None = None  # the surface pair this frame ended, if any
        self.blink = BlinkDetector(self.cfg)
        self.surface = SurfaceFlow(self.cfg.planar_gap_s)
        # the kiosk's empty view (kiosk.loop keeps it), so that a room's own straight edges are no border
        self.screen = ScreenCues(self.cfg, room) if self.cfg.screen_cues > 0 else None
        self.live_pairs = 0  # pairs of frames whose surface moved in 3D (or not as one piece)
        self.live_until = -math.inf  # end of the last live pair counted
        self.flat_pairs = 0  # pairs that moved out of plane as one flat piece
        self.pairs = 0
        self.max_motion = 0.0
        self.max_parallax = 0.0
        self.parallax_region = ""
        self.last_ear = 0.0
        self.min_ear = math.inf
        self.challenges: list[Challenge] = []
        self.queue: list[str] | None = None
        self.failed = 0  # challenges not met in time
        self.verdict = LivenessVerdict("pending")
        self.n = 0
        self.prev_lm: np.ndarray | None = None
        self.blinks = 0  # confirmed blinks
        self.unconfirmed = 0  # landmark blinks the image did not confirm
        self.eye_change = 0.0  # the largest eyes' change of a landmark blink (1 - NCC), and the nose's then
        self.nose_change = 0.0
        self.recent: deque[_Seen] = deque()  # the last blink_max_s or so of frames, for a blink's look back
        self.with_images = False
        self.wait_from: float | None = None  # when "live" first waited for a screen cue that had begun

    def _blink_seen(self, closed_at: float, reopened: float) -> bool:
        """Did the eyes' appearance change in the frames of the landmark blink closed_at..reopened?"""
        c = self.cfg
        before = [f for f in self.recent if f.ts < closed_at]
        during = [f for f in self.recent if closed_at <= f.ts <= reopened]
        if not before or not during:
            return False
        change = eye_change(before[-1], min(during, key=lambda f: f.openness))
        if change is None:
            return False
        eyes, nose = change
        if eyes > self.eye_change:
            self.eye_change, self.nose_change = eyes, nose
        return eyes >= c.blink_eye_change and eyes >= c.blink_eye_ratio * nose

    # the order of challenges, drawn once per track
    def _draw(self) -> list[str]:
        kinds = list(self.cfg.challenge_kinds)
        out: list[str] = []
        while len(out) < self.cfg.challenge_count:
            self.rng.shuffle(kinds)
            for k in kinds:
                # never both directions of a turn in a row
                if len(out) < self.cfg.challenge_count and (not out or {out[-1], k} != {"turn_left", "turn_right"}):
                    out.append(k)
        return out

    def _scores(self) -> dict:
        return {
            "blink": round(self.blink.deepest, 4),
            "blinks": self.blinks,
            "blinks_unconfirmed": self.unconfirmed,
            "blink_eyes": round(self.eye_change, 4),
            "blink_nose": round(self.nose_change, 4),
            "ear": round(self.last_ear, 4),
            "ear_min": round(self.min_ear if self.min_ear != math.inf else 0.0, 4),
            "parallax": round(self.max_parallax, 4),
            "parallax_region": self.parallax_region,
            "parallax_pairs": self.live_pairs,
            "motion": round(self.max_motion, 4),
            "flat_pairs": self.flat_pairs,
            "pairs": self.pairs,
            "frames": self.n,
            # the rate the thresholds were met at (measured at 15, 7.5 and 5 fps: docs/liveness.md)
            "fps": round((self.n - 1) / (self.last_ts - self.start), 1) if self.last_ts > self.start else 0.0,
            "challenges_failed": self.failed,
            **(self.screen.scores() if self.screen is not None else {}),
            # how long "live" has waited for a screen cue that had begun (screen_wait_s)
            **({"screen_wait": round(self.last_ts - self.wait_from, 2)} if self.wait_from is not None else {}),
        }

    def _finish(self, state: str, reason: str, ts: float) -> LivenessVerdict:
        ch = self.challenges[-1] if self.challenges else None
        self.verdict = LivenessVerdict(state, reason, self._scores(), None,
                                       ch.kind if ch else None, ch.met if ch else None,
                                       ts - (self.start if self.start is not None else ts))
        return self.verdict

    def _live(self, reason: str, ts: float) -> LivenessVerdict:
        """Live - unless a screen cue that holds has fired (fewer than screen_cues: no evidence for
        HR; with screen_hold any cue, the glow only with screen_glow_holds): then "unverified"
        ("screen_cue"), the person is asked to try again; or a cue has begun: then "pending" for
        up to screen_wait_s, until it fires or not."""
        c = self.cfg
        if self.screen is not None:
            fired = self.screen.fired()
            if any(self._holds(cue) for cue in fired):
                return self._finish("unverified", "screen_cue", ts)
            # a cue that has begun (fewer hits than it needs) gets screen_wait_s to fire or not: a
            # replay can pass on its parallax or a blink before a cue's last look (the real phone
            # replay cropped to its screen was recorded with its glow at 2 of 3 looks); no
            # genuine track measured had a single hit (docs/liveness.md). Only the cues that
            # could still change the outcome count.
            begun = self.screen.begun()
            if len(fired) + len(begun) < c.screen_cues:
                begun = [cue for cue in begun if self._holds(cue)]
            if begun and c.screen_wait_s > 0:
                if self.wait_from is None:
                    self.wait_from = ts
                if ts - self.wait_from < c.screen_wait_s:
                    self.verdict = LivenessVerdict("pending", None, self._scores(), None, None, None, ts - self.start)
                    return self.verdict
        return self._finish("live", reason, ts)

    def _holds(self, cue: str) -> bool:
        """Whether this screen cue alone keeps a face from "live" (screen_hold): the glow only with
        screen_glow_holds - a real face lit a stop above its room can clip like a screen's light."""
        return self.cfg.screen_hold and (cue != "glow" or self.cfg.screen_glow_holds)

    def update(self, ts: float, landmarks68, box=None, image: np.ndarray | None = None,
               ev: float = 0.0) -> LivenessVerdict:
        """One frame of this track: its time (s), the face's (68, 2) landmarks (full-frame
        pixels), its box (kept for the API) and the frame itself (RGB or grey; without it only
        the landmark signals - blinks, challenges - are available), and the exposure
        compensation it was taken with (kiosk.camera.Frame.ev: the glow cue's clipping). Returns
        the verdict so far; once "live" or "spoof" it no longer changes."""
        if self.verdict.state != "pending":
            return self.verdict
        c = self.cfg
        lm = np.asarray(landmarks68, dtype=np.float64).reshape(68, 2)
        if self.start is None:
            self.start = ts
        self.last_ts = ts
        self.n += 1
        if c.mode == "off":
            return self._finish("live", "off", ts)

        # passive signals: the face's surface from the image ...
        opened = openness(lm)
        if isinstance(image, np.ndarray) and image.ndim in (2, 3):
            self.with_images = True
            grey = _grey(image)
            pair = self.last_pair = self.surface.update(ts, grey, lm)
            if self.screen is not None:
                self.screen.update(ts, grey, lm, ev)
            self.recent.append(_Seen(ts, grey, lm, opened, self.surface.ids.copy(), self.surface.pts.copy()))
            while ts - self.recent[0].ts > c.blink_max_s + 2 * MAX_FRAME_GAP_S:
                self.recent.popleft()
            if pair is not None:
                self.pairs += 1
                self.max_motion = max(self.max_motion, pair.motion)
                if pair.parallax > self.max_parallax:
                    self.max_parallax, self.parallax_region = pair.parallax, pair.region
                if pair.parallax >= c.parallax_live and pair.parallax >= c.parallax_ratio * pair.motion:
                    # pairs overlap (each spans planar_gap_s, one ends at every frame): only a pair
                    # that starts after the last counted one ended is new evidence - strictly after,
                    # since one frame's tracking error shows in every pair that ends or starts there
                    if pair.since > self.live_until:
                        self.live_pairs += 1
                        self.live_until = ts
                elif pair.motion >= c.flat_min_motion and pair.parallax <= c.flat_max:
                    self.flat_pairs += 1

        # ... and blinks from the landmarks: with frames, a blink counts only when the eyes' appearance
        # changed too (dlib's eyelid points can "blink" on a blurred print)
        self.last_ear = ear(lm)
        self.min_ear = min(self.min_ear, self.last_ear)
        shape = _similarity_residual(self.prev_lm[_NON_EYE], lm[_NON_EYE]) / eye_distance(lm) \
            if self.prev_lm is not None else 0.0
        self.prev_lm = lm
        if self.blink.update(ts, opened, self.last_ear, shape):
            if not self.with_images or self._blink_seen(self.blink.blinks[-1][0], ts):
                self.blinks += 1
            else:
                self.unconfirmed += 1
        # a blink is worth a full set of 3D pairs; flat evidence must not outweigh either
        if self.screen is not None and len(self.screen.fired()) >= c.screen_cues:
            return self._finish("spoof", "screen", ts)  # a face on a device: independent cues agree
        live_evidence = self.live_pairs + c.parallax_pairs * self.blinks // c.blinks_needed
        if self.flat_pairs >= c.flat_pairs and live_evidence <= c.flat_live_share * self.flat_pairs:
            if live_evidence >= c.mixed_live_pairs:
                # it also moved like a face: a real face held still on a low-resolution, soft or
                # enlarged camera picture can (2 live pairs with 8 flat ones), about 1 % of prints do
                # (docs/liveness.md, "Fairness"). Not accepted, but no accusation either: asked to
                # try again.
                return self._finish("unverified", "mixed_motion", ts)
            return self._finish("spoof", "flat_motion", ts)
        passive_live = None
        if live_evidence > c.flat_live_share * self.flat_pairs:
            if self.blinks >= c.blinks_needed:
                passive_live = "blink"
            elif self.live_pairs >= c.parallax_pairs:
                passive_live = "parallax"
        elapsed = ts - self.start

        if c.mode == "passive" or (c.mode == "passive_then_challenge" and not self.challenges
                                   and elapsed < c.passive_s):
            if passive_live:
                return self._live(passive_live, ts)
            if elapsed > c.max_seconds:
                return self._finish("unverified", "timeout", ts)
            self.verdict = LivenessVerdict("pending", None, self._scores(), None, None, None, elapsed)
            return self.verdict

        # challenge phase (in passive_then_challenge a passive sign still counts)
        if c.mode == "passive_then_challenge" and passive_live:
            return self._live(passive_live, ts)
        if self.queue is None:
            self.queue = self._draw()
        ch = self.challenges[-1] if self.challenges else None
        if ch is None or ch.met is True:
            if ch is not None and sum(x.met is True for x in self.challenges) >= c.challenge_count:
                return self._live("challenge", ts)
            kind = self.queue[len(self.challenges)]
            ch = Challenge(kind, ts, c.challenge_s, c, self.blinks, None, None)
            self.challenges.append(ch)
        met = ch.update(ts, lm, self.blinks)
        if met is False:
            self.failed += 1
            if self.failed >= c.challenge_tries:
                # not answered is not an attack: the person is asked to try again
                return self._finish("unverified", "challenge_failed", ts)
            # ask again, another kind where there is one: a blink where it can (asked just before
            # real actions in the clips, 30 of 32 blinks and 19 of 49 turns met the challenge at
            # 7.5 frames/s, docs/liveness.md), else at random
            others = [k for k in c.challenge_kinds if k != ch.kind] or [ch.kind]
            self.queue.insert(len(self.challenges), "blink" if "blink" in others else self.rng.choice(others))
            ch = Challenge(self.queue[len(self.challenges)], ts, c.challenge_s, c, self.blinks, None, None)
            self.challenges.append(ch)
            met = ch.update(ts, lm, self.blinks)
        if met and sum(x.met is True for x in self.challenges) >= c.challenge_count:
            return self._live("challenge", ts)
        if elapsed > c.max_seconds and met is not None:
            # an open challenge always gets its full time (config checks that max_seconds
            # leaves room for passive_s and every try)
            return self._finish("unverified", "timeout", ts)
        scores = self._scores()
        scores["challenge_progress"] = round(ch.best, 4)
        self.verdict = LivenessVerdict("pending", None, scores, None if met else ch.kind, ch.kind, met, elapsed)
        return self.verdict
