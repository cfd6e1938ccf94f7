#!/usr/bin/env python3
"""Is the converted encoder dlib's encoder? Every face of lfw-dev and the clips, both ways.

    python bench/encoder_equivalence.py [--lfw ../shared/lfw-dev] [--videos ../shared/videos]
                                        [--jobs 2] [--step 1]

Run from the repository root. For every face the kiosk's detector finds (photo settings for
the photos, kiosk settings for the video frames; every face of a frame, whatever the quality
gates say), dlib's own ``compute_face_descriptor(image, shape)`` is the reference, and the same
face's chip is encoded by onnxruntime and by OpenCV's DNN module from the converted graph
(models/convert.py), one thread each. It prints:

  1. per runtime, the largest per-component difference from dlib's descriptor (max, and
     percentiles over faces) and the largest Euclidean distance between the two descriptors;
  2. the open-set 1:N protocol of lfw-dev/README.md run once per encoder with the kiosk's own
     code and defaults (FaceAnalyzer with the photo settings, first 3 accepted photos per person
     with 4 or more, enroll.batch.find_duplicates, Gallery.match and its reasons): every
     enrollment and every probe's outcome (employee or refusal reason) is compared with dlib's,
     with FNIR/FPIR, the largest distance difference and the decision closest to flipping.

Not a test (tests/test_encoder.py asserts the bound on the registry photos); docs/encoder.md
quotes its output. About 12 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RUNTIMES = ("onnxruntime", "opencv")
ENCODERS = ("dlib", *RUNTIMES)

_W: dict = {}  # per worker process: analyzer, encoders


def _init() -> None:
    from kiosk.config import load_config
    from kiosk.recognition.encoder import OnnxRuntimeEncoder, OpenCVEncoder
    from kiosk.recognition.faces import FaceModels
    from kiosk.recognition.pipeline import FaceAnalyzer
    from kiosk_models.convert import ensure_graph

    rc = load_config(None).recognition
    m = FaceModels("dlib", 1)
    m.load_all()
    graph = ensure_graph()
    _W.update(rc=rc, m=m, an=FaceAnalyzer(rc, m),
              enc={"onnxruntime": OnnxRuntimeEncoder(graph, 1), "opencv": OpenCVEncoder(graph, 1)})


def _all_three(rgb, box) -> dict[str, np.ndarray]:
    """dlib's reference descriptor from the whole image, and each runtime's from the chip."""
    m = _W["m"]
    shape = m.landmarks5(rgb, m._rect(box))
    out = {"dlib": np.array(m.encoder.net.compute_face_descriptor(rgb, shape, 0), dtype=np.float32)}
    chip = m._dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
    for name, enc in _W["enc"].items():
        out[name] = enc.encode(chip)[0]
    return out


def _faces(rgb, boxes) -> list[dict]:
    return [_all_three(rgb, b) for b in boxes]


def photo_task(path: str) -> dict:
    """Every face of a photo, and the kiosk's analysis of it (as enroll / identify do)."""
    from kiosk.imageio import ImageReadError, load_rgb

    try:
        rgb = load_rgb(path)
    except ImageReadError as e:
        return {"path": path, "faces": [], "reason": "unreadable", "detail": str(e)}
    an, rc = _W["an"], _W["rc"]
    a = an.detect(rgb, rc.photo_detect_width)
    an.finish(rgb, a, encode=False)
    out = {"path": path, "faces": _faces(rgb, a.faces), "n_faces": len(a.faces), "reason": a.reason,
           "sharpness": a.quality.sharpness if a.quality else None}
    if a.reason is None:  # every gate passed: the chosen face's templates, per encoder
        out["enc"] = out["faces"][a.faces.index(a.face)]
    return out


def frame_task(job: tuple[str, int, int]) -> list[dict]:
    """Every face of every `step`-th frame in [start, stop) of a clip (kiosk detection)."""
    import cv2

    path, start, stop, step = job
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    for i in range(start, stop):
        ok, bgr = cap.read()
        if not ok:
            break
        if (i - start) % step:
            continue
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        boxes = _W["m"].detect(rgb, _W["rc"].detect_width, _W["rc"].upsample)
        out += _faces(rgb, boxes)
    cap.release()
    return out


