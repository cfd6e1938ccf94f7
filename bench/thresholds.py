#!/usr/bin/env python3
"""Measure the recognition thresholds on real photos and clips; print the tables behind
docs/thresholds.md.

    python bench/thresholds.py [--faces DIR] [--videos DIR] [--splits N] [--step N] [--jobs N]

Run from the repository root. Data (never part of the repository): ``../shared/faces`` (photo
sets with manifests; a folder without them is read as one sub-folder per person) and
``../shared/videos`` (clips; the vote simulation needs person A's two clips). Templates are computed with the kiosk's
own pipeline (``FaceAnalyzer``: detection, quality gates, dlib encoder) and cached in
``.cache/thresholds-encodings.npz`` keyed by file path + size + detection settings, so a second
run only re-does the statistics (about 10 s). The first run takes about a minute on 2 cores
(~700 templates; --jobs sets the worker processes).

What it prints:
  1. the data: people, photos, frames; what was skipped and why; what the quality gates refused;
  2. photo pairs: genuine vs impostor distance percentiles, false accept / false reject rates;
  3. open-set 1:N on photos: random splits into enrolled / never-enrolled people, per
     (threshold, margin) the false-match, wrong-person and miss rates, and an extrapolation of
     the false-match rate to large galleries;
  4. clips: quality measures and per-gate refusals on person A's frames, then the kiosk's k-of-n
     vote (kiosk.recognition.tracker.Tracker, same rule as kiosk/loop.py): frames until A is
     identified in the other session, and whether any other person's clip is identified.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow `python bench/thresholds.py` without an installed package
    sys.path.insert(0, str(REPO))

from kiosk.config import load_config  # noqa: E402
from kiosk.recognition.faces import Box  # noqa: E402
from kiosk.recognition.gallery import Gallery, gallery_options  # noqa: E402
from kiosk.recognition.quality import SHARPNESS_SIZE  # noqa: E402
from kiosk.recognition.tracker import Tracker  # noqa: E402

THRESHOLDS = [0.35, 0.40, 0.42, 0.45, 0.47, 0.50, 0.55, 0.60]
MARGINS = [0.0, 0.03, 0.05, 0.08]
VOTES = [(1, 1), (2, 3), (3, 3), (3, 5), (4, 5), (5, 7)]  # (votes_needed, vote_window)
GATE_NAMES = ["partial", "too_small", "too_dark", "too_bright", "blurred", "not_frontal", "tilted"]
# Cached records hold quality measures too: a change in how they are measured invalidates them.
CACHE_VERSION = f"v1:sharp{SHARPNESS_SIZE}"
# Two photos of one person whose templates are closer than this are the same picture (resized
# or re-encoded copies measure 0.02-0.14 here; the closest two different photos of one person
# 0.26); see the "Copies skipped" table.
NEAR_DUPLICATE = 0.15
A_CLIPS = ("person-a_cap12.mp4", "person-a_capture4.mp4")  # one man, two sessions
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
ATTEMPT_SECONDS = 5.0  # a person stands at the kiosk this long at most in the vote simulation


# --------------------------------------------------------------------------------------------
# Encoding (worker processes), with the cache
# --------------------------------------------------------------------------------------------

FIELDS = ("face_px", "eye_px", "brightness", "median", "shadows", "highlights", "contrast", "sharpness", "yaw", "roll_deg")
_AN = None  # FaceAnalyzer of this worker
_RC = None


def _permissive(rc) -> SimpleNamespace:
    """rc with every gate open except 'partial' (which has no setting): to read the values."""
    d = dict(vars(rc))
    d.update(min_eye_px=0.0, max_shadows=2.0, max_highlights=2.0, min_contrast=-1.0, min_sharpness=-1.0,
             max_yaw=1e9, max_roll_deg=1e9)
    return SimpleNamespace(**d)


def _worker_init() -> None:
    global _AN, _RC
    from kiosk.recognition.pipeline import FaceAnalyzer

    _RC = load_config(None).recognition
    _AN = FaceAnalyzer(_RC)
    _AN.m.load_all()


def _record(rgb, a, face: Box | None, encode_always: bool = True) -> dict:
    """Plain-data record of the chosen face: box, gate values, partial flag, template."""
    from kiosk.recognition.quality import assess

    rec = {"nfaces": len(a.faces), "has_face": face is not None, "box": [0, 0, 0, 0],
           "enc": None, "partial": False, "pipeline_reason": a.reason or ""}
    for f in FIELDS:
        rec[f] = float("nan")
    if face is None:
        return rec
    lm = a.landmarks if (a.landmarks is not None and a.face == face) else _AN.m.shape68(rgb, face)
    q = assess(rgb, face, lm, _permissive(_RC))
    rec["partial"] = q.reason == "partial"
    rec["box"] = face.as_list()
    for f in FIELDS:
        rec[f] = float(getattr(q, f))
    if a.encoding is not None:
        rec["enc"] = a.encoding
    elif encode_always:
        rec["enc"] = _AN.m.encode(rgb, face)
    return rec


def photo_task(path: str) -> tuple[str, dict]:
    from kiosk.imageio import load_rgb
    from kiosk.recognition.pipeline import choose_face

    rgb = load_rgb(path)
    a = _AN.analyze(rgb)  # the kiosk's still-photo path: photo_detect_width, every gate
    face, fallback = a.face, False
    if face is None:
        # Not found at the kiosk's settings: full resolution and one upsampling pass, so the
        # photo still counts in the distance statistics (reported as a detection fallback).
        h, w = rgb.shape[:2]
        faces = _AN.m.detect(rgb, detect_width=max(w, 1), upsample=1)
        face, fallback = choose_face(faces, w, h), True
        a.faces = faces
    rec = _record(rgb, a, face)
    rec["fallback"] = fallback
    rec["shape"] = list(rgb.shape[:2])
    return path, rec


def video_task(path: str, frames: list[int]) -> tuple[str, list[tuple[int, dict]]]:
    """Every frame in `frames` through the kiosk's camera path (detect at detect_width)."""
    import cv2

    want = set(frames)
    out = []
    cap = cv2.VideoCapture(path)
    i = 0
    last = max(frames) if frames else -1
    while i <= last:
        if not cap.grab():
            break
        if i in want:
            ok, bgr = cap.retrieve()
            if ok:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                a = _AN.detect(rgb)
                _AN.finish(rgb, a, encode=False)
                rec = _record(rgb, a, a.face)
                rec["fallback"] = False
                rec["shape"] = list(rgb.shape[:2])
                out.append((i, rec))
        i += 1
    cap.release()
    return path, out


