"""The enrolled templates as one matrix, and the 1:N match against all of them at once.

How a probe is compared with an employee (docs/gates.md, "Matching"; each step measured
on lfw-dev's open-set protocol, chosen on one half of its people and checked on the other):

* **distance** = the mean of the probe's distances to the employee's `NEAREST` nearest
  templates (all of them when there are fewer): one lucky template no longer decides alone;
* **margin** = the runner-up employee's distance minus the best one's;
* **per-person threshold**: an employee with near neighbours in the gallery (look-alikes
  already enrolled) gets a stricter threshold, one with none a looser one. `neighbours` is the
  mean distance from the employee to the `NEIGHBOURS` nearest other employees (the closest pair
  of their templates); the probe is accepted when
  ``score = distance - neighbour_weight * (neighbours - TYPICAL_NEIGHBOURS) <= threshold``.
  It is computed for an employee the first time a probe matches them (one matrix-vector
  product per template) and kept until the gallery changes, so a gallery of thousands costs
  nothing extra to load;
* **probe's crowd**: a probe that is close to several employees at once sits in a crowded part
  of the descriptor space (dlib's descriptor crowds some populations closer together than
  others: on lfw-dev, East-Asian men) and needs a clearer win. `crowd` is the mean of the
  probe's distances to the `CROWD` employees after the best (the runner-up and the next); the
  score rises by ``crowd_weight * (TYPICAL_CROWD - crowd)`` (falls for a probe far from
  everybody else). The gallery itself is the cohort: no faces of anyone but employees.

* **at most `max_loosening` looser**: the two rules may make the match stricter without limit,
  but more lenient than `threshold` by at most `max_loosening`. In a small office every
  employee's neighbours and every probe's crowd are far (few people to be near), so without a
  cap both rules loosen for everybody at once: with 10-50 employees 1-2.5 % of strangers'
  photos were taken for one of them, against 0.15-0.3 % among 148-296 (docs/gates.md, "Small
  galleries").

* **look-alike holds**: photos that `kiosk enroll` refused as another employee's duplicate, of
  a person who is not enrolled (enroll/batch.py), stay in the gallery as ids in `held`. They
  take part in everything above like an employee's templates but are never accepted: a face
  nearer one of them than to every employee is refused as 'lookalike', and one that is about
  as near (within the margin) as 'ambiguous'. Without them the refused person's face was
  identified as the employee it resembles (docs/gates.md, "Look-alike holds").

``score = distance - min(neighbour_weight * (neighbours - TYPICAL_NEIGHBOURS)
                         + crowd_weight * (crowd - TYPICAL_CROWD), max_loosening)``, accepted when
``score <= threshold`` and ``margin >= margin``. Identification, the live loop and enrollment's
duplicate checks all build their Gallery with `gallery_options` ([recognition]). Measured on
lfw-dev over 8 person splits in docs/gates.md ("Matching", "Small galleries").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAREST = 3  # templates averaged per employee
NEIGHBOURS = 5  # nearest other employees that make the neighbourhood
# An employee whose neighbours are this far keeps the configured threshold: about the mean of
# lfw-dev's galleries (0.54-0.58 for 150-2,900 people), so thresholds stay near their old scale.
TYPICAL_NEIGHBOURS = 0.55
CROWD = 2  # employees after the best whose distances make the probe's crowd
# A probe whose crowd is this far keeps the configured threshold: about the median crowd of the
# probes identified correctly on lfw-dev (0.62 in every half of 8 person splits).
TYPICAL_CROWD = 0.62


def gallery_options(rc) -> dict:
    """The Gallery's matching keys from [recognition]: identification, the live loop and
    enrollment's duplicate check all build their Gallery with these."""
    return {"neighbour_weight": rc.neighbour_weight, "crowd_weight": rc.crowd_weight,
            "max_loosening": rc.max_loosening}


@dataclass(frozen=True)
class Match:
    employee_id: str | None  # the nearest employee (None if the gallery is empty)
    distance: float  # to that employee (mean of the nearest templates)
    runner_up: str | None  # the nearest *different* employee
    margin: float  # runner-up distance minus distance (inf when there is no runner-up)
    score: float = float("inf")  # what is compared with the threshold (see the module doc)
    held: bool = False  # the nearest is a look-alike hold (employee_id: the refused person's NIP)

    def accepted(self, threshold: float, margin: float) -> bool:
        return (self.employee_id is not None and not self.held and self.score <= threshold
                and self.margin >= margin)

    def reason(self, threshold: float, margin: float) -> str | None:
        """None when accepted; else 'unknown' (too far), 'lookalike' (nearest a look-alike hold)
        or 'ambiguous' (too close to another)."""
        if self.employee_id is None or self.score > threshold:
            return "unknown"
        if self.held:
            return "lookalike"
        if self.margin < margin:
            return "ambiguous"
        return None