# --- report ---------------------------------------------------------------------------------

def diff_table(faces: list[dict], title: str) -> list[str]:
    lines = [title, f"  {len(faces)} faces"]
    if not faces:
        return lines
    ref = np.stack([f["dlib"] for f in faces])
    lines.append("  runtime       max |diff|   p50       p99       p99.9     max L2 dist   faces > 1e-4")
    for rt in RUNTIMES:
        got = np.stack([f[rt] for f in faces])
        per_face = np.abs(got - ref).max(axis=1)
        l2 = np.linalg.norm(got.astype(np.float64) - ref, axis=1)
        q = np.percentile(per_face, [50, 99, 99.9])
        lines.append(f"  {rt:<12}  {per_face.max():.2e}   {q[0]:.2e}  {q[1]:.2e}  {q[2]:.2e}  "
                     f"{l2.max():.2e}      {int((per_face > 1e-4).sum())}")
    norms = np.linalg.norm(ref, axis=1)
    lines.append(f"  (dlib descriptor norms {norms.min():.3f}-{norms.max():.3f}; largest component "
                 f"{np.abs(ref).max():.3f})")
    return lines


def protocol(photos: dict[str, list[dict]], encoder: str, rc, min_photos: int) -> dict:
    """lfw-dev's open-set 1:N protocol with the kiosk's code; outcomes per photo."""
    from enroll.batch import PhotoResult, find_duplicates
    from kiosk.recognition.gallery import Gallery

    gallery_people = {p: recs for p, recs in photos.items() if len(recs) >= 4}
    results, enrolled_paths = [], set()
    for person, recs in gallery_people.items():
        taken = 0
        for r in recs:  # file-name order; a refused photo is replaced by the next one
            if taken == 3:
                break
            if r.get("enc") is not None and r["n_faces"] == 1:  # enroll: one face, every gate
                results.append(PhotoResult(person, r["path"], r["enc"][encoder], None, sharpness=r["sharpness"]))
                enrolled_paths.add(r["path"])
                taken += 1
    find_duplicates(results, (np.zeros((0, 128), np.float32), []), rc)
    kept = [r for r in results if r.reason is None]
    per = Counter(r.nip for r in kept)
    kept = [r for r in kept if per[r.nip] >= min_photos]
    g = Gallery(np.stack([r.encoding for r in kept]), [r.nip for r in kept])
    out = {"enrolled": sorted((r.nip, r.path) for r in kept),
           "duplicates": sorted(r.path for r in results if r.reason == "duplicate"), "probes": {}}
    for person, recs in photos.items():
        mated = person in gallery_people
        if not mated and len(recs) != 1:
            continue
        for r in recs:
            if r["path"] in enrolled_paths:
                continue
            if r.get("enc") is None:
                out["probes"][r["path"]] = (person if mated else None, None, r["reason"] or "unreadable",
                                            None, None)
                continue
            m = g.match(r["enc"][encoder])
            reason = m.reason(rc.threshold, rc.margin)
            out["probes"][r["path"]] = (person if mated else None, None if reason else m.employee_id,
                                        reason, m.distance, m.margin)
    return out