def _task(job):
    kind, args = job
    return kind, (photo_task(*args) if kind == "photo" else video_task(*args))


class Cache:
    """Records keyed by 'resolved path|size|settings[|frame]', one compressed .npz."""

    SCALARS = ("nfaces", "has_face", "partial", "fallback", *FIELDS)

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, dict] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                z = np.load(path, allow_pickle=False)
                keys = [str(k) for k in z["key"]]
                for n, k in enumerate(keys):
                    rec = {s: z[s][n].item() for s in self.SCALARS}
                    rec["box"] = z["box"][n].tolist()
                    rec["shape"] = z["shape"][n].tolist()
                    rec["pipeline_reason"] = str(z["pipeline_reason"][n])
                    rec["enc"] = z["enc"][n].copy() if z["has_enc"][n] else None
                    self.data[k] = rec
            except Exception as e:  # a damaged cache is rebuilt, never trusted
                print(f"# cache {path} unreadable ({e}); rebuilding", file=sys.stderr)
                self.data = {}

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.data)
        recs = [self.data[k] for k in keys]
        arrays = {
            "key": np.array(keys, dtype=str),
            "enc": np.array([r["enc"] if r["enc"] is not None else np.zeros(128, np.float32)
                             for r in recs], dtype=np.float32).reshape(-1, 128),
            "has_enc": np.array([r["enc"] is not None for r in recs], dtype=bool),
            "box": np.array([r["box"] for r in recs], dtype=np.int32).reshape(-1, 4),
            "shape": np.array([r["shape"] for r in recs], dtype=np.int32).reshape(-1, 2),
            "pipeline_reason": np.array([r["pipeline_reason"] for r in recs], dtype=str),
        }
        for s in self.SCALARS:
            arrays[s] = np.array([r[s] for r in recs])
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, self.path)


def file_key(path: Path, settings: str) -> str:
    p = path.resolve()
    return f"{p}|{p.stat().st_size}|{settings}"


# --------------------------------------------------------------------------------------------
# Data inventory
# --------------------------------------------------------------------------------------------

@dataclass
class Photo:
    path: Path
    rel: str
    identity: str
    set: str
    rec: dict | None = None
    skip: str | None = None  # why the photo is not used

    @property
    def enc(self):
        return None if self.rec is None else self.rec["enc"]


