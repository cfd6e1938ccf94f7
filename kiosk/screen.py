"""Screen cues: is the face in front of the kiosk shown on a phone, tablet or monitor?

A video replayed on a device blinks and moves like a live face, so the liveness signals of
kiosk/liveness.py pass it. What a single fixed camera does see of the device is measured here,
on the frames and landmarks liveness already gets (no extra dlib call), each cue on its own:

* **frame** - the device's border: long straight edges on opposite sides of the face (left and
  right, or above and below), outside the head, parallel to each other, or four shorter ones
  that close a box around it, or one of its lower corners - a side edge and an edge below the
  chin meeting at a right angle (``DeviceFrame``: OpenCV's line segment detector on a small crop
  around the face). A background line behind a live head is cut by the head or stops at the
  shoulders; a bezel runs past them, and closes below the chin, where a live body hides the room.
* **context** - the face's surroundings move: image points beside and above the head (the room,
  for a live person; the rest of the screen, the bezel, the fingers, for a device) are tracked
  from frame to frame (``ContextFlow``). A kiosk's camera is fixed, so the room around a live
  face stands still; a hand-held device moves, and with it everything around the face it shows.
* **glow** - the face is a light source: a screen is several times brighter than a face lit by
  the room, so the camera, exposing for the room, clips the face's skin to white while the frame
  around it is much darker (``glow``). A frame the kiosk's face-priority exposure darkened
  (``ev`` < 0) is judged as the camera's own metering would have seen it: skin at the level the
  sensor's white falls to (``clip_level``) counts as clipped.

Each cue counts its hits over the track; a cue has *fired* when its count reaches its threshold
(``[liveness] screen_*`` settings). kiosk.liveness.LivenessTracker refuses the face as
``screen`` when ``screen_cues`` cues have fired: agreement of independent cues is the positive
evidence HR's audit log needs, since each cue alone has a look-alike in some room (a doorway or
curtains behind a person, a colleague walking past, a face in the sun). docs/liveness.md has
the measurements and what still passes.

Plain data in and out::

    cues = ScreenCues(cfg)                  # one per face track (cfg: kiosk.liveness.LivenessConfig)
    cues.update(ts, grey, landmarks68, ev)  # every analysed frame: grey full frame, (68, 2) points,
                                            # its exposure compensation (kiosk.camera.Frame.ev)
    cues.fired()                            # ["frame", "context"] ...
    cues.scores()                           # {"screen_frame": .., "screen_context": .., ...}
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

from kiosk.camera.exposure import linear_to_srgb, srgb_to_linear

CUES = ("frame", "context", "glow")

WORK_IOD = 10.0  # frames are looked at scaled so that the eye distance is about this many pixels
MAX_GAP_S = 0.25  # a longer gap between frames restarts the tracking (the face was lost)
FRAME_EVERY_S = 0.3  # the border is looked for at most this often (it is the dearest cue) ...
GLOW_EVERY_S = 0.2  # ... and the face's light measured at most this often
_LK = dict(winSize=(9, 9), maxLevel=2, criteria=(3, 20, 0.03))
MAX_FB_PX = 0.25  # a point whose backward track misses its start by more is dropped


class FaceGeometry:
    """Face coordinates from the 68 landmarks: origin between the eyes, x along the eye line,
    y down the face, in eye distances. A head (with hair and ears) fits in |x| < 1.6,
    -2.7 < y < 2.4; the chin is at about y = 1.9."""

    def __init__(self, lm: np.ndarray):
        self.lm = lm
        el, er = lm[36:42].sum(axis=0) / 6, lm[42:48].sum(axis=0) / 6  # .mean(axis=0), without its overhead
        self.mid = (el + er) / 2
        v = er - el
        self.iod = float(np.hypot(*v)) or 1.0
        self.ux = v / self.iod
        self.uy = np.array([-self.ux[1], self.ux[0]])

    def to_face(self, p: np.ndarray) -> np.ndarray:
        d = np.asarray(p, np.float64) - self.mid
        out = np.empty((len(d), 2))
        out[:, 0], out[:, 1] = d @ self.ux, d @ self.uy
        return out / self.iod

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return self.mid + self.iod * (xy[:, :1] * self.ux + xy[:, 1:] * self.uy)

    def face(self) -> tuple[float, float, float, float]:
        """The face itself in face coordinates (x0, y0, x1, y1): its outline and brows (landmarks
        0-26) with FACE_MARGIN around them and the forehead above the brows. For a face looking
        straight at the camera about FACE; for a turned one, shifted to where the face is."""
        p = self.to_face(self.lm[:27])
        x0, y0 = p.min(axis=0)
        x1, y1 = p.max(axis=0)
        return x0 - FACE_MARGIN, y0 - FOREHEAD - FACE_MARGIN, x1 + FACE_MARGIN, y1 + FACE_MARGIN

    def box(self, x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> tuple[int, int, int, int]:
        """The image bounding box (clamped) of a rectangle in face coordinates. Plain floats, in
        to_image's order of operations (the same values): called several times a frame."""
        (mx, my), (ax, ay), (bx, by), s = self.mid.tolist(), self.ux.tolist(), self.uy.tolist(), self.iod
        xs = [mx + s * (x * ax + y * bx) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        ys = [my + s * (x * ay + y * by) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        return (max(0, int(min(xs))), max(0, int(min(ys))),
                min(w, int(math.ceil(max(xs))) + 1), min(h, int(math.ceil(max(ys))) + 1))


HEAD = (-1.6, -2.7, 1.6, 2.4)  # the head with hair, ears and chin, in face coordinates


def _factor(iod: float) -> int:
    """The whole factor that brings an eye distance of `iod` pixels closest to WORK_IOD. A whole
    factor, because OpenCV's area reduction by one is a plain box average (a tenth of the time of
    an arbitrary scale on a large frame)."""
    return max(1, round(iod / WORK_IOD))


def _reduce(grey: np.ndarray, box: tuple[int, int, int, int], n: int) -> np.ndarray:
    """The frame reduced n times by area averaging, computed only within `box` (x0, y0, x1, y1;
    widened to whole blocks of n pixels): black elsewhere."""
    import cv2

    if n == 1:
        return grey
    h, w = grey.shape
    out = np.zeros((h // n, w // n), np.uint8)
    x0, y0 = box[0] // n, box[1] // n
    x1, y1 = min(w // n, -(-box[2] // n)), min(h // n, -(-box[3] // n))
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = cv2.resize(grey[y0 * n:y1 * n, x0 * n:x1 * n], (x1 - x0, y1 - y0),
                                       interpolation=cv2.INTER_AREA)
    return out


def _reduced(p: np.ndarray, n: int) -> np.ndarray:
    """Frame pixel coordinates (pixel centres) in the frame reduced n times by area averaging."""
    return (np.asarray(p, np.float64) + 0.5) / n - 0.5


def _grey_median(img: np.ndarray) -> float:
    """np.median of a uint8 image (the same value), from its histogram: about 10x faster."""
    counts = np.cumsum(np.bincount(img.ravel(), minlength=256))
    n = int(counts[-1])
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))  # the ((n-1)//2)-th smallest
    hi = int(np.searchsorted(counts, n // 2, side="right"))  # the (n//2)-th smallest
    return (lo + hi) / 2


def _full(p: np.ndarray, n: int) -> np.ndarray:
    """The inverse of _reduced."""
    return (np.asarray(p, np.float64) + 0.5) * n - 0.5


def _in_head(xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which points (face coordinates) lie within the head's rectangle (+ margin)."""
    x0, y0, x1, y1 = HEAD
    return ((xy[:, 0] > x0 - margin) & (xy[:, 0] < x1 + margin)
            & (xy[:, 1] > y0 - margin) & (xy[:, 1] < y1 + margin))


# --- the room: what the camera sees when nobody is there -----------------------------------------

class Room:
    """The kiosk's empty view, learnt from the frames in which no face was found (the camera is
    fixed): the median of the last few snapshots, small and grey. A straight edge that the empty
    room has at the same place - a door frame, curtains, a flag pole behind the person - is the
    room's, not a device's border. Until it has seen the room (a kiosk just started with someone
    in front of it), it explains nothing. Only a still view is learnt (each snapshot close to the
    one before, no face for QUIET_S): a hand-held device or someone walking past is not."""

    WIDTH, KEEP, EVERY_S, READY, QUIET_S, STILL = 160, 5, 1.0, 3, 2.0, 8.0

    def __init__(self):
        self.snaps: deque = deque(maxlen=self.KEEP)
        self.last = -math.inf
        self.face_seen = -math.inf
        self.prev: np.ndarray | None = None
        self.grad: tuple | None = None  # Sobel x, y of the median snapshot

    def update(self, ts: float, image: np.ndarray | None) -> None:
        """A frame (RGB or grey) in which no face was found, or None when one was."""
        import cv2

        if image is None or ts < self.face_seen:
            self.face_seen = ts
            return
        if ts - self.face_seen < self.QUIET_S or 0 <= ts - self.last < self.EVERY_S:
            return
        self.last = ts
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        small = cv2.resize(grey, (self.WIDTH, max(8, round(h * self.WIDTH / w))), interpolation=cv2.INTER_AREA)
        still = self.prev is not None and self.prev.shape == small.shape and \
            float(np.mean(np.abs(small.astype(np.int16) - self.prev))) <= self.STILL
        self.prev = small
        if not still:
            return
        if self.snaps and self.snaps[0].shape != small.shape:
            self.snaps.clear()  # the camera's size changed
        self.snaps.append(small)
        if len(self.snaps) >= self.READY:
            med = np.median(np.stack(self.snaps), axis=0).astype(np.float32)
            self.grad = _sobel(med)
        else:
            self.grad = None

    def explains(self, grey: np.ndarray, ends: list[tuple[np.ndarray, np.ndarray]]) -> list[bool]:
        """For each segment (image pixels of `grey`, the current frame): does the empty room
        have the same edge there (at least half as strong across the segment)?"""
        import cv2

        if self.grad is None:
            return [False] * len(ends)
        h, w = grey.shape
        rw, rh = self.grad[0].shape[1], self.grad[0].shape[0]
        if abs(rh / rw - h / w) > 0.02:
            return [False] * len(ends)
        f = rw / w
        now = _sobel(cv2.resize(grey, (rw, rh), interpolation=cv2.INTER_AREA).astype(np.float32))
        out = []
        for p, q in ends:
            d = (q - p) / (np.hypot(*(q - p)) or 1.0)
            n = np.array([-d[1], d[0]])
            t = np.linspace(0.1, 0.9, 12)[:, None]
            pts = (p + t * (q - p)) * f
            xi = np.clip(np.round(pts[:, 0]).astype(int), 0, rw - 1)
            yi = np.clip(np.round(pts[:, 1]).astype(int), 0, rh - 1)
            across_now = np.abs(now[0][yi, xi] * n[0] + now[1][yi, xi] * n[1])
            across_room = np.abs(self.grad[0][yi, xi] * n[0] + self.grad[1][yi, xi] * n[1])
            out.append(float(np.median(across_room)) >= 0.5 * float(np.median(across_now)) > 0)
        return out


def _sobel(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    return cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)


# --- frame: the device's border --------------------------------------------------------------

# The face itself (forehead to chin, cheek to cheek) of a face looking straight ahead: no edge of a
# pair crosses it (the pair rule was measured with it, docs/liveness.md). A box's edges keep out
# of the face's own rectangle instead, FaceGeometry.face(), which follows a turned face.
FACE = (-1.15, -1.4, 1.15, 2.1)
FACE_MARGIN = 0.05  # FaceGeometry.face(): around the landmarks (eye distances) ...
FOREHEAD = 1.0  # ... and this much above the brows


@dataclass
class Border:
    """The device's border around the face, in eye distances: the longest pair of straight edges
    on opposite sides, the best closed box of four, and the best lower corner of two."""

    length: float = 0.0  # the shorter edge of the best pair
    sides: str = ""      # "left-right" or "top-bottom"
    box: float = 0.0     # the shortest side of the best box: four edges that meet at its corners
    corner: float = 0.0  # the shorter leg of the best lower corner: a side edge and one below the chin


def _meet(a: tuple, b: tuple) -> tuple[float, float] | None:
    """Where the lines through two edges ((x, y), (x, y)) cross; None if they are parallel."""
    (px, py), (qx, qy) = a
    (sx, sy), (tx, ty) = b
    rx, ry, ux, uy = qx - px, qy - py, tx - sx, ty - sy
    den = rx * uy - ry * ux
    if abs(den) < 1e-9:
        return None
    k = ((sx - px) * uy - (sy - py) * ux) / den
    return px + k * rx, py + k * ry


def _along(edge: tuple, c0: tuple, c1: tuple, cover: float, past: float) -> float:
    """How much of the box's side from corner c0 to c1 the edge covers, or 0 if it covers less
    than `cover` of it or runs more than `past` (eye distances) beyond a corner: a device's edges
    end at its corners, while a room's lines cross one another and run on."""
    dx, dy = c1[0] - c0[0], c1[1] - c0[1]
    span = math.hypot(dx, dy)
    if span < 1e-6:
        return 0.0
    ux, uy = dx / span, dy / span
    a, b = sorted(((x - c0[0]) * ux + (y - c0[1]) * uy) for x, y in edge)
    covered = min(b, span) - max(a, 0.0)
    if a < -past or b > span + past or covered < cover * span:
        return 0.0
    return covered


def _clip_length(a, b, rect) -> float:
    """Length of the part of segment a-b ((x, y) floats, face coordinates) inside the rectangle."""
    x0, y0, x1, y1 = rect
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                return 0.0
        else:
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
            if t0 > t1:
                return 0.0
    return math.hypot(dx, dy) * (t1 - t0)


def _lines(segs: list, max_gap: float = 1.0) -> list[tuple[float, tuple, tuple]]:
    """Collinear segments ((x, y), (x, y) floats) joined into lines (a border broken by fingers or
    a dark part of the picture is one edge): (angle in degrees, one end, the other end), face
    coordinates. Plain floats: a handful of segments, where numpy's per-call cost would dominate."""
    items = []
    for (px, py), (qx, qy) in segs:
        ln = math.hypot(qx - px, qy - py) or 1.0
        dx, dy = (qx - px) / ln, (qy - py) / ln
        if dy < 0 or (dy == 0 and dx < 0):
            dx, dy = -dx, -dy
        items.append((math.degrees(math.atan2(dy, dx)), px * -dy + py * dx, dx, dy, px, py, qx, qy))
    items.sort(key=lambda it: (it[0], it[1]))
    out, used = [], [False] * len(items)
    for i, (ang, rho, dx, dy, *_) in enumerate(items):
        if used[i]:
            continue
        group = []
        for j in range(i, len(items)):  # sorted by angle: the ones within 3 degrees follow i
            if items[j][0] - ang > 3.0:
                break
            if not used[j] and abs(items[j][1] - rho) <= 0.2:
                group.append(j)
        for j in group:
            used[j] = True
        spans = sorted((min(a, b), max(a, b)) for a, b in
                       ((items[j][4] * dx + items[j][5] * dy, items[j][6] * dx + items[j][7] * dy) for j in group))
        lo, hi = spans[0]
        for a, b in spans[1:] + [(math.inf, math.inf)]:
            if a - hi > max_gap:
                out.append((ang, (lo * dx - rho * dy, lo * dy + rho * dx), (hi * dx - rho * dy, hi * dy + rho * dx)))
                lo, hi = a, b
            else:
                hi = max(hi, b)
    return out


class DeviceFrame:
    """Straight edges around the face, found by OpenCV's line segment detector (LSD) on a crop of
    the frame around the head, scaled so that the eye distance is WORK_IOD pixels."""

    REACH = (-4.5, -4.0, 4.5, 6.0)  # the crop, in face coordinates: beside, above and below the head
    MAX_TILT_DEG = 30.0  # a side edge within this of the face's vertical (top/bottom: horizontal)
    MAX_SKEW_DEG = 12.0  # the two edges of a pair this close to parallel (a device tilted in 3D)
    MIN_LEN = 1.0  # shorter segments are not looked at (eye distances)
    # the closed box: four edges, one on each side of the face, opposite ones parallel (MAX_SKEW_DEG)
    BOX_SHEAR_DEG = 25.0  # its sides meet within this of a right angle (a device tilted in 3D)
    BOX_COVER = 0.6  # each edge covers at least this share of its side, corner to corner ...
    BOX_PAST = 0.5  # ... and runs past a corner by at most this (eye distances) plus a fifth of the side
    BOX_EDGES = 4  # the longest this many edges on each side are tried
    BOX_GAP = 2.0  # a box's edge is joined across gaps this long (eye distances): a thumb along a phone's edge
    # a lower corner: a side edge and an edge below the chin, each within BOX_SHEAR_DEG of a right
    # angle to the other, each starting at most CORNER_START from where they meet (a device's
    # rounded corner, a finger on it) and running past it by at most BOX_PAST (a room's lines
    # cross one another and run on)
    CORNER_START = 1.0

    def __init__(self):
        import cv2

        self.lsd = cv2.createLineSegmentDetector()

    def segments(self, grey: np.ndarray, g: FaceGeometry) -> tuple[np.ndarray, np.ndarray]:
        """Straight segments of at least MIN_LEN around the face: their ends in face coordinates."""
        import cv2

        h, w = grey.shape
        n = _factor(g.iod)  # a whole factor: see _factor
        x0, y0, x1, y1 = g.box(*self.REACH, w, h)
        x0, y0 = x0 // n * n, y0 // n * n
        x1, y1 = x0 + (x1 - x0) // n * n, y0 + (y1 - y0) // n * n
        if x1 - x0 < 16 or y1 - y0 < 16 or (x1 - x0) // n < 8 or (y1 - y0) // n < 8:
            return np.zeros((0, 2)), np.zeros((0, 2))
        crop = grey[y0:y1, x0:x1]
        if n > 1:
            crop = cv2.resize(crop, ((x1 - x0) // n, (y1 - y0) // n), interpolation=cv2.INTER_AREA)
        found = self.lsd.detect(crop)[0]
        if found is None:
            return np.zeros((0, 2)), np.zeros((0, 2))
        seg = found.reshape(-1, 4).astype(np.float64)
        sx, sy = (x1 - x0) / crop.shape[1], (y1 - y0) / crop.shape[0]
        ends = g.to_face((seg.reshape(-1, 2) * (sx, sy) + (x0, y0)))  # both ends of each, in turn
        a, b = ends[0::2], ends[1::2]
        keep = np.hypot(*(b - a).T) >= self.MIN_LEN
        return a[keep], b[keep]

    def measure(self, grey: np.ndarray, g: FaceGeometry, room: Room | None = None) -> Border:
        a, b = self.segments(grey, g)
        if room is not None and len(a):
            mine = ~np.array(room.explains(grey, list(zip(g.to_image(a), g.to_image(b)))), bool)
            a, b = a[mine], b[mine]
        return self.enclosure(a, b, g.face())  # the pair around FACE, the box around this face

    def enclosure(self, ends_a: np.ndarray, ends_b: np.ndarray, face: tuple) -> Border:
        """The best pair of edges (segment ends in face coordinates) on opposite sides of the face
        (FACE), and the best closed box and lower corner around it (`face`: the face's own
        rectangle, FaceGeometry.face())."""
        ends_a, ends_b = [tuple(p) for p in np.asarray(ends_a).tolist()], [tuple(q) for q in np.asarray(ends_b).tolist()]
        pairs = self._sides(ends_a, ends_b, FACE)
        best = Border()
        for s1, s2 in (("left", "right"), ("top", "bottom")):
            for a1, l1, *_ in pairs[s1]:
                for a2, l2, *_ in pairs[s2]:
                    if self._parallel(a1, a2) and min(l1, l2) > best.length:
                        best = Border(min(l1, l2), f"{s1}-{s2}")
        # the longest BOX_EDGES edges on each side, joined across BOX_GAP: a box's or a corner's
        sides = self._sides(ends_a, ends_b, face, self.BOX_GAP)
        longest = {k: sorted(v, key=lambda e: -e[1])[:self.BOX_EDGES] for k, v in sides.items()}
        best.box, best.corner = self._box(longest), self._corner(longest)
        return best

    def _sides(self, ends_a: list[tuple], ends_b: list[tuple], face: tuple, gap: float = 1.0) -> dict[str, list]:
        """Straight edges outside the face rectangle, joined across gaps up to `gap` (``_lines``),
        by the side they are on: (angle, length, one end, the other end)."""
        fx0, fy0, fx1, fy1 = face
        near = [(p, q) for p, q in zip(ends_a, ends_b) if _clip_length(p, q, face) == 0]  # not a feature of the face
        sides: dict[str, list] = {"left": [], "right": [], "top": [], "bottom": []}
        for ang, p, q in _lines(near, gap):
            vertical = abs(ang - 90.0) <= self.MAX_TILT_DEG
            horizontal = min(ang, 180.0 - ang) <= self.MAX_TILT_DEG
            edge = (ang, math.hypot(q[0] - p[0], q[1] - p[1]), p, q)
            if vertical and max(p[0], q[0]) < fx0:
                sides["left"].append(edge)
            elif vertical and min(p[0], q[0]) > fx1:
                sides["right"].append(edge)
            elif horizontal and max(p[1], q[1]) < fy0:
                sides["top"].append(edge)
            elif horizontal and min(p[1], q[1]) > fy1:
                sides["bottom"].append(edge)
        return sides

    def _parallel(self, a1: float, a2: float) -> bool:
        skew = abs(a1 - a2)
        return min(skew, 180.0 - skew) <= self.MAX_SKEW_DEG

    def _box(self, longest: dict) -> float:
        """The shortest side of the best closed box around the face: an edge on each side, the
        opposite ones parallel, meeting near right angles at four corners that each edge reaches
        (``_along``). A device shows one whole; behind a live head a room's lines seldom close
        one, and never below the chin, where the body hides the room. `longest`: the longest
        edges on each side, as ``enclosure`` keeps them."""
        best = 0.0
        for left, right in itertools.product(longest["left"], longest["right"]):
            if not self._parallel(left[0], right[0]):
                continue
            for top, bottom in itertools.product(longest["top"], longest["bottom"]):
                if not self._parallel(top[0], bottom[0]):
                    continue
                if min(left[1], right[1], top[1], bottom[1]) <= best or any(
                        abs(abs(v[0] - h[0]) - 90.0) > self.BOX_SHEAR_DEG for v in (left, right) for h in (top, bottom)):
                    continue
                corners = [_meet(v[2:], h[2:]) for v in (left, right) for h in (top, bottom)]
                if any(c is None for c in corners):
                    continue
                tl, bl, tr, br = corners
                shortest = math.inf
                for edge, c0, c1 in ((left, tl, bl), (right, tr, br), (top, tl, tr), (bottom, bl, br)):
                    span = math.hypot(c1[0] - c0[0], c1[1] - c0[1])
                    shortest = min(shortest, _along(edge[2:], c0, c1, self.BOX_COVER, self.BOX_PAST + span / 5))
                    if shortest <= best:
                        break
                best = max(best, shortest)
        return best

    def _corner(self, longest: dict) -> float:
        """The shorter leg of the best lower corner around the face: an edge beside it and one
        below the chin that meet near a right angle, both running from that corner - one up, the
        other across towards the face. What a device shows when its top and far side are out of
        the picture; a live person's body hides the room below the chin, where a door's or a
        window's corners are above the head."""
        best = 0.0
        for side, toward in (("left", 1.0), ("right", -1.0)):
            for v, h in itertools.product(longest[side], longest["bottom"]):
                if min(v[1], h[1]) <= best or abs(abs(v[0] - h[0]) - 90.0) > self.BOX_SHEAR_DEG:
                    continue
                c = _meet(v[2:], h[2:])
                if c is None:
                    continue
                legs = []
                for edge, up, across in ((v, -1.0, 0.0), (h, 0.0, toward)):
                    near, far = sorted(edge[2:], key=lambda p: math.hypot(p[0] - c[0], p[1] - c[1]))
                    if (far[0] - c[0]) * across + (far[1] - c[1]) * up <= 0:
                        break  # runs the wrong way from the corner: not around the face
                    ln = math.hypot(far[0] - near[0], far[1] - near[1])
                    start = ((near[0] - c[0]) * (far[0] - near[0]) + (near[1] - c[1]) * (far[1] - near[1])) / ln
                    if not -self.BOX_PAST <= start <= self.CORNER_START:
                        break
                    legs.append(start + ln - max(start, 0.0))
                else:
                    best = max(best, min(legs))
        return best


# --- context: the face's surroundings move -----------------------------------------------------

# beside the head (not below: a live person's shoulders and hands are there) and above the hair
_RING = ((-3.6, -3.2, -1.9, 1.5), (1.9, -3.2, 3.6, 1.5), (-1.9, -3.8, 1.9, -2.9))
_RING_BOX = (-3.6, -3.8, 3.6, 1.5)  # the ring's bounding box
_RING_CORNERS = np.array([c for x0, y0, x1, y1 in _RING for c in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], np.float64)
_RING_SIDE = 1.9  # the ring's parts beside the head start this far left and right of the eyes' middle


@dataclass
class ContextPair:
    """The surroundings' points between two frames about ``gap_s`` apart."""

    motion: float  # median displacement of the points that move together (/ eye distance)
    share: float   # share of the points that move together (those that follow one similarity); 0 unless
                   # at least SIDE_MIN of them are on each side of the head
    points: int
    since: float   # time of the pair's first frame


class ContextFlow:
    """Points around the head (``_RING``) tracked frame to frame with Lucas-Kanade (checked
    backwards: on a blown-out screen many points slide); between frames ``gap_s`` apart, the
    dominant motion of those points: one similarity fitted by least squares to all, then again to
    the points within a tolerance of the first fit (cheaper than RANSAC, and enough for a ring of
    ~30 points).

    Only the ring's surroundings are reduced: the frame is cropped to the ring's bounding box plus
    MARGIN (wider than the tracking window reaches from a ring point, at every pyramid level) and
    reduced by a whole factor (``_factor``: the eye distance about WORK_IOD pixels), into a frame
    of the whole view's reduced size (the rest black, never within a tracking window)."""

    MAX_POINTS, MIN_POINTS, MIN_PAIR = 32, 20, 10
    SIDE_MIN = 3  # points moving together on each side of the head (left and right), or no shared motion
    MARGIN = 2.5  # eye distances around the ring's bounding box

    def __init__(self, gap_s: float = 0.3):
        self.gap_s = gap_s
        self.reset()

    def reset(self) -> None:
        self.n: int | None = None  # the reduction factor of this track
        self.prev: tuple | None = None  # (ts, reduced frame)
        self.ids = np.zeros(0, np.int64)
        self.pts = np.zeros((0, 2), np.float32)  # in the reduced frame
        self.next_id = 0
        self.hist: deque = deque()

    def _new_points(self, small: np.ndarray, g: FaceGeometry, n: int) -> np.ndarray:
        """Corners to track in the ring, away from the points already tracked (reduced frame)."""
        import cv2

        h, w = small.shape
        x0, y0, x1, y1 = g.box(*_RING_BOX, w * n, h * n)  # only the ring's box is searched
        x0, y0, x1, y1 = x0 // n, y0 // n, min(w, -(-x1 // n)), min(h, -(-y1 // n))
        if x1 - x0 < 3 or y1 - y0 < 3:
            return np.zeros((0, 2), np.float32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        corners = np.round(_reduced(g.to_image(_RING_CORNERS), n) - (x0, y0)).astype(np.int32)
        for k in range(0, len(corners), 4):  # the ring's rectangles, four corners each
            cv2.fillConvexPoly(mask, corners[k:k + 4], 255)
        for px, py in self.pts.tolist():
            cv2.circle(mask, (int(px) - x0, int(py) - y0), 2, 0, -1)
        found = cv2.goodFeaturesToTrack(small[y0:y1, x0:x1], self.MAX_POINTS - len(self.pts), 0.01, 2.0, mask=mask,
                                        blockSize=3)
        return np.zeros((0, 2), np.float32) if found is None else found.reshape(-1, 2) + (x0, y0)

    def update(self, ts: float, grey: np.ndarray, g: FaceGeometry) -> ContextPair | None:
        import cv2

        if self.prev is not None and (ts - self.prev[0] > MAX_GAP_S or not 0.5 <= g.iod / (self.n * WORK_IOD) <= 2.0):
            self.reset()  # the face was lost, or came much closer: start over at a new scale
        if self.n is None:
            self.n = _factor(g.iod)
        n, m = self.n, self.MARGIN
        small = _reduce(grey, g.box(_RING_BOX[0] - m, _RING_BOX[1] - m, _RING_BOX[2] + m, _RING_BOX[3] + m,
                                    grey.shape[1], grey.shape[0]), n)
        if self.prev is not None and len(self.pts):
            p0 = self.pts.reshape(-1, 1, 2)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(self.prev[1], small, p0, None, **_LK)
            pb, st2, _ = cv2.calcOpticalFlowPyrLK(small, self.prev[1], p1, None, **_LK)
            new = p1.reshape(-1, 2)
            ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) < MAX_FB_PX)
            # a point the head moved over (or one that left the frame) is dropped
            ok &= ~_in_head(g.to_face(_full(new, n)), 0.2)
            ok &= (new[:, 0] >= 0) & (new[:, 1] >= 0) & (new[:, 0] < small.shape[1]) & (new[:, 1] < small.shape[0])
            self.ids, self.pts = self.ids[ok], new[ok].astype(np.float32)
        if len(self.pts) < self.MIN_POINTS:
            found = self._new_points(small, g, n)
            if len(found):
                self.pts = np.concatenate([self.pts, found]).astype(np.float32)
                self.ids = np.concatenate([self.ids, np.arange(self.next_id, self.next_id + len(found))])
                self.next_id += len(found)
        self.prev = (ts, small)
        while self.hist and ts - self.hist[0][0] > 2 * self.gap_s:
            self.hist.popleft()
        ref = None
        for item in self.hist:
            if ts - item[0] >= self.gap_s:
                ref = item
        self.hist.append((ts, self.ids.copy(), self.pts.copy()))
        return None if ref is None else self._measure(ref, g, n)

    def _measure(self, ref, g: FaceGeometry, n: int) -> ContextPair | None:
        """The similarity that moves the points of `ref` (an earlier frame's (ts, ids, points)) to
        where they are now, fitted on the points both frames track. Plain floats and complex
        numbers: a few dozen points at every frame, where numpy's per-call cost would dominate."""
        iod = g.iod / n
        now = dict(zip(self.ids.tolist(), self.pts.tolist()))
        za, zb = [], []  # the points then and now, as complex numbers x + iy
        for i, (x, y) in zip(ref[1].tolist(), ref[2].tolist()):
            if i in now:
                za.append(complex(x, y))
                zb.append(complex(*now[i]))
        if len(za) < self.MIN_PAIR:
            return None
        keep = [True] * len(za)
        for tol in (None, 0.03 * iod):  # fit to all, then to the points that follow the fit
            sa = [a for a, kept in zip(za, keep) if kept]
            sb = [b for b, kept in zip(zb, keep) if kept]
            ma, mb = sum(sa) / len(sa), sum(sb) / len(sb)
            num = sum((a - ma).conjugate() * (b - mb) for a, b in zip(sa, sb))
            rot = num / (sum(abs(a - ma) ** 2 for a in sa) or 1.0)  # rotation and scale
            moved_to = [(a - ma) * rot + mb for a in za]
            r = [abs(m - b) for m, b in zip(moved_to, zb)]
            limit = tol if tol is not None else 2.5 * statistics.median(r) + 0.02 * iod
            keep = [d <= limit for d in r]
            if sum(keep) < 3:
                return ContextPair(0.0, 0.0, len(za), float(ref[0]))
        moved = [abs(m - a) for m, a, kept in zip(moved_to, za, keep) if kept]
        # a device moves what is on both sides of the face; a hand beside a live head, one side
        (mx, my), (ux, uy) = g.mid.tolist(), g.ux.tolist()
        x = [(((b.real + 0.5) * n - 0.5 - mx) * ux + ((b.imag + 0.5) * n - 0.5 - my) * uy) / g.iod
             for b, kept in zip(zb, keep) if kept]
        both_sides = min(sum(v < -_RING_SIDE for v in x), sum(v > _RING_SIDE for v in x)) >= self.SIDE_MIN
        return ContextPair(statistics.median(moved) / iod, sum(keep) / len(keep) if both_sides else 0.0, len(za),
                           float(ref[0]))


# --- glow: the face is a light source ---------------------------------------------------------

_HULL = np.r_[0:17, 26:16:-1]
CLIP = 250  # the sensor's white, of 255


def clip_level(ev: float) -> float:
    """The grey level (of 255) that CLIP under the camera's own metering has in a frame taken `ev`
    stops darker (sRGB's curve: face-priority exposure's -1 stop puts it at 184, -2 at 134); CLIP
    when the frame is not darker. A real camera's tone curve is near sRGB's, not equal to it."""
    return float(CLIP) if ev >= 0 else float(linear_to_srgb(srgb_to_linear(CLIP) * 2.0 ** ev))


def glow(grey: np.ndarray, lm: np.ndarray, g: FaceGeometry, ev: float = 0.0) -> tuple[float, float]:
    """(clipped, ratio): the share of the face's skin at the sensor's white (>= 250 of 255 under
    the camera's own metering: ``clip_level(ev)`` in a frame taken `ev` stops darker) and the
    face's mean grey level over the frame's median."""
    import cv2

    h, w = grey.shape
    x0, y0, x1, y1 = g.box(-1.3, -1.0, 1.3, 2.0, w, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0, 0.0
    c = lm[_HULL].mean(axis=0)
    hull = (c + 0.8 * (lm[_HULL] - c) - (x0, y0)).astype(np.int32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(hull), 1)
    skin = grey[y0:y1, x0:x1][mask > 0]
    if skin.size < 16:
        return 0.0, 0.0
    room = _grey_median(grey[::8, ::8]) or 1.0
    return float(np.mean(skin >= clip_level(ev))), float(skin.mean()) / room


# --- the cues together ---------------------------------------------------------------------------

class ScreenCues:
    """The screen cues of one face track (see the module's doc); thresholds from a
    kiosk.liveness.LivenessConfig (``screen_*`` fields)."""

    def __init__(self, cfg, room: Room | None = None):
        self.cfg, self.room = cfg, room
        self.border = DeviceFrame()
        self.context = ContextFlow(cfg.planar_gap_s)
        self.last_look = self.last_glow = -math.inf
        self.frame_hits = self.context_pairs = self.glow_hits = 0
        self.context_until = -math.inf
        self.frame_best = self.frame_box = self.frame_corner = 0.0
        self.context_best = self.glow_clipped = self.glow_ratio = 0.0
        self.glow_ev = 0.0  # the darkest exposure compensation a glow look was taken at
        self.frame_sides = ""
        # this frame's measurements: (Border, ContextPair, (clipped, ratio)), each None when not taken
        self.last: tuple = (None, None, None)

    def update(self, ts: float, grey: np.ndarray, lm: np.ndarray, ev: float = 0.0) -> None:
        """One frame of the track: the grey full frame, the face's 68 landmarks and the exposure
        compensation the frame was taken with (stops; 0 = the camera's own metering)."""
        c = self.cfg
        g = FaceGeometry(lm)
        border = None
        if ts - self.last_look >= FRAME_EVERY_S:  # the border at most every FRAME_EVERY_S
            self.last_look = ts
            border = self.border.measure(grey, g, self.room)
            if border.length > self.frame_best:
                self.frame_best, self.frame_sides = border.length, border.sides
            self.frame_box = max(self.frame_box, border.box)
            self.frame_corner = max(self.frame_corner, border.corner)
            self.frame_hits += (border.length >= c.screen_frame_min or 0 < c.screen_box_min <= border.box
                                or 0 < c.screen_corner_min <= border.corner)
        pair = self.context.update(ts, grey, g)  # every frame: points are tracked frame to frame
        if pair is not None and pair.share >= c.screen_context_share:
            self.context_best = max(self.context_best, pair.motion)
            # pairs overlap (one ends at every frame): count only one that starts after the last ended
            if pair.motion >= c.screen_context_min and pair.since > self.context_until:
                self.context_pairs += 1
                self.context_until = ts
        lit = None
        if ts - self.last_glow >= GLOW_EVERY_S:
            self.last_glow = ts
            lit = glow(grey, lm, g, ev)
            self.glow_ev = min(self.glow_ev, ev)
            self.glow_clipped, self.glow_ratio = max(self.glow_clipped, lit[0]), max(self.glow_ratio, lit[1])
            self.glow_hits += lit[0] >= c.screen_glow_clip and lit[1] >= c.screen_glow_ratio
        self.last = (border, pair, lit)

    def _counts(self) -> dict[str, tuple[int, int]]:
        c = self.cfg
        return {"frame": (self.frame_hits, c.screen_frame_hits), "context": (self.context_pairs, c.screen_context_pairs),
                "glow": (self.glow_hits, c.screen_glow_hits)}

    def fired(self) -> list[str]:
        """The cues whose evidence has reached its threshold."""
        counts = self._counts()
        return [cue for cue in CUES if counts[cue][0] >= counts[cue][1]]

    def begun(self) -> list[str]:
        """The cues with some evidence (a hit) that have not fired yet."""
        counts = self._counts()
        return [cue for cue in CUES if 0 < counts[cue][0] < counts[cue][1]]

    def scores(self) -> dict:
        return {
            "screen_frame": round(self.frame_best, 3),
            "screen_frame_sides": self.frame_sides,
            "screen_frame_box": round(self.frame_box, 3),
            "screen_frame_corner": round(self.frame_corner, 3),
            "screen_frame_hits": self.frame_hits,
            "screen_context": round(self.context_best, 4),
            "screen_context_pairs": self.context_pairs,
            "screen_glow_clipped": round(self.glow_clipped, 3),
            "screen_glow_ratio": round(self.glow_ratio, 3),
            "screen_glow_hits": self.glow_hits,
            "screen_glow_ev": self.glow_ev,
            "screen_cues": self.fired(),
        }
