"""Liveness: is the face in front of the kiosk a live person, or a photo or a screen held up to it?

Pure logic with plain data in and out: one ``LivenessTracker`` per face track, fed per frame with
the 68 landmarks the kiosk already computes for its quality gates (no extra dlib call)::

    tracker = LivenessTracker(cfg, random.Random())
    verdict = tracker.update(ts, landmarks68, box, frame.shape)
    verdict.state    # "live" | "spoof" | "pending"
    verdict.prompt   # None | "blink" | "turn_left" | "turn_right" (the screen translates it)
    verdict.scores   # {"blink": .., "ear": .., "nonplanar": .., "motion": .., ...} for the event record

Passive signals (from what the track gives over a second or two):

* **blink** -- eye openness (eyelid gap over nose length, so a tilted or scaled photo does not
  change it) and the classic EAR (gap over eye width) both dip below ``1 - blink_dip`` of their
  recent open level, and the openness recovers within ``blink_max_s``;
* **3D versus flat motion** -- between frames ``planar_gap_s`` apart, the landmarks' motion is
  fitted by a similarity (move, turn in plane, scale) and by a homography (any motion of a
  plane, e.g. a print tilted by hand). ``motion`` = what the similarity cannot explain, relative
  to the distance between the eyes: only when it is at least ``min_motion`` is the pair judged.
  ``nonplanar`` = what even the homography cannot explain: a head that turns, nods, talks or
  blinks leaves a residual; a flat print leaves only landmark jitter.

"live" needs a completed blink or ``nonplanar_pairs`` 3D pairs; "spoof" is declared on positive
evidence only (``flat_pairs`` pairs with large out-of-plane motion and a flat fit, and no live
sign), on a failed challenge, or when ``max_seconds`` pass without a pass (reason "timeout", so
HR can tell a suspected print from someone who just stood still).

Active challenge ("Kedipkan mata", "Tengok ke kiri/kanan"): asked in mode "challenge" at once,
in "passive_then_challenge" when the passive signals are not conclusive after ``passive_s``.
Each challenge has ``challenge_s``; the kinds are drawn from ``challenge_kinds`` in random order
by the injected ``random.Random``. A turn is met when the yaw (kiosk.recognition.quality.pose)
moves by ``turn_yaw`` in the asked direction *and* that motion is not planar (a rotated print
does not change the yaw ratio much, and fits a homography). Landmarks are in camera
coordinates, not mirrored: the person's left is the image's right (yaw grows).

What this cannot stop: a screen replaying a video of the person (it blinks and turns), a 3D mask.
See docs/liveness.md.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kiosk.recognition.quality import pose

MODES = ("off", "passive", "passive_then_challenge", "challenge")
CHALLENGE_KINDS = ("blink", "turn_left", "turn_right")

# landmark indices (dlib 68-point scheme)
_LEFT_EYE = slice(36, 42)   # the eye on the image's left
_RIGHT_EYE = slice(42, 48)
_GAPS = ((37, 41), (38, 40), (43, 47), (44, 46))  # upper/lower eyelid pairs
_CORNERS = ((36, 39), (42, 45))
_NOSE = (27, 33)  # top of the nasal bridge, bottom of the nose
MAX_FRAME_GAP_S = 0.25  # a longer gap between a track's frames restarts the blink detector
_NON_EYE = np.r_[17:36, 48:60]
_FIT_POINTS = np.r_[17:60]  # brows, nose, eyes, outer lips: dlib's jaw line slides on tilted photos


@dataclass(frozen=True)
class LivenessConfig:
    """Every threshold of the liveness check (defaults measured in docs/liveness.md)."""

    mode: str = "off"  # off | passive | passive_then_challenge | challenge (config.toml: off until measured)
    # blink
    blink_dip: float = 0.45        # openness and EAR must fall below (1 - dip) x their recent open level
    blink_max_s: float = 0.5       # ... and come back within this time
    blink_baseline_s: float = 1.5  # window of the "open" level (its 80th percentile)
    blinks_needed: int = 1
    blink_max_shape: float = 0.045 # the rest of the face may change this much (/ eye distance) while the eyes close
    # 3D versus flat motion
    planar_gap_s: float = 0.3      # compare frames this far apart (up to 2x when frames are sparse)
    min_motion: float = 0.04       # out-of-plane motion (/ eye distance) for a pair to be judged
    nonplanar_live: float = 0.09   # homography residual (/ eye distance) of a 3D pair
    nonplanar_pairs: int = 3       # 3D pairs (distinct frames) needed for "live"
    flat_max: float = 0.015        # homography residual at or below this: a flat pair
    flat_min_motion: float = 0.08  # a flat pair counts towards "spoof" only with this much motion
    flat_pairs: int = 6            # flat pairs (and no live sign) needed for "spoof"
    # challenge
    passive_s: float = 3.0         # passive_then_challenge: ask after this long without a verdict
    challenge_kinds: tuple = ("blink", "turn_left", "turn_right")
    challenge_count: int = 1       # challenges to pass, drawn in random order
    challenge_s: float = 5.0       # time limit of each challenge
    challenge_tries: int = 2       # challenges that may fail (each a new one) before "spoof"
    turn_yaw: float = 0.15         # yaw change (quality.pose units) a turn needs
    turn_nonplanar: float = 0.08   # ... with this homography residual against the start (3D, not a tilted print)
    # overall
    max_seconds: float = 12.0      # no pass by then: "spoof" with reason "timeout"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"liveness mode {self.mode!r} is not one of {MODES}")
        bad = [k for k in self.challenge_kinds if k not in CHALLENGE_KINDS]
        if bad or not self.challenge_kinds:
            raise ValueError(f"challenge_kinds {self.challenge_kinds!r}: each must be one of {CHALLENGE_KINDS}")


@dataclass
class LivenessVerdict:
    state: str                      # "live" | "spoof" | "pending"
    reason: str | None = None       # live: blink | nonplanar | challenge | off; spoof: flat_motion | challenge_failed | timeout
    scores: dict = field(default_factory=dict)
    prompt: str | None = None       # the challenge being asked (screen text key), or None
    challenge: str | None = None    # the current (or last) challenge kind
    challenge_met: bool | None = None
    elapsed: float = 0.0

    @property
    def live(self) -> bool:
        return self.state == "live"

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


def _similarity_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS residual of the least-squares similarity src -> dst (Umeyama), in pixels."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    # complex-number form: d ~ a * s with a complex a (rotation + scale)
    zs = s[:, 0] + 1j * s[:, 1]
    zd = d[:, 0] + 1j * d[:, 1]
    a = np.vdot(zs, zd) / (np.vdot(zs, zs).real or 1.0)
    r = zd - a * zs
    return float(np.sqrt(np.mean(np.abs(r) ** 2)))


def _homography_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS residual of the least-squares homography src -> dst, in pixels."""
    import cv2

    H, _ = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), 0)
    if H is None:
        return float("inf")
    p = np.c_[src, np.ones(len(src))] @ H.T
    w = p[:, 2:3]
    w[np.abs(w) < 1e-9] = 1e-9
    r = p[:, :2] / w - dst
    return float(np.sqrt(np.mean(np.sum(r * r, axis=1))))