def read_photos(faces: Path) -> list[Photo]:
    """Every photo listed in the manifests, with the identity and (if so) why it is skipped."""
    photos: list[Photo] = []
    m1 = faces / "manifest-ageitgey-packages.csv"
    if m1.is_file():
        with m1.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ph = Photo(faces / row["path"], row["path"], row["identity"], row["path"].split("/")[0])
                if ";" in row["identity"] or row["identity"] == "multi" or int(row["n_faces"] or 1) > 1:
                    ph.skip = "group photo"
                elif row.get("duplicate_of"):
                    ph.skip = "duplicate (manifest)"
                photos.append(ph)
    m2 = faces / "deepface" / "manifest.csv"
    if m2.is_file():
        with m2.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rel = "deepface/" + row["path"]
                ph = Photo(faces / rel, rel, row["identity"], "deepface")
                note = (row.get("note") or "").lower()
                if ";" in row["identity"] or row["identity"] == "multi" or "faces" in note:
                    ph.skip = "group photo"
                elif "duplicate" in note or "mirror" in note:
                    ph.skip = "near-duplicate (manifest note)"
                photos.append(ph)
    if not m1.is_file() and not m2.is_file():
        # No manifest: one folder per person (e.g. a pilot's enrollment photos, PERSON/*.jpg).
        for f in sorted(faces.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and f.parent != faces:
                rel = f.relative_to(faces).as_posix()
                photos.append(Photo(f, rel, f.parent.name, rel.split("/")[0]))
    if not photos:
        sys.exit(f"no photos under {faces} (neither the manifests manifest-ageitgey-packages.csv, "
                 f"deepface/manifest.csv nor PERSON/*.jpg folders)")
    # Exact copies by content, whatever the manifests say (the first path in sorted order wins).
    seen: dict[str, str] = {}
    for ph in sorted(photos, key=lambda p: p.rel):
        if not ph.path.is_file():
            ph.skip = ph.skip or "file missing"
            continue
        if ph.skip:
            continue
        h = hashlib.sha1(ph.path.read_bytes()).hexdigest()
        if h in seen:
            ph.skip = f"duplicate of {seen[h]}"
        else:
            seen[h] = ph.rel
    return photos


def video_frames(path: Path, step: int) -> tuple[list[int], float, tuple[int, int], int]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        return [], 0.0, (0, 0), 0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    return list(range(0, n, step)), fps, size, n


@dataclass
class Clip:
    path: Path
    name: str
    fps: float
    size: tuple[int, int]
    frames: list[int]
    total: int = 0
    recs: list[dict] = field(default_factory=list)


def encode_all(photos: list[Photo], clips: list[Clip], rc, jobs: int, cache: Cache) -> float:
    """Fill photo.rec and clip.recs from the cache, computing what is missing. Returns seconds."""
    psettings = f"{CACHE_VERSION}:photo:pdw={rc.photo_detect_width}:up={rc.upsample}"
    vsettings = f"{CACHE_VERSION}:video:dw={rc.detect_width}:up={rc.upsample}"
    todo = []
    for ph in photos:
        if ph.skip is None or ph.skip.startswith("near-duplicate"):
            k = file_key(ph.path, psettings)
            if k in cache.data:
                ph.rec = cache.data[k]
            else:
                todo.append(("photo", (str(ph.path),)))
    for c in clips:
        base = file_key(c.path, vsettings)
        missing = [i for i in c.frames if f"{base}|f={i}" not in cache.data]
        if missing:
            todo.append(("video", (str(c.path), missing)))
    t0 = time.perf_counter()
    if todo:
        print(f"# encoding {sum(1 for k, _ in todo if k == 'photo')} photos and "
              f"{sum(len(a[1]) for k, a in todo if k == 'video')} video frames "
              f"with {jobs} process(es); cached in {cache.path}", file=sys.stderr)
        # videos first: they are the longest jobs
        todo.sort(key=lambda j: (j[0] != "video", -len(j[1][1]) if j[0] == "video" else 0))
        if jobs > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(jobs, initializer=_worker_init) as pool:
                results = list(pool.imap_unordered(_task, todo))
        else:
            _worker_init()
            results = [_task(j) for j in todo]
        for kind, res in results:
            if kind == "photo":
                path, rec = res
                cache.data[file_key(Path(path), psettings)] = rec
            else:
                path, frs = res
                base = file_key(Path(path), vsettings)
                for i, rec in frs:
                    cache.data[f"{base}|f={i}"] = rec
        cache.dirty = True
        cache.save()
    for ph in photos:
        if ph.rec is None and (ph.skip is None or ph.skip.startswith("near-duplicate")):
            ph.rec = cache.data.get(file_key(ph.path, psettings))
    for c in clips:
        base = file_key(c.path, vsettings)
        c.frames = [i for i in c.frames if f"{base}|f={i}" in cache.data]  # unreadable tail dropped
        c.recs = [cache.data[f"{base}|f={i}"] for i in c.frames]
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# Gates on stored values
# --------------------------------------------------------------------------------------------

def gate_fails(rec: dict, rc) -> list[str]:
    """Every gate (not only the first) that refuses this face under `rc`."""
    if not rec["has_face"]:
        return ["no_face"]
    out = []
    if rec["partial"]:
        out.append("partial")
    if rec["eye_px"] < rc.min_eye_px:
        out.append("too_small")
    flat = rec["contrast"] < rc.min_contrast  # the same rules as kiosk.recognition.quality.assess
    if rec["shadows"] > rc.max_shadows or (flat and rec["median"] < 128):
        out.append("too_dark")
    elif rec["highlights"] > rc.max_highlights or flat:
        out.append("too_bright")
    if rec["sharpness"] < rc.min_sharpness:
        out.append("blurred")
    if abs(rec["yaw"]) > rc.max_yaw:
        out.append("not_frontal")
    if abs(rec["roll_deg"]) > rc.max_roll_deg:
        out.append("tilted")
    return out


def kiosk_reason(rec: dict, rc) -> str | None:
    """What FaceAnalyzer.analyze says about a photo under `rc` (None = encoded)."""
    return "no_face" if rec.get("fallback") else gate_reason(rec, rc)


def gate_reason(rec: dict, rc) -> str | None:
    """The first refusing gate, in quality.assess's order (None = accepted)."""
    fails = gate_fails(rec, rc)
    return fails[0] if fails else None


def with_gates(rc, **kw) -> SimpleNamespace:
    d = dict(vars(rc))
    d.update(kw)
    return SimpleNamespace(**d)


# --------------------------------------------------------------------------------------------
# Printing helpers
# --------------------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}\n")
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))


def _fmt(c) -> str:
    if isinstance(c, float):
        if math.isnan(c):
            return "-"
        return f"{c:.3f}" if abs(c) < 10 else f"{c:.1f}"
    return str(c)


def pct(n: int, d: int) -> str:
    return "-" if d == 0 else f"{100.0 * n / d:.1f}"




def pctl(values, qs=(0, 1, 5, 25, 50, 75, 95, 99, 100)) -> list[float]:
    v = np.asarray(values, dtype=float)
    return [float("nan")] * len(qs) if v.size == 0 else [float(x) for x in np.percentile(v, qs)]


# --------------------------------------------------------------------------------------------
# 1. Photos: which are used
# --------------------------------------------------------------------------------------------

# Crops of another photo of the set (found by looking at them): the same picture, not a second
# photo of the person. Their templates are 0.24-0.27 from the original, too far for the
# automatic NEAR_DUPLICATE rule, which catches the resized copies.
SAME_PICTURE = {
    "ageitgey/tests/test_images/obama_partial_face.jpg": "ageitgey/examples/knn_examples/train/obama/obama.jpg",
    "ageitgey/tests/test_images/obama_partial_face2.jpg": "ageitgey/examples/knn_examples/train/obama/obama.jpg",
}


