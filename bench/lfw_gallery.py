"""lfw-dev's people as a large gallery of other employees, for the clip benchmarks (cached).

Every lfw-dev person (2,879) is enrolled from up to 3 photos in file-name order (when one is
refused, the next one), each photo through `kiosk enroll`'s own per-photo analysis
(enroll.batch.analyse_photo: `FaceAnalyzer.analyze(single=True)` with the shipped gates and
`[enroll] background_face_ratio`). `kiosk enroll`'s duplicate-face check between people is not
applied (a news photo set holds no two employees with one face). The templates are cached in
`.cache/lfw-gallery.npz`, keyed by the photos and the settings that change an encoding; the
first run takes a few minutes on 2 cores.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "lfw-gallery.npz"
PER_PERSON = 3


def _key(people: dict[str, list[Path]], rc, others_ratio: float) -> str:
    from kiosk_models import ENCODER_VERSION

    settings = {k: getattr(rc, k) for k in ("encoder", "mirror", "photo_detect_width", "upsample", "min_eye_px",
                                            "max_shadows", "max_highlights", "min_contrast", "min_sharpness", "max_yaw",
                                            "max_roll_deg", "template_jitter")}
    h = hashlib.sha256(json.dumps([ENCODER_VERSION, settings, others_ratio, PER_PERSON], sort_keys=True,
                                  default=str).encode())
    for name, paths in people.items():
        h.update(name.encode())
        for p in paths:
            h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()


def lfw_gallery(lfw: Path, rc, others_ratio: float, jobs: int = 1, cache: Path = CACHE,
                log=print) -> tuple[np.ndarray, list[str]]:
    """(templates (N, 128) float32, their person ids "lfw:<Name>") of every lfw-dev person."""
    from enroll.batch import _init_worker, analyse_photo

    images = lfw / "images"
    if not images.is_dir():
        raise SystemExit(f"{images}: not found (expected lfw-dev/images/<Name>/<Name>_NNNN.jpg)")
    people = {p.name: sorted(p.glob("*.jpg")) for p in sorted(images.iterdir()) if p.is_dir()}
    key = _key(people, rc, others_ratio)
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            return z["enc"], [str(x) for x in z["ids"]]
        log(f"{cache}: made with other photos or settings, enrolling again")
    rc_values = dict(vars(rc))
    if jobs > 1:
        rc_values["encoder_threads"] = 1
    got: dict[str, list[np.ndarray]] = {p: [] for p in people}
    nxt = {p: 0 for p in people}
    pool = (ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_init_worker,
                                initargs=(rc_values, others_ratio)) if jobs > 1 else None)
    if pool is None:
        _init_worker(rc_values, others_ratio)
    try:
        while True:  # rounds: each person's next photos until PER_PERSON accepted or none left
            batch = []
            for p, paths in people.items():
                want = PER_PERSON - len(got[p])
                batch += [(p, str(f)) for f in paths[nxt[p]:nxt[p] + want]] if want > 0 else []
                nxt[p] += max(0, want)
            if not batch:
                break
            log(f"lfw-dev gallery: analysing {len(batch)} photos")
            results = pool.map(analyse_photo, batch, chunksize=8) if pool else map(analyse_photo, batch)
            for r in results:
                if r.encoding is not None:
                    got[r.nip].append(r.encoding)
    finally:
        if pool:
            pool.shutdown()
    ids = [f"lfw:{p}" for p, e in got.items() for _ in e]
    enc = np.array([x for e in got.values() for x in e], dtype=np.float32).reshape(-1, 128)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, key=key, enc=enc, ids=np.array(ids))
    os.replace(tmp, cache)
    return enc, ids