def planarity(lm_a: np.ndarray, lm_b: np.ndarray) -> tuple[float, float]:
    """(motion, nonplanar) between two landmark sets, both relative to the eye distance.

    motion: residual after the best similarity (what a move, in-plane turn or zoom explains);
    nonplanar: residual after the best homography (what no flat object could do)."""
    a = np.asarray(lm_a, dtype=np.float64)[_FIT_POINTS]
    b = np.asarray(lm_b, dtype=np.float64)[_FIT_POINTS]
    iod = (eye_distance(lm_a) + eye_distance(lm_b)) / 2
    return _similarity_residual(a, b) / iod, _homography_residual(a, b) / iod


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
            bo = float(np.percentile([h[1] for h in self.hist], 80))
            be = float(np.percentile([h[2] for h in self.hist], 80))
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
            if change >= self.cfg.turn_yaw:
                _, nonplanar = planarity(self.start_lm, lm)
                if nonplanar >= self.cfg.turn_nonplanar:
                    self.met = True
        if self.met is None and ts > self.deadline:
            self.met = False
        return self.met


# --- the tracker ---------------------------------------------------------------------------

class LivenessTracker:
    """Liveness of one face track. Feed every frame of the track's chosen face to `update`."""

    def __init__(self, cfg: LivenessConfig | None = None, rng: random.Random | None = None):
        self.cfg = cfg or LivenessConfig()
        self.rng = rng or random.Random()
        self.start: float | None = None
        self.frames: deque = deque()  # (ts, landmarks)
        self.blink = BlinkDetector(self.cfg)
        self.live_pairs: set[float] = set()  # ts of frames whose pair was 3D
        self.flat_pairs: set[float] = set()
        self.max_motion = 0.0
        self.max_nonplanar = 0.0
        self.flat_nonplanar: list[float] = []
        self.last_ear = 0.0
        self.min_ear = math.inf
        self.challenges: list[Challenge] = []
        self.queue: list[str] | None = None
        self.failed = 0  # challenges not met in time
        self.verdict = LivenessVerdict("pending")
        self.n = 0

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
            "blinks": len(self.blink.blinks),
            "ear": round(self.last_ear, 4),
            "ear_min": round(self.min_ear if self.min_ear != math.inf else 0.0, 4),
            "nonplanar": round(self.max_nonplanar, 4),
            "nonplanar_pairs": len(self.live_pairs),
            "motion": round(self.max_motion, 4),
            "flat_pairs": len(self.flat_pairs),
            "frames": self.n,
            "challenges_failed": self.failed,
        }

    def _finish(self, state: str, reason: str, ts: float) -> LivenessVerdict:
        ch = self.challenges[-1] if self.challenges else None
        self.verdict = LivenessVerdict(state, reason, self._scores(), None,
                                       ch.kind if ch else None, ch.met if ch else None,
                                       ts - (self.start if self.start is not None else ts))
        return self.verdict

    def update(self, ts: float, landmarks68, box=None, frame_shape=None) -> LivenessVerdict:
        """One frame of this track: its time (s), the face's (68, 2) landmarks (full-frame
        pixels), its box and the frame's shape (kept for the API; the measures are relative to
        the face). Returns the verdict so far; once "live" or "spoof" it no longer changes."""
        if self.verdict.state != "pending":
            return self.verdict
        c = self.cfg
        lm = np.asarray(landmarks68, dtype=np.float64).reshape(68, 2)
        if self.start is None:
            self.start = ts
        self.n += 1
        if c.mode == "off":
            return self._finish("live", "off", ts)

        # passive signals
        self.last_ear = ear(lm)
        self.min_ear = min(self.min_ear, self.last_ear)
        prev = self.frames[-1][1] if self.frames else lm
        shape = _similarity_residual(prev[_NON_EYE], lm[_NON_EYE]) / eye_distance(lm)
        self.blink.update(ts, openness(lm), self.last_ear, shape)
        while self.frames and ts - self.frames[0][0] > 2 * c.planar_gap_s:
            self.frames.popleft()
        ref = None
        for fts, flm in self.frames:  # the newest frame at least planar_gap_s old
            if ts - fts >= c.planar_gap_s:
                ref = flm
        if ref is not None:
            motion, nonplanar = planarity(ref, lm)
            if motion >= c.min_motion:
                self.max_motion = max(self.max_motion, motion)
                self.max_nonplanar = max(self.max_nonplanar, nonplanar)
                if nonplanar >= c.nonplanar_live:
                    self.live_pairs.add(ts)
                elif nonplanar <= c.flat_max and motion >= c.flat_min_motion:
                    self.flat_pairs.add(ts)
        self.frames.append((ts, lm))

        passive_live = None
        if len(self.blink.blinks) >= c.blinks_needed:
            passive_live = "blink"
        elif len(self.live_pairs) >= c.nonplanar_pairs:
            passive_live = "nonplanar"
        if (len(self.flat_pairs) >= c.flat_pairs and passive_live is None and not self.blink.blinks
                and not self.live_pairs):
            return self._finish("spoof", "flat_motion", ts)
        elapsed = ts - self.start

        if c.mode == "passive" or (c.mode == "passive_then_challenge" and not self.challenges
                                   and elapsed < c.passive_s):
            if passive_live:
                return self._finish("live", passive_live, ts)
            if elapsed > c.max_seconds:
                return self._finish("spoof", "timeout", ts)
            self.verdict = LivenessVerdict("pending", None, self._scores(), None, None, None, elapsed)
            return self.verdict

        # challenge phase (in passive_then_challenge a passive sign still counts)
        if c.mode == "passive_then_challenge" and passive_live:
            return self._finish("live", passive_live, ts)
        if self.queue is None:
            self.queue = self._draw()
        ch = self.challenges[-1] if self.challenges else None
        if ch is None or ch.met is True:
            if ch is not None and sum(x.met is True for x in self.challenges) >= c.challenge_count:
                return self._finish("live", "challenge", ts)
            kind = self.queue[len(self.challenges)]
            ch = Challenge(kind, ts, c.challenge_s, c, len(self.blink.blinks), None, None)
            self.challenges.append(ch)
        met = ch.update(ts, lm, len(self.blink.blinks))
        if met is False:
            self.failed += 1
            if self.failed >= c.challenge_tries or elapsed + c.challenge_s > c.max_seconds:
                return self._finish("spoof", "challenge_failed", ts)
            # ask again, another kind where there is one
            others = [k for k in c.challenge_kinds if k != ch.kind] or [ch.kind]
            self.queue.insert(len(self.challenges), self.rng.choice(others))
            ch = Challenge(self.queue[len(self.challenges)], ts, c.challenge_s, c, len(self.blink.blinks), None, None)
            self.challenges.append(ch)
            met = ch.update(ts, lm, len(self.blink.blinks))
        if met and sum(x.met is True for x in self.challenges) >= c.challenge_count:
            return self._finish("live", "challenge", ts)
        if elapsed > c.max_seconds:
            return self._finish("spoof", "timeout", ts)
        scores = self._scores()
        scores["challenge_progress"] = round(ch.best, 4)
        self.verdict = LivenessVerdict("pending", None, scores, None if met else ch.kind, ch.kind, met, elapsed)
        return self.verdict