def drop_same_pictures(photos: list[Photo], rc) -> None:
    """Keep one photo per picture: resized/cropped copies of one picture count once."""
    live = [p for p in photos if p.skip is None and p.enc is not None]
    by_rel = {p.rel: p for p in live}
    parent = {p.rel: p.rel for p in live}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in SAME_PICTURE.items():
        if a in by_rel and b in by_rel:
            parent[find(a)] = find(b)
    by_id = defaultdict(list)
    for p in live:
        by_id[p.identity].append(p)
    for group in by_id.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if float(np.linalg.norm(a.enc - b.enc)) < NEAR_DUPLICATE:
                    parent[find(a.rel)] = find(b.rel)
    clusters = defaultdict(list)
    for p in live:
        clusters[find(p.rel)].append(p)
    for members in clusters.values():
        if len(members) < 2:
            continue
        keep = max(members, key=lambda p: (kiosk_reason(p.rec, rc) is None, p.rec["face_px"], p.rel))
        for p in members:
            if p is not keep:
                d = float(np.linalg.norm(p.enc - keep.enc))
                p.skip = f"same picture as {keep.rel} (distance {d:.2f})"


def used(photos: list[Photo]) -> list[Photo]:
    return sorted((p for p in photos if p.skip is None and p.enc is not None), key=lambda p: p.rel)


def section_data(photos: list[Photo], clips: list[Clip], rc, cfg_files) -> None:
    print("# 1. Data\n")
    print(f"Settings: load_config(None) defaults{' + ' + ', '.join(map(str, cfg_files)) if cfg_files else ''}: "
          f"photo_detect_width {rc.photo_detect_width}, detect_width {rc.detect_width}, upsample {rc.upsample}, "
          f"min_eye_px {rc.min_eye_px}, min_sharpness {rc.min_sharpness}, max_shadows {rc.max_shadows}, "
          f"max_highlights {rc.max_highlights}, "
          f"min_contrast {rc.min_contrast}, max_yaw {rc.max_yaw}, max_roll_deg {rc.max_roll_deg}; "
          f"threshold {rc.threshold}, margin {rc.margin}, votes {rc.votes_needed}/{rc.vote_window}.")
    rows = []
    sets = sorted({p.set for p in photos})
    for s in sets + ["all"]:
        ps = [p for p in photos if s == "all" or p.set == s]
        u = [p for p in used(ps)]
        skips = Counter(_skip_kind(p.skip) for p in ps if p.skip)
        refused = Counter(kiosk_reason(p.rec, rc) or "" for p in u)
        rows.append([s, len(ps), skips.get("group photo", 0), skips.get("exact copy", 0),
                     skips.get("same picture", 0), skips.get("missing/unreadable", 0), len(u),
                     len({p.identity for p in u}), refused.get("", 0),
                     ", ".join(f"{k} {v}" for k, v in sorted(refused.items()) if k) or "-"])
    table(["set", "files listed", "group photos", "exact copies", "same picture", "missing",
           "photos used", "people", "pass all gates", "refused by the gates (kiosk reason)"], rows,
          "Photos (group photos skipped; one photo per picture; templates of refused photos are "
          "computed anyway, for the statistics):")
    u = used(photos)
    detail = []
    for p in u:
        fails = gate_fails(p.rec, rc)
        reason = kiosk_reason(p.rec, rc)
        if reason:
            extra = " (found only at full resolution with upsampling)" if p.rec["fallback"] else ""
            detail.append([p.rel, p.identity, int(p.rec["face_px"]), reason + extra, ", ".join(fails) or "-"])
    if detail:
        table(["photo", "person", "face px", "kiosk reason", "every failing gate"], detail,
              "Photos the kiosk's still-photo path (FaceAnalyzer.analyze) refuses:")
    same = [[p.rel, p.skip] for p in photos if p.skip and (p.skip.startswith("same picture") or
                                                           p.skip.startswith("duplicate"))]
    if same:
        table(["photo", "skipped as"], same, "Copies skipped (one photo per picture):")
    by_id = defaultdict(list)
    for p in u:
        by_id[p.identity].append(p)
    rows = []
    for ident in sorted(by_id, key=lambda i: (-len(by_id[i]), i)):
        ps = by_id[ident]
        npass = sum(kiosk_reason(p.rec, rc) is None for p in ps)
        rows.append([ident, ps[0].set, len(ps), npass,
                     "enroll or probe" if len(ps) >= 2 and npass else "never enrolled (1 photo)"])
    table(["person", "set", "photos", "pass gates", "role in 1:N"], rows, "People:")
    if clips:
        rows = [[c.name, f"{c.size[0]}x{c.size[1]}", f"{c.fps:.1f}", c.total, len(c.recs),
                 sum(r["has_face"] for r in c.recs)] for c in clips]
        table(["clip", "size", "fps", "frames", "sampled", "face found"], rows,
              "Clips (every sampled frame through the camera path: detect at detect_width, gates, encode):")


def _skip_kind(s: str) -> str:
    if s.startswith("group"):
        return "group photo"
    if s.startswith("duplicate"):
        return "exact copy"
    if s.startswith("same picture") or s.startswith("near-duplicate"):
        return "same picture"
    return "missing/unreadable"


# --------------------------------------------------------------------------------------------
# 2. Photo pairs
# --------------------------------------------------------------------------------------------

