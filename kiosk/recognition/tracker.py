"""Face tracks and the k-of-n vote that turns per-frame matches into one identification.

A single frame is never trusted: the same employee must win `votes_needed` of the last
`vote_window` encoded frames of one face track. A track is the chosen face followed from frame
to frame (boxes overlap, gap under `track_gap_s`); a new face, or a face that vanished for
longer, starts a new track and an empty vote. A track yields at most one identification, and
after it no more encodings are spent on it.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field

from kiosk.recognition.faces import Box

_ids = itertools.count(1)


@dataclass
class Track:
    id: int
    box: Box
    last_ts: float
    started_ts: float
    votes: deque = field(default_factory=deque)
    identified: str | None = None
    unknown_reported: bool = False
    best: dict = field(default_factory=dict)  # employee -> (distance, margin) of its best vote
    checked_ts: float = 0.0  # when the identified face was last re-checked
    closed: bool = False  # recorded (or refused by liveness): only re-checks from now on
    liveness: object = None  # kiosk.liveness.LivenessTracker of this face, when liveness is on
    verdict: object = None  # its latest LivenessVerdict
    prompt: str | None = None  # the liveness prompt last sent to the screen
    encoded_ts: float = float("-inf")  # when this face was last encoded
    unverified: int = 0  # liveness checks of this face that ended unanswered (retry hints)

    @property
    def done(self) -> bool:
        return self.identified is not None


class Tracker:
    def __init__(self, votes_needed: int, vote_window: int, gap_s: float):
        self.k, self.n, self.gap = votes_needed, vote_window, gap_s
        self.track: Track | None = None

    def observe(self, box: Box | None, ts: float) -> Track | None:
        """Follow the chosen face; returns its track (new or continued), or None if no face."""
        t = self.track
        if t is not None and ts - t.last_ts > self.gap:
            self.track = t = None
        if box is None:
            return None
        if t is not None and _same_face(t.box, box):
            t.box, t.last_ts = box, ts
            return t
        return self.restart(box, ts)

    def restart(self, box: Box, ts: float) -> Track:
        """A new track for this face (also when a re-check finds a different person)."""
        self.track = Track(id=next(_ids), box=box, last_ts=ts, started_ts=ts, votes=deque(maxlen=self.n))
        return self.track

    def vote(self, track: Track, employee_id: str | None, distance: float, margin: float) -> str | None:
        """Add one frame's verdict (None = not accepted); returns the winner once, when it wins."""
        track.votes.append(employee_id)
        if employee_id is not None:
            prev = track.best.get(employee_id)
            if prev is None or distance < prev[0]:
                track.best[employee_id] = (distance, margin)
        if track.done:
            return None
        counts = Counter(v for v in track.votes if v is not None)
        if counts:
            winner, c = counts.most_common(1)[0]
            if c >= self.k:
                track.identified = winner
                return winner
        return None

    def unknown(self, track: Track) -> bool:
        """True once per track when a full window of votes has passed with no winner."""
        if track.done or track.unknown_reported or len(track.votes) < self.n:
            return False
        track.unknown_reported = True
        return True


def _same_face(a: Box, b: Box) -> bool:
    if a.iou(b) > 0.2:
        return True
    (ax, ay), (bx, by) = a.center, b.center
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 < 0.5 * max(a.width, b.width)
