"""Batch enrollment from photos: analyse every photo on all cores, check, then store at once.

1. Each photo is read and analysed in a worker process (dlib holds the GIL, so processes, not
   threads): exactly one face, every quality gate, then its 128-d template.
2. A template that matches a *different* employee (already enrolled, or elsewhere in this
   batch) within the recognition threshold is refused unless `force`: it is either the wrong
   folder or two people who the kiosk could not tell apart.
3. Employees with at least `min_photos` accepted photos are written in one transaction
   (employees, templates, audit entry); if anything fails, nothing is written.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from enroll.photos import PhotoSet
from kiosk.imageio import ImageReadError, load_rgb
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.quality import REASONS
from kiosk.store import Store
from kiosk.store.db import TemplateRow
from kiosk_models import ENCODER_VERSION


RECOMMENDED_PHOTOS = 3


@dataclass
class PhotoResult:
    nip: str
    path: str
    encoding: np.ndarray | None
    reason: str | None  # None = accepted
    detail: str = ""
    sharpness: float | None = None


@dataclass
class EnrollReport:
    enrolled: dict[str, int] = field(default_factory=dict)  # NIP -> templates added
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path or NIP, reason)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused


# --- worker side ---------------------------------------------------------------------------

_analyzer = None


def _init_worker(rc_values: dict) -> None:
    global _analyzer
    from kiosk.recognition.pipeline import FaceAnalyzer

    _analyzer = FaceAnalyzer(SimpleNamespace(**rc_values))
    _analyzer.m.load_all()


def analyse_photo(job: tuple[str, str]) -> PhotoResult:
    nip, path = job
    try:
        rgb = load_rgb(path)
    except ImageReadError as e:
        return PhotoResult(nip, path, None, "unreadable", str(e).removeprefix(f"{path}: "))
    a = _analyzer.analyze(rgb, single=True)
    if a.encoding is None:
        detail = REASONS.get(a.reason, a.reason)
        if a.reason == "several_faces":
            detail = f"{len(a.faces)} faces in the photo; enrollment needs exactly one"
        elif a.quality is not None:
            detail += f" ({_describe(a.reason, a.quality)})"
        return PhotoResult(nip, path, None, a.reason, detail)
    return PhotoResult(nip, path, a.encoding, None, sharpness=a.quality.sharpness)


def _describe(reason: str, q) -> str:
    return {
        "too_small": f"face {q.face_px} px wide",
        "blurred": f"sharpness {q.sharpness:.0f}",
        "too_dark": f"brightness {q.brightness:.0f}",
        "too_bright": f"brightness {q.brightness:.0f}",
        "not_frontal": f"yaw {q.yaw:+.2f}",
        "tilted": f"roll {q.roll_deg:+.0f} degrees",
    }.get(reason, "")


# --- parent side ---------------------------------------------------------------------------


def analyse_all(photos: PhotoSet, rc, workers: int | None = None, progress=None) -> list[PhotoResult]:
    jobs = [(nip, str(p)) for nip, paths in photos.photos.items() for p in paths]
    if not jobs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rc_values = dict(vars(rc))
    if workers > 1:  # one process per core already: one encoder thread each
        rc_values["encoder_threads"] = 1
    results: list[PhotoResult] = []
    if workers == 1:
        _init_worker(rc_values)
        for i, job in enumerate(jobs, 1):
            results.append(analyse_photo(job))
            if progress:
                progress(i, len(jobs))
        return results
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(rc_values,)) as pool:
        for i, r in enumerate(pool.map(analyse_photo, jobs, chunksize=1), 1):
            results.append(r)
            if progress:
                progress(i, len(jobs))
    return results


def find_duplicates(results: list[PhotoResult], existing: Gallery, threshold: float) -> None:
    """Mark photos whose face matches a different employee (enrolled or in this batch)."""
    ok = [r for r in results if r.reason is None]
    if not ok:
        return
    batch = Gallery(np.stack([r.encoding for r in ok]), [r.nip for r in ok])
    for r in ok:
        hits = [m for m in (existing.match(r.encoding, exclude=r.nip), batch.match(r.encoding, exclude=r.nip))
                if m.employee_id is not None and m.distance <= threshold]
        if hits:
            m = min(hits, key=lambda m: m.distance)
            r.reason = "duplicate"
            r.detail = (f"face matches employee {m.employee_id} (distance {m.distance:.3f} <= "
                        f"{threshold}); use --force if this really is a different person")


def enroll_photos(store: Store, photos: PhotoSet, cfg, roster: dict[str, dict] | None = None,
                  force: bool = False, replace: bool = False, workers: int | None = None,
                  progress=None, actor: str = "cli") -> EnrollReport:
    rc, min_photos = cfg.recognition, cfg.enroll.min_photos
    report = EnrollReport(refused=list(photos.refused))
    if roster is not None:
        for nip in list(photos.photos):
            if nip not in roster:
                report.refused.append((nip, f"employee {nip} is not in the roster"))
                del photos.photos[nip]
    results = analyse_all(photos, rc, workers, progress)
    existing = Gallery(*store.templates(ENCODER_VERSION, active_only=False))
    if not force:
        find_duplicates(results, existing, rc.threshold)
    by_nip: dict[str, list[PhotoResult]] = {}
    for r in results:
        if r.reason is None:
            by_nip.setdefault(r.nip, []).append(r)
        else:
            report.refused.append((r.path, f"{r.reason}: {r.detail}"))
    for nip in photos.photos:
        accepted = by_nip.get(nip, [])
        if len(accepted) < min_photos:
            report.refused.append(
                (nip, f"employee {nip}: {len(accepted)} usable photo(s), at least {min_photos} needed; not enrolled"))
            by_nip.pop(nip, None)
    templates = [TemplateRow(r.nip, r.encoding, r.sharpness, r.path, ENCODER_VERSION)
                 for rs in by_nip.values() for r in rs]
    people = [roster[nip] if roster else {"nip": nip} for nip in by_nip]
    with store.transaction("store the enrollment") as db:
        # the whole roster is stored (HR can enroll the rest at the kiosk later)
        store.upsert_employees(list(roster.values()) if roster else people, db=db)
        if replace and by_nip:
            marks = ",".join("?" * len(by_nip))
            db.execute(f"delete from face_templates where nip in ({marks})", list(by_nip))
        store.add_templates(templates, db)
        store.audit("enroll_photos", {
            "employees": len(by_nip), "templates": len(templates), "refused": len(report.refused),
            "force": force, "replace": replace}, actor, db=db)
    report.enrolled = {nip: len(rs) for nip, rs in by_nip.items()}
    counts = {e["nip"]: e["templates"] for e in store.employees()}
    for nip in report.enrolled:
        if counts.get(nip, 0) < RECOMMENDED_PHOTOS:
            report.warnings.append(
                f"employee {nip} has {counts.get(nip, 0)} template(s); {RECOMMENDED_PHOTOS} or more photos "
                "are recommended (with one, about 3x more misses: docs/thresholds.md)")
    return report


def progress_bar(stream=sys.stderr):
    """A one-line progress bar on a terminal, a line per tenth otherwise."""
    tty = stream.isatty()
    last = [-1]

    def show(done: int, total: int) -> None:
        if tty:
            n = int(30 * done / total)
            stream.write(f"\r[{'#' * n}{'.' * (30 - n)}] {done}/{total} photos")
            if done == total:
                stream.write("\n")
        else:
            tenth = int(10 * done / total)
            if tenth != last[0]:
                last[0] = tenth
                stream.write(f"analysed {done}/{total} photos\n")
        stream.flush()

    return show
