"""Batch enrollment from photos: analyse every photo on all cores, check, then store at once.

1. Each photo is read and analysed in a worker process (dlib holds the GIL, so processes, not
   threads): one face (the largest, most central one when every other face is clearly smaller:
   people in the background), every quality gate, then its 128-d template.
2. A template that matches a *different* employee (already enrolled, or elsewhere in this
   batch) within the recognition threshold is refused, naming that employee, unless the photo
   or its employee is named with `--force`: it is either the wrong folder or two people who the
   kiosk could not tell apart. The refused photos of a person who is then not enrolled at all
   are kept as look-alike holds (kiosk.recognition.gallery): until HR enrolls that person
   (`--force`) or removes the hold (`kiosk templates unhold NIP`), their face is refused at the
   kiosk (and, through the collector, at the other kiosks of the employee's unit) instead of
   being recorded as the employee it resembles. Enrolling them removes it.
3. Employees with at least `min_photos` accepted photos are written in one transaction
   (employees, templates, audit entry); if anything fails, nothing is written. Employees of the
   roster without photos are not stored (unless they already are: then their name, unit and
   schedule are updated).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from enroll.photos import PhotoSet
from kiosk.imageio import ImageReadError, load_rgb
from kiosk.recognition.gallery import Gallery, gallery_options
from kiosk.store import Store
from kiosk.store.db import TemplateRow
from kiosk_models import ENCODER_VERSION


RECOMMENDED_PHOTOS = 3

# What HR reads for each refused photo (the codes are kiosk.recognition.quality's; these say
# what is wrong with the *photo*, not what the person in front of the kiosk should do).
PHOTO_REASONS = {
    "no_face": "no face found in the photo",
    "several_faces": "several faces of similar size in the photo (crop it to the employee's face)",
    "partial": "face cut off by the edge of the photo",
    "too_small": "face too small in the photo",
    "too_dark": "face too dark in the photo (underexposed)",
    "too_bright": "face too bright in the photo (overexposed)",
    "blurred": "face blurred in the photo",
    "not_frontal": "face turned sideways in the photo",
    "tilted": "head tilted in the photo",
}


@dataclass
class PhotoResult:
    nip: str
    path: str
    encoding: np.ndarray | None
    reason: str | None  # None = accepted
    detail: str = ""
    sharpness: float | None = None
    note: str = ""  # e.g. which of several faces was used
    resembles: str | None = None  # a duplicate: the employee its face was taken for


@dataclass
class EnrollReport:
    enrolled: dict[str, int] = field(default_factory=dict)  # NIP -> templates added
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path or NIP, reason)
    not_enrolled: list[str] = field(default_factory=list)  # employees (or folders) left out
    notes: list[tuple[str, str]] = field(default_factory=list)  # (photo, what HR should know)
    not_stored: list[str] = field(default_factory=list)  # roster employees without photos
    held: dict[str, list[str]] = field(default_factory=dict)  # not enrolled NIP -> employees resembled
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everyone of the folder was enrolled (photos may have been refused)."""
        return not self.not_enrolled


# --- worker side ---------------------------------------------------------------------------

_analyzer = None
_others_ratio = 0.0


def _init_worker(rc_values: dict, others_ratio: float = 0.0) -> None:
    global _analyzer, _others_ratio
    from kiosk.recognition.pipeline import FaceAnalyzer

    _analyzer = FaceAnalyzer(SimpleNamespace(**rc_values))
    _analyzer.m.load_all()
    _others_ratio = others_ratio