class Gallery:
    """Templates sorted by employee so one reduceat gives every employee's nearest distances.

    match() costs one matrix-vector product over all N templates (||a-b||^2 = ||a||^2 + ||b||^2
    - 2ab with the template norms precomputed), then two minimums per employee: measured 0.16 ms
    for 10,000 templates and 1.6 ms for 100,000 on this 2-core laptop VM with the nearest
    template only (2.5 ms on one BLAS thread; docs/benchmarks.md).
    """

    def __init__(self, encodings: np.ndarray, employee_ids: list[str] | np.ndarray,
                 neighbour_weight: float = 0.0, nearest: int = NEAREST, crowd_weight: float = 0.0,
                 max_loosening: float = float("inf"), held=()):
        enc = np.asarray(encodings, dtype=np.float32).reshape(-1, 128)
        ids = np.asarray(employee_ids, dtype=object)
        if len(ids) != len(enc):
            raise ValueError(f"{len(enc)} encodings but {len(ids)} employee ids")
        if len(ids) > 1 and not np.all(ids[:-1] <= ids[1:]):
            order = np.argsort(ids.astype(str), kind="stable")
            enc, ids = enc[order], ids[order]
        self.matrix = np.ascontiguousarray(enc)
        sorted_ids = ids
        self.norms2 = np.einsum("ij,ij->i", self.matrix, self.matrix)
        if len(sorted_ids):
            change = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1
            self.starts = np.concatenate(([0], change)).astype(np.intp)
        else:
            self.starts = np.zeros(0, dtype=np.intp)
        self.counts = np.diff(np.append(self.starts, len(self.matrix)))
        self.employees = [str(e) for e in sorted_ids[self.starts]]
        self.index = {e: i for i, e in enumerate(self.employees)}
        held = {str(h) for h in held}
        self.held = np.array([e in held for e in self.employees], dtype=bool)
        self.neighbour_weight = float(neighbour_weight)
        self.crowd_weight = float(crowd_weight)
        self.max_loosening = float(max_loosening)
        self.nearest = max(1, int(nearest))
        self._neighbours: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.matrix)

    @property
    def employee_count(self) -> int:
        return len(self.employees)

    def _template_distances(self, encoding: np.ndarray) -> np.ndarray:
        e = np.asarray(encoding, dtype=np.float32).reshape(128)
        d2 = self.norms2 + np.float32(e @ e) - 2.0 * (self.matrix @ e)
        np.maximum(d2, 0.0, out=d2)
        return np.sqrt(d2)

    def _aggregate(self, d: np.ndarray) -> np.ndarray:
        """Per employee, the mean of their `nearest` smallest template distances."""
        best = np.minimum.reduceat(d, self.starts)
        if self.nearest == 1 or self.counts.max(initial=1) == 1:
            return best
        total, taken = best.copy(), np.ones(len(best))
        d = d.copy()
        for _ in range(self.nearest - 1):
            # drop each employee's current minimum (ties: one of them) and take the next
            at = np.minimum.reduceat(np.where(d == np.repeat(best, self.counts), np.arange(len(d)), len(d)),
                                     self.starts)
            d[at[at < len(d)]] = np.inf
            best = np.minimum.reduceat(d, self.starts)
            more = np.isfinite(best)
            total[more] += best[more]
            taken[more] += 1
        return total / taken

    def per_employee(self, encoding: np.ndarray) -> np.ndarray:
        """Distance from `encoding` to each employee (order: self.employees)."""
        return self._aggregate(self._template_distances(encoding))

    def neighbours(self, j: int) -> float:
        """Mean distance from employee j to their NEIGHBOURS nearest other employees (the closest
        pair of templates); computed on first use, kept until the gallery changes."""
        if j not in self._neighbours:
            s, n = self.starts[j], self.counts[j]
            near = np.full(len(self.employees), np.inf, dtype=np.float32)
            for t in self.matrix[s:s + n]:
                np.minimum(near, np.minimum.reduceat(self._template_distances(t), self.starts), out=near)
            near[j] = np.inf
            k = min(NEIGHBOURS, len(near) - 1)
            self._neighbours[j] = float(np.mean(np.partition(near, k - 1)[:k])) if k > 0 else TYPICAL_NEIGHBOURS
        return self._neighbours[j]

    def score(self, j: int, distance: float, crowd: float | None = None) -> float:
        """`distance` to employee j with j's own threshold and the probe's `crowd` folded in."""
        looser = 0.0  # how much more lenient than the configured threshold (negative: stricter)
        if self.neighbour_weight and len(self.employees) > 1:
            looser += self.neighbour_weight * (self.neighbours(j) - TYPICAL_NEIGHBOURS)
        if self.crowd_weight and crowd is not None:
            looser += self.crowd_weight * (crowd - TYPICAL_CROWD)
        return distance - min(looser, self.max_loosening)

    def match(self, encoding: np.ndarray, exclude: str | None = None, employees_only: bool = False) -> Match:
        """The nearest employee (not `exclude`; not a look-alike hold when `employees_only`),
        the runner-up and the score."""
        if not len(self.matrix):
            return Match(None, float("inf"), None, float("inf"))
        d = self.per_employee(encoding)
        if exclude is not None and exclude in self.index:
            d[self.index[exclude]] = np.inf
        if employees_only:
            d[self.held] = np.inf
        return self._decide(d, int(np.argmin(d)))

    def match_employee(self, encoding: np.ndarray, employee_id: str) -> Match:
        """How `encoding` compares with one given employee (for "test my face"): their distance,
        the margin over the best other employee (negative when someone else is nearer) and the
        score as `match` would give it if they were the nearest."""
        d = self.per_employee(encoding)
        return self._decide(d, self.index[employee_id])

    def _decide(self, d: np.ndarray, j: int) -> Match:
        if not np.isfinite(d[j]):
            return Match(None, float("inf"), None, float("inf"))
        held = bool(self.held[j])
        if len(d) == 1:
            return Match(self.employees[j], float(d[j]), None, float("inf"), self.score(j, float(d[j])), held)
        others = d.copy()
        others[j] = np.inf
        k = min(CROWD, len(d) - 1)
        near = np.argpartition(others, k - 1)[:k]
        near = near[np.argsort(others[near])]
        crowd = others[near][np.isfinite(others[near])]
        runner_up = self.employees[int(near[0])] if len(crowd) else None
        score = self.score(j, float(d[j]), float(crowd.mean()) if len(crowd) else None)
        return Match(self.employees[j], float(d[j]), runner_up, float(others[near[0]] - d[j]), score, held)