def section_pairs(photos: list[Photo]) -> dict:
    print("\n# 2. Photo pairs: same person (genuine) vs different people (impostor)\n")
    u = used(photos)
    enc = np.stack([p.enc for p in u]).astype(np.float64)
    ids = np.array([p.identity for p in u])
    d = np.sqrt(np.maximum(((enc[:, None, :] - enc[None, :, :]) ** 2).sum(-1), 0))
    iu, ju = np.triu_indices(len(u), 1)
    dist = d[iu, ju]
    same = ids[iu] == ids[ju]
    gen, imp = dist[same], dist[~same]
    qs = (0, 1, 5, 25, 50, 75, 95, 99, 100)
    rows = [["genuine", len(gen), len(set(ids[iu][same])), *pctl(gen, qs)],
            ["impostor", len(imp), len(set(ids)), *pctl(imp, qs)]]
    table(["pairs", "count", "people", "min", "p1", "p5", "p25", "median", "p75", "p95", "p99", "max"],
          rows, f"Distance percentiles ({len(u)} photos of {len(set(ids))} people):")
    rows = []
    for t in THRESHOLDS:
        fr, fa = int((gen > t).sum()), int((imp <= t).sum())
        rows.append([f"{t:.2f}", f"{fr}/{len(gen)}", pct(fr, len(gen)), f"{fa}/{len(imp)}", pct(fa, len(imp))])
    table(["threshold", "genuine rejected", "FRR %", "impostors accepted", "FAR %"], rows,
          "Pair verification (accept when distance <= threshold):")
    order = np.argsort(imp)[:5]
    ii, jj = iu[~same][order], ju[~same][order]
    rows = [[f"{imp[o]:.3f}", u[i].rel, u[j].rel] for o, i, j in zip(order, ii, jj)]
    table(["distance", "photo", "photo"], rows, "Closest impostor pairs:")
    order = np.argsort(-gen)[:5]
    ii, jj = iu[same][order], ju[same][order]
    rows = [[f"{gen[o]:.3f}", u[i].rel, u[j].rel] for o, i, j in zip(order, ii, jj)]
    table(["distance", "photo", "photo"], rows, "Farthest genuine pairs:")
    return {"genuine": gen, "impostor": imp}


# --------------------------------------------------------------------------------------------
# 3. Open-set 1:N on photos
# --------------------------------------------------------------------------------------------

def simulate_open_set(photos: list[Photo], rc, splits: int, seed: int, n_enroll: int) -> dict:
    """Random splits; returns per-probe arrays pooled over every split."""
    rng = np.random.default_rng(seed)
    u = used(photos)
    enc = np.stack([p.enc for p in u])
    by_id = defaultdict(list)
    for n, p in enumerate(u):
        by_id[p.identity].append(n)
    ok = np.array([kiosk_reason(p.rec, rc) is None for p in u])
    enrollable = sorted(i for i, ns in by_id.items() if len(ns) >= 2 and ok[ns].any())
    n_in = len(enrollable) // 2
    kind, correct, dist, margin, pair_d = [], [], [], [], []
    pairs_seen = set()
    for _ in range(splits):
        enrolled = sorted(rng.choice(enrollable, size=n_in, replace=False).tolist())
        tmpl, tids, probes = [], [], []
        for ident in enrolled:
            ns = by_id[ident]
            passing = [n for n in ns if ok[n]]
            k = min(n_enroll, len(ns) - 1, len(passing))
            chosen = rng.choice(passing, size=k, replace=False).tolist()
            tmpl += chosen
            tids += [ident] * k
            probes += [(n, ident, 1) for n in ns if n not in chosen]
        for ident, ns in by_id.items():
            if ident not in enrolled:
                probes += [(n, ident, 0) for n in ns]
        g = Gallery(enc[tmpl], tids)
        for n, ident, k in probes:
            m = g.match(enc[n])
            kind.append(k)
            correct.append(m.employee_id == ident)
            dist.append(m.distance)
            margin.append(m.margin)
            if not k:
                per = g.per_employee(enc[n])
                pair_d.extend(per.tolist())
                pairs_seen.update((n, e) for e in g.employees)
    return {"kind": np.array(kind), "correct": np.array(correct), "dist": np.array(dist),
            "margin": np.array(margin), "pair_d": np.array(pair_d), "pairs": len(pairs_seen),
            "enrolled": n_in, "enrollable": len(enrollable), "people": len(by_id),
            "probes_per_split": len(kind) / max(1, splits)}


def open_set_rates(sim: dict, t: float, mg: float) -> tuple[float, float, float]:
    acc = (sim["dist"] <= t) & (sim["margin"] >= mg)
    never, enr = sim["kind"] == 0, sim["kind"] == 1
    fm = 100.0 * acc[never].mean()
    wrong = 100.0 * (acc & ~sim["correct"])[enr].mean()
    miss = 100.0 * (~acc)[enr].mean()
    return fm, wrong, miss