def rates(p: dict) -> str:
    mated = [v for v in p["probes"].values() if v[0] is not None]
    non = [v for v in p["probes"].values() if v[0] is None]
    hits = sum(1 for v in mated if v[1] == v[0])
    wrong = sum(1 for v in mated if v[1] is not None and v[1] != v[0])
    fp = sum(1 for v in non if v[1] is not None)
    why = Counter(v[2] or "wrong_person" for v in mated if v[1] != v[0])
    return (f"{len(set(n for n, _ in p['enrolled']))} people enrolled ({len(p['enrolled'])} templates, "
            f"{len(p['duplicates'])} refused as duplicates); {len(mated)} mated probes: FNIR "
            f"{100 * (1 - hits / max(1, len(mated))):.1f} %, {wrong} wrong person; {len(non)} non-mated: "
            f"FPIR {100 * fp / max(1, len(non)):.2f} %; misses: "
            + ", ".join(f"{n} {k}" for k, n in why.most_common()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--step", type=int, default=1, help="every N-th video frame")
    ap.add_argument("--limit", type=int, default=0, help="first N people only (smoke run)")
    args = ap.parse_args(argv)

    import cv2

    from kiosk.config import load_config

    cfg = load_config(None)
    people = sorted(p for p in (args.lfw / "images").iterdir() if p.is_dir())
    if args.limit:
        people = people[:args.limit]
    paths = [str(f) for p in people for f in sorted(p.glob("*.jpg"))]
    clips = sorted(p for p in list(args.videos.glob("*.mp4")) + list(args.videos.glob("*.avi"))
                   + list(args.videos.glob("attacks/*.mp4")))
    jobs = []
    for c in clips:
        cap = cv2.VideoCapture(str(c))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        jobs += [(str(c), s, min(n, s + 100), args.step) for s in range(0, n, 100)]
    t0 = time.perf_counter()
    print(f"bench/encoder_equivalence.py: {len(paths)} photos of {len(people)} people, {len(clips)} clips; "
          f"{args.jobs} processes", flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), initializer=_init) as pool:
        recs = []
        for i, r in enumerate(pool.map(photo_task, paths, chunksize=8), 1):
            recs.append(r)
            if i % 1000 == 0:
                print(f"  {i} photos, {time.perf_counter() - t0:.0f} s", flush=True)
        frames = [f for fs in pool.map(frame_task, jobs) for f in fs]
    print(f"encoded in {time.perf_counter() - t0:.0f} s\n")
    photo_faces = [f for r in recs for f in r["faces"]]
    for line in diff_table(photo_faces, f"1a) lfw-dev: every face the photo detector finds "
                                        f"({sum(1 for r in recs if r['faces'])} of {len(recs)} photos)"):
        print(line)
    print()
    for line in diff_table(frames, f"1b) clips: every face in every {args.step}. frame of {len(clips)} clips "
                                   f"({', '.join(c.name for c in clips)})"):
        print(line)
    print()

    by_person: dict[str, list[dict]] = {}
    for r in recs:
        by_person.setdefault(Path(r["path"]).parent.name, []).append(r)
    rc = cfg.recognition
    runs = {e: protocol(by_person, e, rc, cfg.enroll.min_photos) for e in ENCODERS}
    ref = runs["dlib"]
    print(f"2) lfw-dev open-set 1:N protocol, kiosk defaults (threshold {rc.threshold}, margin {rc.margin})")
    for e in ENCODERS:
        print(f"  {e:<12} {rates(runs[e])}")
    for e in RUNTIMES:
        p = runs[e]
        same_enrolled = p["enrolled"] == ref["enrolled"] and p["duplicates"] == ref["duplicates"]
        differ = [k for k in ref["probes"] if ref["probes"][k][1:3] != p["probes"][k][1:3]]
        dd = [abs(ref["probes"][k][3] - p["probes"][k][3]) for k in ref["probes"]
              if ref["probes"][k][3] is not None and np.isfinite(ref["probes"][k][3])]
        dm = [abs(ref["probes"][k][4] - p["probes"][k][4]) for k in ref["probes"]
              if ref["probes"][k][4] is not None and np.isfinite(ref["probes"][k][4])]
        print(f"  {e} vs dlib: enrollment {'identical' if same_enrolled else 'DIFFERS'}; "
              f"{len(ref['probes']) - len(differ)} of {len(ref['probes'])} probe outcomes identical"
              + (f" (differ: {differ[:5]})" if differ else "")
              + f"; largest distance difference {max(dd):.2e}, margin difference {max(dm):.2e}")
    near_t = min(abs(v[3] - rc.threshold) for v in ref["probes"].values() if v[3] is not None)
    near_m = min(abs(v[4] - rc.margin) for v in ref["probes"].values()
                 if v[4] is not None and np.isfinite(v[4]) and v[3] <= rc.threshold)
    print(f"  closest call (dlib): a distance {near_t:.2e} from the threshold, a margin {near_m:.2e} from "
          f"the margin rule")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