def analyse_photo(job: tuple[str, str]) -> PhotoResult:
    nip, path = job
    try:
        rgb = load_rgb(path)
    except ImageReadError as e:
        return PhotoResult(nip, path, None, "unreadable", str(e).removeprefix(f"{path}: "))
    a = _analyzer.analyze(rgb, single=True, others_ratio=_others_ratio, template=True)
    note = ""
    if len(a.faces) > 1 and a.face is not None:
        note = f"{len(a.faces)} faces in the photo: {describe_face(a.face, a.faces, rgb.shape)}"
    if a.encoding is None:
        detail = PHOTO_REASONS.get(a.reason, a.reason)
        if a.reason == "several_faces":
            detail = (f"{len(a.faces)} faces of similar size in the photo "
                      f"({', '.join(f'{b.width} px' for b in sorted(a.faces, key=lambda b: -b.width))} wide); "
                      "crop it to the employee's face")
        elif a.quality is not None:
            detail += f" ({_describe(a.reason, a.quality, _analyzer.rc)})"
        return PhotoResult(nip, path, None, a.reason, detail)
    return PhotoResult(nip, path, a.encoding, None, sharpness=a.quality.sharpness, note=note)


def describe_face(face, faces, shape) -> str:
    """Which face was used, in words HR can check against the photo."""
    h, w = shape[:2]
    cx, cy = face.center
    col = "left" if cx < w / 3 else "right" if cx > 2 * w / 3 else "centre"
    row = "top" if cy < h / 3 else "bottom" if cy > 2 * h / 3 else "middle"
    where = "centre" if (col, row) == ("centre", "middle") else f"{row} {col}".replace("middle ", "")
    others = sorted((b.width for b in faces if b != face), reverse=True)
    return (f"used the largest, most central face ({face.width} px wide, {where}, box "
            f"left {face.left} top {face.top}); the other{'s are' if len(others) > 1 else ' is'} "
            f"{', '.join(f'{x} px' for x in others)} wide")


def _describe(reason: str, q, rc) -> str:
    return {
        "too_small": f"{q.face_px} px wide, eyes {q.eye_px:.0f} px apart; at least {rc.min_eye_px:g} px needed",
        "blurred": f"sharpness {q.sharpness:.0f}, at least {rc.min_sharpness:g} needed",
        "too_dark": q.exposure_text(),
        "too_bright": q.exposure_text(),
        "not_frontal": f"yaw {q.yaw:+.2f}, at most {rc.max_yaw:g}",
        "tilted": f"roll {q.roll_deg:+.0f} degrees, at most {rc.max_roll_deg:g}",
    }.get(reason, "")


# --- parent side ---------------------------------------------------------------------------


def analyse_all(photos: PhotoSet, rc, workers: int | None = None, progress=None,
                others_ratio: float = 0.0) -> list[PhotoResult]:
    jobs = [(nip, str(p)) for nip, paths in photos.photos.items() for p in paths]
    if not jobs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rc_values = dict(vars(rc))
    if workers > 1:  # one process per core already: one encoder thread each
        rc_values["encoder_threads"] = 1
    results: list[PhotoResult] = []
    if workers == 1:
        _init_worker(rc_values, others_ratio)
        for i, job in enumerate(jobs, 1):
            results.append(analyse_photo(job))
            if progress:
                progress(i, len(jobs))
        return results
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(rc_values, others_ratio)) as pool:
        for i, r in enumerate(pool.map(analyse_photo, jobs, chunksize=1), 1):
            results.append(r)
            if progress:
                progress(i, len(jobs))
    return results


class Forced:
    """The photos and employees `--force` names: their faces are stored even when they match
    a different employee. Items are NIPs or photo paths (as given, or relative to the root)."""

    def __init__(self, items=(), root: Path | None = None):
        self.nips: set[str] = set()
        self.paths: set[Path] = set()
        self.root = root
        for item in items:
            self.add(str(item))

    def add(self, item: str) -> None:
        p = Path(item)
        for c in [p] + ([self.root / p] if self.root is not None and not p.is_absolute() else []):
            if c.is_file():
                self.paths.add(c.resolve())
                return
            if c.is_dir():  # an employee's folder
                self.nips.add(c.resolve().name)
                return
        self.nips.add(item)

    def unknown(self, photos: PhotoSet) -> list[str]:
        """NIPs named that are not in the batch (a typo would silently force nothing)."""
        return sorted(n for n in self.nips if n not in photos.photos)

    def __contains__(self, r: PhotoResult) -> bool:
        return r.nip in self.nips or Path(r.path).resolve() in self.paths

    def __bool__(self) -> bool:
        return bool(self.nips or self.paths)