def section_open_set(photos: list[Photo], rc, splits: int, seed: int) -> dict:
    print("\n# 3. Open-set 1:N on photos\n")
    sims = {n: simulate_open_set(photos, rc, splits, seed, n) for n in (3, 1)}
    s = sims[3]
    never = int((s["kind"] == 0).sum())
    print(f"{splits} random splits. Each split enrolls {s['enrolled']} of the {s['enrollable']} people "
          f"with 2+ photos (up to 3 photos each, always leaving one to probe; enrollment photos must "
          f"pass the gates), probes with their other photos, and probes with every photo of the "
          f"{s['people'] - s['enrolled']} people not enrolled. About {s['probes_per_split']:.0f} probes "
          f"per split ({never // splits} from never-enrolled people). Accept = distance <= threshold "
          f"and margin (runner-up minus best) >= margin; percentages of all probes pooled over splits.")
    for n, margins in ((3, MARGINS), (1, (0.0, 0.05))):
        rows = []
        for t in THRESHOLDS:
            for mg in margins:
                fm, wrong, miss = open_set_rates(sims[n], t, mg)
                rows.append([f"{t:.2f}", f"{mg:.2f}", f"{fm:.1f}", f"{wrong:.2f}", f"{miss:.1f}",
                             f"{100 - wrong - miss:.1f}"])
        table(["threshold", "margin", "never-enrolled accepted %", "enrolled: wrong person %",
               "enrolled: missed %", "enrolled: correct %"], rows,
              f"Enrolled with up to {n} photo{'s' if n > 1 else ''} per person:")
    pd_ = s["pair_d"]
    rows = []
    for t in THRESHOLDS:
        k = int((pd_ <= t).sum())
        p = k / len(pd_)
        ub = max(p, 3.0 / s["pairs"])  # "rule of three" bound when nothing was seen
        cells = [f"{t:.2f}", f"{100 * p:.3f}"]
        for n_people in (s["enrolled"], 100, 1000, 9000):
            q = 1 - (1 - p) ** n_people
            cells.append(f"{100 * q:.1f}" if k else f"< {100 * (1 - (1 - ub) ** n_people):.1f}")
        rows.append(cells)
    table(["threshold", "p per enrolled person %",
           f"N={s['enrolled']}", "N=100", "N=1000", "N=9000"], rows,
          "Extrapolation (no margin): chance that a never-enrolled person's photo is within the "
          "threshold of at least one of N enrolled people, 1-(1-p)^N, where p = share of (never-"
          "enrolled photo, enrolled person with up to 3 templates) distances within the threshold, "
          f"pooled over the splits ({s['pairs']} distinct photo-person pairs); '<' = none seen, bound "
          "3/pairs. Assumes independence; a rough guide only:")
    return sims


# --------------------------------------------------------------------------------------------
# 4. Clips: quality gates and the k-of-n vote
# --------------------------------------------------------------------------------------------

def scaled_gates(rc, clip: Clip) -> SimpleNamespace:
    """The gates as a 640 px wide camera would apply them to this scene: min_eye_px scaled."""
    return with_gates(rc, min_eye_px=rc.min_eye_px * clip.size[0] / 640.0)


def section_clip_quality(clips: list[Clip], rc) -> None:
    print("\n# 4. Clips\n")
    rows = []
    for c in clips:
        f = [r for r in c.recs if r["has_face"]]
        col = lambda k, fn=lambda x: x: [fn(r[k]) for r in f]  # noqa: E731
        fp, sh, br = pctl(col("face_px"), (5, 50, 95)), pctl(col("sharpness"), (5, 50, 95)), \
            pctl(col("brightness"), (5, 50, 95))
        yaw, roll = pctl(col("yaw", abs), (50, 95, 100)), pctl(col("roll_deg", abs), (50, 95, 100))
        rows.append([c.name, len(c.recs), len(f), "/".join(f"{x:.0f}" for x in fp),
                     "/".join(f"{x:.0f}" for x in sh), "/".join(f"{x:.0f}" for x in br),
                     "/".join(f"{x:.2f}" for x in yaw), "/".join(f"{x:.1f}" for x in roll)])
    table(["clip", "sampled", "face", "face px p5/p50/p95", "sharpness p5/p50/p95",
           "brightness p5/p50/p95", "|yaw| p50/p95/max", "|roll deg| p50/p95/max"], rows,
          "Quality measures of the chosen face (person A's clips are the genuine ones):")
    rows = []
    for c in clips:
        n = len(c.recs)
        fails = Counter(g for r in c.recs for g in gate_fails(r, rc))
        refused = sum(bool(gate_fails(r, rc)) for r in c.recs)
        sc = scaled_gates(rc, c)
        refused_sc = sum(bool(gate_fails(r, sc)) for r in c.recs)
        rows.append([c.name, n, fails.get("no_face", 0), *[fails.get(g, 0) for g in GATE_NAMES],
                     f"{refused} ({pct(refused, n)} %)", f"{sc.min_eye_px:.1f}",
                     f"{refused_sc} ({pct(refused_sc, n)} %)"])
    table(["clip", "sampled", "no face", *GATE_NAMES, "refused (defaults)",
           "min_eye_px at 640", "refused (at 640)"], rows,
          "Frames each gate refuses with the defaults (a frame can fail several gates); the last "
          "two columns scale min_eye_px to what a 640 px wide camera would see (90 * width / 640):")


@dataclass
class VFrame:
    ts: float
    box: Box | None
    ok: bool  # gates pass (scaled min_eye_px)
    ok_raw: bool  # gates pass (defaults as they are)
    ok_nosharp: bool  # gates pass (scaled, sharpness gate off)
    sharpness: float
    eid: str | None
    dist: float
    margin: float
    dist_a: float  # distance to A's templates
    score: float = math.inf  # what the kiosk compares with the threshold (per-employee thresholds)


def distractor_templates(photos: list[Photo], rc) -> tuple[np.ndarray, list[str]]:
    """Up to 3 gate-passing photos of every photo person: the rest of the 'employees'."""
    by_id = defaultdict(list)
    for p in used(photos):
        if kiosk_reason(p.rec, rc) is None:
            by_id[p.identity].append(p)
    enc, ids = [], []
    for ident, ps in sorted(by_id.items()):
        for p in ps[:3]:
            enc.append(p.enc)
            ids.append(ident)
    return np.array(enc, dtype=np.float32).reshape(-1, 128), ids


def enrollment_frames(clip: Clip, rc, count: int = 3) -> list[int]:
    """`count` gate-passing frames (gates at 640 scale) spread evenly over the clip."""
    sc = scaled_gates(rc, clip)
    passing = [n for n, r in enumerate(clip.recs) if r["enc"] is not None and not gate_fails(r, sc)]
    if len(passing) < count:
        return passing
    return [passing[int((j + 0.5) * len(passing) / count)] for j in range(count)]


def vframes(clip: Clip, g: Gallery, rc) -> list[VFrame]:
    sc = scaled_gates(rc, clip)
    sc_ns = with_gates(sc, min_sharpness=0.0)
    out = []
    for i, r in zip(clip.frames, clip.recs):
        ts = i / clip.fps
        if not r["has_face"] or r["enc"] is None:
            out.append(VFrame(ts, None, False, False, False, 0.0, None, math.inf, math.inf, math.inf, math.inf))
            continue
        m = g.match(r["enc"])
        da = float(g.per_employee(r["enc"])[g.employees.index("A")])
        out.append(VFrame(ts, Box(*r["box"]), not gate_fails(r, sc), not gate_fails(r, rc),
                          not gate_fails(r, sc_ns), r["sharpness"], m.employee_id, m.distance, m.margin, da,
                          m.score))
    return out


def attempts(frames: list[VFrame], k: int, n: int, gap: float, t: float, mg: float,
             gate: str = "ok", full_only: bool = True, window_s: float = ATTEMPT_SECONDS):
    """A person arriving at every sampled frame in turn: the kiosk loop's rule from there.

    Per frame (as kiosk/loop.py): follow the face track; no encoding once the track is
    identified; a gate-refused frame casts no vote; an accepted match votes for its employee,
    any other match votes None. Returns, per attempt, (winner, frames seen, seconds) or None.
    """
    out = []
    for s in range(len(frames)):
        t0 = frames[s].ts
        if full_only and frames[-1].ts - t0 < window_s:
            break
        tr = Tracker(k, n, gap)
        res = None
        for seen, f in enumerate(frames[s:], 1):
            if f.ts - t0 >= window_s:
                break
            track = tr.observe(f.box, f.ts)
            if track is None or track.done or not getattr(f, gate):
                continue
            accepted = f.score <= t and f.margin >= mg  # Match.accepted, as kiosk/loop.py
            w = tr.vote(track, f.eid if accepted else None, f.dist, f.margin)
            if w is not None:
                res = (w, seen, f.ts - t0)
                break
        out.append(res)
    return out