def find_duplicates(results: list[PhotoResult], existing: tuple[np.ndarray, list[str]], rc,
                    forced: Forced | None = None, names: dict[str, str] | None = None) -> None:
    """Mark photos whose face `kiosk identify` would take for a *different* employee (already
    enrolled, or elsewhere in this batch), naming that employee; photos or employees in `forced`
    are kept. The same match and score as identification (`gallery_options`), over the gallery
    as it will be after this batch: a nearest-template check refused whole people of lfw-dev
    as another's duplicate whom identification tells apart (docs/gates.md, "Matching")."""
    ok = [r for r in results if r.reason is None]
    if not ok:
        return
    names = names or {}
    enc, ids = existing
    gallery = Gallery(np.concatenate([np.asarray(enc, np.float32).reshape(-1, 128),
                                      np.stack([r.encoding for r in ok]).astype(np.float32)]),
                      [*ids, *(r.nip for r in ok)], **gallery_options(rc))
    for r in ok:
        if forced is not None and r in forced:
            continue
        m = gallery.match(r.encoding, exclude=r.nip)
        if m.employee_id is not None and m.score <= rc.threshold:
            who = f"employee {m.employee_id}" + (f" ({names[m.employee_id]})" if names.get(m.employee_id) else "")
            r.reason = "duplicate"
            r.resembles = m.employee_id
            r.detail = (f"face matches {who} (score {m.score:.3f} <= {rc.threshold}); if this really "
                        f"is a different person, run again with --force {r.path}")