def section_clip_votes(clips: list[Clip], photos: list[Photo], rc, step: int) -> dict:
    by = {c.name: c for c in clips}
    if not all(a in by for a in A_CLIPS):
        print("\n(person A's two clips not found: vote simulation skipped)")
        return {}
    impostors = [c for c in clips if c.name not in A_CLIPS]
    d_enc, d_ids = distractor_templates(photos, rc)
    directions = []
    for enroll, probe in (A_CLIPS, A_CLIPS[::-1]):
        ce, cp = by[enroll], by[probe]
        fr = enrollment_frames(ce, rc)
        g = Gallery(np.vstack([d_enc, np.stack([ce.recs[n]["enc"] for n in fr])]),
                    d_ids + ["A"] * len(fr), **gallery_options(rc))
        directions.append({
            "name": f"{enroll.split('_')[1].split('.')[0]}->{probe.split('_')[1].split('.')[0]}",
            "enroll": enroll, "probe": probe, "frames": [ce.frames[n] for n in fr],
            "gallery": g, "genuine": vframes(cp, g, rc),
            "impostors": {c.name: vframes(c, g, rc) for c in impostors},
            "probe_clip": cp})
    print(f"\nVote simulation. Gallery: person A enrolled from 3 frames of one session (gate-passing, "
          f"spread over the clip) plus {len(set(d_ids))} photo people ({len(d_ids)} templates) as the "
          f"other employees. Probe: A's other session, and the other clips as people never enrolled. "
          f"Every {step}th frame is processed (about {by[A_CLIPS[0]].fps / step:.0f} frames/s), so the "
          f"clips behave like a kiosk encoding ~5 frames/s. Gates: defaults with min_eye_px scaled "
          f"to a 640 px camera (see above).")
    for d in directions:
        print(f"  {d['name']}: enrolled from {d['enroll']} frames {d['frames']}; probe {d['probe']} "
              f"({len(d['genuine'])} frames)")
    # frame level
    rows = []
    for t in THRESHOLDS:
        cells = [f"{t:.2f}"]
        for d in directions:
            g_ok = [f for f in d["genuine"] if f.ok]
            acc = sum(f.eid == "A" and f.score <= t and f.margin >= rc.margin for f in g_ok)
            cells.append(f"{acc}/{len(g_ok)} ({pct(acc, len(g_ok))})")
        imp = [f for d in directions for fs in d["impostors"].values() for f in fs if f.ok]
        acc_a = sum(f.dist_a <= t for f in imp)
        acc_any = sum(f.score <= t and f.margin >= rc.margin for f in imp)
        cells += [f"{acc_a}/{len(imp)}", f"{acc_any}/{len(imp)}"]
        rows.append(cells)
    qa = [pctl([f.dist_a for f in d["genuine"] if f.ok], (0, 5, 50, 95, 100)) for d in directions]
    qi = pctl([f.dist_a for d in directions for fs in d["impostors"].values() for f in fs if f.ok],
              (0, 5, 50, 95, 100))
    table(["frames", "min", "p5", "median", "p95", "max"],
          [[f"A, {d['name']}", *q] for d, q in zip(directions, qa)] + [["other clips to A", *qi]],
          "Per gate-passing frame: distance to A's nearest template:")
    brows = []
    for d in directions:
        for label, sel in (("passes every gate", lambda f: f.ok),
                           (f"refused only as blurred (sharpness < {rc.min_sharpness:g})",
                            lambda f: f.ok_nosharp and not f.ok)):
            fs = [f for f in d["genuine"] if sel(f)]
            dd = [f.dist_a for f in fs]
            q = pctl(dd, (50, 95, 100))
            brows.append([d["name"], label, len(fs), *q, pct(sum(x <= 0.45 for x in dd), len(dd)),
                          pct(sum(x <= 0.50 for x in dd), len(dd))])
    table(["probe", "frames", "count", "median", "p95", "max", "<= 0.45 %", "<= 0.50 %"], brows,
          "Does the sharpness gate keep out frames that match worse? Distance to A's templates:")
    table(["threshold", *[f"A frames accepted as A, {d['name']}" for d in directions],
           "other clips' frames within threshold of A", f"other clips' frames accepted as anyone (margin {rc.margin})"],
          rows, f"Per frame (single-frame decisions, margin {rc.margin}):")

    def summarize(t, mg, k, n, gate="ok"):
        cells = []
        for d in directions:
            res = attempts(d["genuine"], k, n, rc.track_gap_s, t, mg, gate)
            hit = [r for r in res if r is not None and r[0] == "A"]
            wrong = sum(r is not None and r[0] != "A" for r in res)
            secs = [r[2] + step / d["probe_clip"].fps for r in hit]
            cells += [f"{pct(len(hit), len(res))}", f"{np.median(secs):.1f}" if secs else "-",
                      f"{np.percentile(secs, 90):.1f}" if secs else "-", wrong]
        total = as_a = as_any = 0
        clips_hit = set()
        for d in directions:
            for name, fs in d["impostors"].items():
                res = attempts(fs, k, n, rc.track_gap_s, t, mg, gate, full_only=False)
                total += len(res)
                as_a += sum(r is not None and r[0] == "A" for r in res)
                hits = sum(r is not None for r in res)
                as_any += hits
                if hits:
                    clips_hit.add(name)
        cells += [f"{as_a}/{total}", f"{as_any}/{total}", len(clips_hit)]
        return cells

    heads = []
    for d in directions:
        heads += [f"{d['name']} found %", "median s", "p90 s", "wrong"]
    heads += ["impostor attempts -> A", "-> anyone", "impostor clips hit"]
    rows = [[f"{t:.2f}", f"{k}/{n}", *summarize(t, rc.margin, k, n)] for t in THRESHOLDS for k, n in VOTES]
    table(["threshold", "k/n", *heads], rows,
          f"k-of-n vote (margin {rc.margin}): a person arrives at every sampled frame in turn and stays "
          f"{ATTEMPT_SECONDS:.0f} s; 'found %' = attempts identified as A within that time, seconds "
          f"from arrival (p50/p90 of those found), 'wrong' = attempts identified as someone else; "
          f"impostor attempts start at every sampled frame of the 4 other clips (both galleries):")
    k, n = rc.votes_needed, rc.vote_window
    rows = [[f"{t:.2f}", f"{mg:.2f}", *summarize(t, mg, k, n)] for t in THRESHOLDS for mg in MARGINS
            if t in (0.45, 0.50, 0.55, 0.60)]
    table(["threshold", "margin", *heads], rows, f"Margin, with k/n = {k}/{n}:")
    rows = []
    for label, gate in (("defaults as they are", "ok_raw"),
                        ("min_eye_px at 640 scale (as above)", "ok"),
                        ("min_eye_px at 640 scale, sharpness gate off", "ok_nosharp")):
        for t in (0.45, 0.50, 0.55):
            rows.append([label, f"{t:.2f}", *summarize(t, rc.margin, k, n, gate)])
    table(["gates", "threshold", *heads], rows, f"Gate variants, k/n = {k}/{n}, margin {rc.margin}:")
    return {"directions": directions, "summarize": summarize}


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "faces",
                   help="photo sets with manifests (default: ../shared/faces)")
    p.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "videos",
                   help="clips (default: ../shared/videos)")
    p.add_argument("--step", type=int, default=5, help="use every STEP-th video frame (default 5)")
    p.add_argument("--splits", type=int, default=2000, help="random splits for the 1:N simulation")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes for encoding (default 2)")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "thresholds-encodings.npz",
                   help="template cache (default .cache/thresholds-encodings.npz)")
    p.add_argument("--no-cache", action="store_true", help="recompute every template, write no cache")
    return p.parse_args(argv)


def load_data(args, rc):
    if not args.faces.is_dir():
        sys.exit(f"--faces {args.faces}: not a folder")
    photos = read_photos(args.faces)
    clips = []
    if args.videos.is_dir():
        for p in sorted(args.videos.iterdir()):
            if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov", ".webm"):
                frames, fps, size, total = video_frames(p, args.step)
                if frames:
                    clips.append(Clip(p, p.name, fps, size, frames, total))
    else:
        print(f"# --videos {args.videos}: not a folder; clip sections skipped", file=sys.stderr)
    cache = Cache(None if args.no_cache else args.cache)
    secs = encode_all(photos, clips, rc, args.jobs, cache)
    for ph in photos:
        if ph.skip is None and (ph.rec is None or ph.rec["enc"] is None):
            ph.skip = "no face found (even with upsampling)"
    drop_same_pictures(photos, rc)
    return photos, clips, secs


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    cfg = load_config(None)
    rc = cfg.recognition
    photos, clips, enc_secs = load_data(args, rc)
    section_data(photos, clips, rc, cfg.files)
    section_pairs(photos)
    section_open_set(photos, rc, args.splits, args.seed)
    if clips:
        section_clip_quality(clips, rc)
        section_clip_votes(clips, photos, rc, args.step)
    total = time.perf_counter() - t0
    print(f"\nRun time {total:.0f} s ({enc_secs:.0f} s computing templates not in the cache, "
          f"--jobs {args.jobs}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