def enroll_photos(store: Store, photos: PhotoSet, cfg, roster: dict[str, dict] | None = None,
                  force: Forced | None = None, replace: bool = False, workers: int | None = None,
                  progress=None, actor: str = "cli") -> EnrollReport:
    rc, min_photos = cfg.recognition, cfg.enroll.min_photos
    report = EnrollReport(refused=list(photos.refused), not_enrolled=list(photos.unenrolled))
    if roster is not None:
        for nip in list(photos.photos):
            if nip not in roster:
                report.refused.append((nip, f"employee {nip} is not in the roster"))
                report.not_enrolled.append(nip)
                del photos.photos[nip]
    results = analyse_all(photos, rc, workers, progress, cfg.enroll.background_face_ratio)
    known = {e["nip"]: e for e in store.employees()}
    names = {nip: e["name"] for nip, e in known.items()}
    names.update({nip: r["name"] for nip, r in (roster or {}).items()})
    find_duplicates(results, store.templates(ENCODER_VERSION, active_only=False), rc, force or Forced(), names)
    by_nip: dict[str, list[PhotoResult]] = {}
    for r in results:
        if r.reason is None:
            by_nip.setdefault(r.nip, []).append(r)
            if r.note:
                report.notes.append((r.path, r.note))
        else:
            report.refused.append((r.path, f"{r.reason}: {r.detail}"))
    for nip in photos.photos:
        accepted = by_nip.get(nip, [])
        if len(accepted) < min_photos:
            report.refused.append(
                (nip, f"employee {nip}: {len(accepted)} usable photo(s), at least {min_photos} needed; not enrolled"))
            report.not_enrolled.append(nip)
            by_nip.pop(nip, None)
    templates = [TemplateRow(r.nip, r.encoding, r.sharpness, r.path, ENCODER_VERSION)
                 for rs in by_nip.values() for r in rs]
    # duplicates of a person left out entirely: look-alike holds (the module doc)
    holds = [(r.nip, r.resembles, r.encoding, r.path) for r in results
             if r.reason == "duplicate" and r.nip not in by_nip and r.encoding is not None]
    for nip, resembles, _, _ in holds:
        if resembles not in report.held.setdefault(nip, []):
            report.held[nip].append(resembles)
    people = [roster[nip] if roster else {"nip": nip} for nip in by_nip]
    if roster:
        # roster rows of employees already stored are updated; the others need photos first
        people += [row for nip, row in roster.items() if nip in known and nip not in by_nip]
        report.not_stored = sorted(nip for nip in roster if nip not in known and nip not in by_nip
                                   and nip not in photos.photos)
    with store.transaction("store the enrollment") as db:
        store.upsert_employees(people, db=db)
        if replace and by_nip:
            marks = ",".join("?" * len(by_nip))
            db.execute(f"delete from face_templates where nip in ({marks})", list(by_nip))
        store.add_templates(templates, db)
        released = store.remove_holds(list(by_nip), db)
        held = store.add_holds(holds, ENCODER_VERSION, db)
        store.audit("enroll_photos", {
            "employees": len(by_nip), "templates": len(templates), "refused": len(report.refused),
            "not_enrolled": len(report.not_enrolled),
            "forced": sorted(force.nips) + sorted(map(str, force.paths)) if force else [],
            "replace": replace, "holds_added": held, "holds_released": released,
            "held": sorted(report.held)}, actor, db=db)
    report.enrolled = {nip: len(rs) for nip, rs in by_nip.items()}
    counts = {e["nip"]: e["templates"] for e in store.employees()}
    for nip in report.enrolled:
        if counts.get(nip, 0) < RECOMMENDED_PHOTOS:
            report.warnings.append(
                f"employee {nip} has {counts.get(nip, 0)} template(s); {RECOMMENDED_PHOTOS} or more photos "
                "are recommended (with one, about twice the misses: docs/thresholds.md, section 3)")
    for nip, like in report.held.items():
        who = " or ".join(f"employee {x}" + (f" ({names[x]})" if names.get(x) else "") for x in like)
        report.warnings.append(
            f"employee {nip} is not enrolled: their face was taken for {who}. Their refused photos are kept as "
            f"a look-alike hold: the kiosk will not record a face that looks more like them than like {like[0]} "
            f"(it is not recognised instead of being recorded as {like[0]}). If they are different people, "
            f"enroll {nip} with --force {nip}; if it was the same person, remove the hold with "
            f"'kiosk templates unhold {nip}'")
    if report.not_stored:
        shown = ", ".join(report.not_stored[:10]) + (" ..." if len(report.not_stored) > 10 else "")
        report.warnings.append(
            f"{len(report.not_stored)} employee(s) of the roster have no photo folder and were not stored "
            f"(add their photos, or enroll them at the kiosk): {shown}")
    return report


def _duration(s: float) -> str:
    s = max(0, round(s))
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s" if s >= 60 \
        else f"{s} s"


def progress_bar(stream=sys.stderr, every_s: float = 10.0, clock=time.monotonic):
    """Progress with the rate and the time left: a bar redrawn in place on a terminal; a line
    every `every_s` seconds otherwise (a log file, a pipe, a CI job), and one at the end."""
    tty = stream.isatty()
    start = clock()
    last = [start]

    def show(done: int, total: int) -> None:
        now = clock()
        spent = max(now - start, 1e-9)
        rate = done / spent
        text = (f"{done}/{total} photos, {rate:.1f} photos/s, "
                + ("done in " + _duration(spent) if done == total else f"about {_duration((total - done) / rate)} left"))
        if tty:
            n = int(30 * done / total)
            stream.write(f"\r[{'#' * n}{'.' * (30 - n)}] {text}   ")
            if done == total:
                stream.write("\n")
        elif done == total or now - last[0] >= every_s:
            last[0] = now
            stream.write(f"analysed {text}\n")
        stream.flush()

    return show
