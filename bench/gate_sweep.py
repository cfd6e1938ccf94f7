#!/usr/bin/env python3
"""The quality gates on the clips: faces scaled down, darkened and blurred on purpose.

    python bench/gate_sweep.py [--videos ../shared/videos] [--lfw ../shared/lfw-dev] [--frames 20]
                               [--jobs 1] [--cpu] [--no-lfw]

Run from the repository root. Not a test: it prints tables. The real clips' frames (scaled to the
camera's 640 px, as bench/visit.py plays them) are degraded in steps and run through the kiosk's
own camera path (FaceAnalyzer: detection at `detect_width`, then at `far_detect_width` when no
face was found; landmarks; encoder) with every gate open, then matched with the kiosk's own
Gallery, threshold and margin against:

* the clip people, each enrolled from 3 frames of another session (man A) or of the last part of
  the same clip (the others; the probes come from before that part), and man M (darker skin) from
  every third of his real crops (`videos/attacks/person-m-real-crops`, the others are probes);
* with lfw-dev (unless --no-lfw): also every lfw-dev person (2,879) enrolled as other employees
  (bench/lfw_gallery.py; cached in .cache/).

Each encoded probe gives a mated result (hit, wrong person, or miss) and a non-mated one (matched
with its own person left out of the gallery: identified as anyone = false match). Degradations:

* scale: the frame shrunk and centred on a canvas of its mean colour (the person further back);
* exposure: darker by 1-6 stops in linear light, with sensor noise (a dim lobby, a short
  exposure); gamma: grey levels raised to a power (a camera curve crushing the shadows);
* blur: Gaussian, sigma in pixels of the 640 px frame;
* second face: another person's face pasted beside, at a share of the face's width (live frames:
  is the chosen face still the right one; enrollment: what `background_face_ratio` refuses).

Printed: per degradation step the faces found, what the shipped gates encode and what that
gives (totals, then per person); per gate and value (each alone, over every degraded probe)
refused, hits lost, wrong persons and false matches removed; the second-face sweep; and with
--cpu, the detection cost of the `far_detect_width` fallback (median per frame).
Probe encodings are cached in .cache/gate-sweep.pkl (keyed by the frames and settings).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("KIOSK_OVERRIDE", os.devnull)

# person -> (probe clip, share of it the probes come from, template clip, shares of it)
PEOPLE = {
    "A": ("person-a_cap12.mp4", (0.0, 1.0), "person-a_capture4.mp4", (0.3, 0.6, 0.9)),
    "I": ("person-i_testvideo.avi", (0.0, 0.55), "person-i_testvideo.avi", (0.6, 0.8, 0.95)),
    "d3": ("liveportrait_d3.mp4", (0.0, 0.8), "liveportrait_d3.mp4", (0.85, 0.9, 0.95)),
    "d9": ("liveportrait_d9.mp4", (0.0, 0.8), "liveportrait_d9.mp4", (0.85, 0.9, 0.95)),
    "d18": ("liveportrait_d18.mp4", (0.0, 0.8), "liveportrait_d18.mp4", (0.85, 0.9, 0.95)),
}
M_CROPS = Path("attacks") / "person-m-real-crops"
STEPS = {
    "scale": [1.0, 0.75, 0.5, 0.4, 0.33, 0.28, 0.24, 0.2],
    "exposure": [1, 2, 3, 4, 5, 6, 7],
    "gamma": [1.5, 2.0, 3.0, 4.0, 6.0],
    "blur": [1, 2, 4, 6, 8, 10, 12],
}
SECOND_FACE = [0.3, 0.5, 0.7, 0.85, 1.0]
SECOND_BASE = 0.5  # the frame is first shrunk by this, so that two faces fit side by side
ENROLL_RATIOS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
NOISE = 2.0  # sensor noise (grey levels, sigma) added to darkened frames
CACHE_VERSION = "gate-sweep-2"


# --- the frames ---------------------------------------------------------------------------------

def m_frame(path: Path) -> np.ndarray:
    """One of M's tight crops (about 180x250) enlarged 1.5x and centred on a 640x480 canvas of its
    mean colour: a frame with a face about as wide as the clips' (they touch the crop's edge)."""
    import cv2

    from kiosk.imageio import load_rgb

    rgb = load_rgb(path)
    rgb = cv2.resize(rgb, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    return place(rgb, (480, 640))


def place(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`img` centred on a canvas of `shape` filled with its mean colour."""
    h, w = shape
    out = np.empty((h, w, 3), np.uint8)
    out[:] = img.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    ih, iw = img.shape[:2]
    t, l = (h - ih) // 2, (w - iw) // 2
    out[t:t + ih, l:l + iw] = img
    return out


def people_frames(videos: Path, count: int) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """(probe frames, template frames) per person."""
    from visit import read_clip

    probes, templates, clips = {}, {}, {}
    for p, (clip, (lo, hi), tclip, where) in PEOPLE.items():
        for c in (clip, tclip):
            if c not in clips:
                clips[c] = read_clip(videos / c)[0]
        fr = clips[clip]
        idx = np.linspace(lo * (len(fr) - 1), hi * (len(fr) - 1), count).round().astype(int)
        probes[p] = [fr[i] for i in idx]
        tf = clips[tclip]
        templates[p] = [tf[min(len(tf) - 1, int(f * len(tf)))] for f in where]
    crops = sorted((videos / M_CROPS).glob("*.png"), key=lambda f: int(f.stem) if f.stem.isdigit() else 0)
    if crops:
        templates["M"] = [m_frame(f) for f in crops[::3]]
        probes["M"] = [m_frame(f) for i, f in enumerate(crops) if i % 3][:count]
    return probes, templates


def degrade(img: np.ndarray, kind: str, v: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    from kiosk.camera.fake import linear_to_srgb8, srgb_to_linear

    if kind == "scale":
        if v == 1.0:
            return img
        small = cv2.resize(img, None, fx=v, fy=v, interpolation=cv2.INTER_AREA)
        return place(small, img.shape[:2])
    if kind == "exposure":
        dark = srgb_to_linear(img) * 2.0 ** -v
        out = linear_to_srgb8(dark).astype(np.float32) + rng.normal(0, NOISE, img.shape)
        return np.clip(out, 0, 255).round().astype(np.uint8)
    if kind == "gamma":
        return (255.0 * (img / 255.0) ** v).round().astype(np.uint8)
    if kind == "blur":
        return cv2.GaussianBlur(img, (0, 0), v)
    raise ValueError(kind)


def with_second_face(img: np.ndarray, box, other: np.ndarray, obox, ratio: float) -> np.ndarray | None:
    """`img` with `other`'s face (its box with a margin) scaled to `ratio` of `box`'s width and
    pasted beside the face, on the side with more room, its top at the face's top; None when it
    does not fit without covering the face."""
    import cv2

    pad = 0.15
    l, t = max(0, int(obox.left - pad * obox.width)), max(0, int(obox.top - pad * obox.height))
    r = min(other.shape[1], int(obox.right + pad * obox.width))
    b = min(other.shape[0], int(obox.bottom + pad * obox.height))
    f = ratio * box.width / obox.width
    patch = cv2.resize(other[t:b, l:r], None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    out = img.copy()
    h, w = out.shape[:2]
    ph, pw = patch.shape[:2]
    ph, pw = min(ph, h), min(pw, w)
    right_room, left_room = w - box.right, box.left
    if max(right_room, left_room) < pw + 4:
        return None
    x = box.right + 4 if right_room >= left_room else box.left - 4 - pw
    y = min(max(0, box.top - int(pad * ratio * box.height)), h - ph)
    out[y:y + ph, x:x + pw] = patch[:ph, :pw]
    return out


# --- analysis -----------------------------------------------------------------------------------

@dataclass
class Probe:
    person: str
    kind: str
    value: float
    found: bool = False
    far: bool = False  # found only at far_detect_width
    face_px: int = 0
    shipped: str | None = "no_face"  # the shipped gates' refusal (None: encoded)
    quality: dict | None = None
    encoding: np.ndarray | None = None
    chosen_other: bool = False  # second face: the chosen face was the pasted one
    enroll: dict = field(default_factory=dict)  # second face: background_face_ratio -> reason or chosen face


def analyse(models, rc, img: np.ndarray, person: str, kind: str, value: float) -> tuple[Probe, object]:
    """The camera path of FaceAnalyzer.detect (detect_width, then far_detect_width when nothing
    was found), recorded step by step, then landmarks, the shipped gates and (gates open) the
    encoder."""
    from kiosk.recognition.pipeline import Analysis, choose_face
    from kiosk.recognition.quality import assess

    out = Probe(person, kind, value)
    faces = models.detect(img, rc.detect_width, rc.upsample)
    if not faces and rc.far_detect_width > rc.detect_width:
        faces = models.detect(img, rc.far_detect_width, rc.upsample)
        out.far = bool(faces)
    a = Analysis(faces=faces)
    a.face = choose_face(faces, img.shape[1], img.shape[0])
    if a.face is None:
        return out, a
    out.found, out.face_px = True, a.face.width
    a.landmarks = models.shape68(img, a.face)
    q = assess(img, a.face, a.landmarks, rc)
    out.shipped, out.quality = q.reason, q.as_dict()
    if q.reason != "partial":
        out.encoding = models.encode(img, a.face, rc.mirror)
    return out, a


def run_probes(models, rc, probes: dict[str, list[np.ndarray]], seed: int) -> list[Probe]:
    rng = np.random.default_rng(seed)
    out = []
    persons = list(probes)
    first_box = {}
    t0 = time.monotonic()
    for kind, values in STEPS.items():
        for v in values:
            for p in persons:
                for i, img in enumerate(probes[p]):
                    pr, a = analyse(models, rc, degrade(img, kind, v, rng), p, kind, v)
                    out.append(pr)
                    if kind == "scale" and v == 1.0 and a.face is not None:
                        first_box[(p, i)] = a.face
            print(f"  {kind} {v:g}: {len(out)} probes, {time.monotonic() - t0:.0f} s", file=sys.stderr)
    # second face: each probe, shrunk by SECOND_BASE, with the next person's face of the same
    # index pasted beside it
    from kiosk.recognition.faces import Box
    from kiosk.recognition.pipeline import FaceAnalyzer, others_smaller

    photo = FaceAnalyzer(rc, models)
    for ratio in SECOND_FACE:
        for k, p in enumerate(persons):
            q = persons[(k + 1) % len(persons)]
            for i, img in enumerate(probes[p]):
                box, obox = first_box.get((p, i)), first_box.get((q, i % len(probes[q])))
                if box is None or obox is None:
                    continue
                base = degrade(img, "scale", SECOND_BASE, rng)
                h, w = img.shape[:2]
                t, l = (h - round(h * SECOND_BASE)) // 2, (w - round(w * SECOND_BASE)) // 2
                sbox = Box(*(round(c * SECOND_BASE) + o for c, o in zip(box.as_list(), (l, t, l, t))))
                comp = with_second_face(base, sbox, probes[q][i % len(probes[q])], obox, ratio)
                if comp is None:
                    continue
                pr, a = analyse(models, rc, comp, p, "second face", ratio)
                pr.chosen_other = a.face is not None and a.face.iou(sbox) < 0.3
                # enrollment: FaceAnalyzer.analyze(single=True) at each background_face_ratio
                # (the detection is the same for every ratio; only the several-faces rule differs)
                e = photo.analyze(comp)
                for bfr in ENROLL_RATIOS:
                    pr.enroll[bfr] = ("several_faces" if e.face is not None and len(e.faces) > 1
                                      and not others_smaller(e.face, e.faces, bfr) else
                                      e.reason if e.encoding is None else
                                      "own face" if e.face.iou(sbox) >= 0.3 else "other face")
                out.append(pr)
        print(f"  second face {ratio:g}: {len(out)} probes, {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return out


# --- matching -----------------------------------------------------------------------------------

def outcomes(g, rc, pr: Probe) -> tuple[str, bool]:
    """(mated result: hit / wrong / miss, non-mated: identified as anyone) of an encoded probe."""
    m = g.match(pr.encoding)
    mated = ("miss" if not m.accepted(rc.threshold, rc.margin) else
             "hit" if m.employee_id == pr.person else "wrong")
    n = g.match(pr.encoding, exclude=pr.person)
    return mated, n.accepted(rc.threshold, rc.margin)


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f}" if d else "-"


def level_tables(probes: list[Probe], res: dict, gname: str) -> None:
    from lfw_protocol import table

    rows, per_person = [], {}
    persons = sorted({p.person for p in probes}, key=lambda x: list(PEOPLE).index(x) if x in PEOPLE else 99)
    for kind in list(STEPS) + ["second face"]:
        values = STEPS.get(kind, SECOND_FACE)
        for v in values:
            grp = [p for p in probes if p.kind == kind and p.value == v]
            if not grp:
                continue
            enc = [p for p in grp if p.encoding is not None]
            shipped = [p for p in enc if p.shipped is None]
            r = lambda ps, what: sum(1 for p in ps if res[id(p)][0] == what)  # noqa: E731
            fm = lambda ps: sum(1 for p in ps if res[id(p)][1])  # noqa: E731
            reasons = {}
            for p in grp:
                if p.shipped is not None:
                    reasons[p.shipped] = reasons.get(p.shipped, 0) + 1
            px = [p.face_px for p in grp if p.found]
            rows.append([kind, f"{v:g}", len(grp), f"{statistics.median(px):.0f}" if px else "-",
                         pct(len(px), len(grp)), pct(sum(p.far for p in grp), len(grp)),
                         pct(len(shipped), len(grp)), pct(r(shipped, "hit"), len(grp)), pct(r(enc, "hit"), len(grp)),
                         f"{r(shipped, 'wrong')} / {r(enc, 'wrong')}", f"{fm(shipped)} / {fm(enc)}",
                         ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "-"])
            for person in persons:
                pg = [p for p in grp if p.person == person]
                pe = [p for p in pg if p.encoding is not None]
                ps = [p for p in pe if p.shipped is None]
                cell = f"{pct(r(ps, 'hit'), len(pg))} ({pct(r(pe, 'hit'), len(pg))})"
                bad = r(ps, "wrong") + fm(ps)
                if bad:
                    cell += f" !{bad}"
                per_person.setdefault((kind, f"{v:g}"), []).append(cell)
    print(f"\nPer degradation step, gallery: {gname}. 'found' by detection (far: only at far_detect_width); "
          "'encoded' passed the shipped gates; 'hit' = the right person at the default point, with the shipped "
          "gates / with every gate open; wrong person and false matches (the person left out of the gallery) "
          "shipped / open:")
    print(table(rows, ["degradation", "step", "probes", "median face px", "found %", "far %", "encoded %",
                       "hit % shipped", "hit % open", "wrong person", "false matches", "shipped gates refused"]))
    print(f"\nPer person (gallery: {gname}): hit % with the shipped gates (with every gate open); "
          "'!n' = n wrong-person or false matches with the shipped gates:")
    print(table([[k, v, *cells] for (k, v), cells in per_person.items()], ["degradation", "step", *persons]))


def gate_table(probes: list[Probe], res: dict, gname: str) -> None:
    """Each gate alone at each value, over every degraded probe encoded with the gates open."""
    from lfw_protocol import GATES, table

    from kiosk.config import load_config

    rc = load_config(None, override=Path(os.devnull)).recognition
    enc = [p for p in probes if p.encoding is not None and p.kind != "second face"]
    rows = []
    for key, measure, below, values in GATES:
        shipped = getattr(rc, key)
        for v in sorted(set(values) | {shipped}, reverse=not below):
            out = [p for p in enc if (measure(p.quality) < v if below else measure(p.quality) > v)]
            by_kind = {}
            for p in out:
                by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
            rows.append([key, f"{v:g}" + (" *" if v == shipped else ""), len(out),
                         sum(res[id(p)][0] == "hit" for p in out), sum(res[id(p)][0] == "miss" for p in out),
                         sum(res[id(p)][0] == "wrong" for p in out), sum(res[id(p)][1] for p in out),
                         ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1])) or "-"])
    far = [p for p in probes if p.far and p.encoding is not None]
    rows.append(["far_detect_width", "0 (off)", len(far), sum(res[id(p)][0] == "hit" for p in far),
                 sum(res[id(p)][0] == "miss" for p in far), sum(res[id(p)][0] == "wrong" for p in far),
                 sum(res[id(p)][1] for p in far), "faces found only at 640 (not found at all with it off)"])
    print(f"\nEach gate alone (gallery: {gname}; * = shipped), over the {len(enc)} degraded probes encoded with "
          "every gate open: what it refuses, and what those probes gave without it:")
    print(table(rows, ["gate", "value", "refused", "hits lost", "misses anyway", "wrong person removed",
                       "false matches removed", "refused from"]))
    # per person (skin tone: M is the darker-skinned person), at the shipped value and the next looser one
    persons = sorted({p.person for p in enc}, key=lambda x: list(PEOPLE).index(x) if x in PEOPLE else 99)
    rows = []
    for key, measure, below, values in GATES:
        shipped = getattr(rc, key)
        looser = [v for v in values if (v < shipped if below else v > shipped)]
        for v in [shipped] + ([max(looser)] if below and looser else [min(looser)] if looser else []):
            cells = []
            for person in persons:
                out = [p for p in enc if p.person == person and (measure(p.quality) < v if below else measure(p.quality) > v)]
                cells.append(f"{len(out)} / {sum(res[id(p)][0] == 'hit' for p in out)} / "
                             f"{sum(res[id(p)][0] == 'wrong' or res[id(p)][1] for p in out)}")
            rows.append([key, f"{v:g}" + (" *" if v == shipped else ""), *cells])
    print(f"\nPer person (gallery: {gname}): refused / of them hits lost / wrong persons and false matches removed:")
    print(table(rows, ["gate", "value", *persons]))


def second_face_table(probes: list[Probe], res: dict) -> None:
    from lfw_protocol import table

    sf = [p for p in probes if p.kind == "second face"]
    if not sf:
        return
    rows = []
    for ratio in SECOND_FACE:
        grp = [p for p in sf if p.value == ratio]
        enc = [p for p in grp if p.encoding is not None and p.shipped is None]
        cells = []
        for bfr in sorted(grp[0].enroll):
            reasons = [p.enroll[bfr] for p in grp]
            cells.append(f"{reasons.count('own face')}/{reasons.count('several_faces')}/{reasons.count('other face')}")
        rows.append([f"{ratio:g}", len(grp), sum(p.chosen_other for p in grp),
                     sum(res[id(p)][0] == "hit" for p in enc), sum(res[id(p)][0] == "wrong" for p in enc), *cells])
    head = ["other face / own width", "frames", "live: other face chosen", "live: hits", "live: wrong person"]
    head += [f"enroll at ratio {b:g}: own / refused / other" for b in sorted(sf[0].enroll)]
    print("\nSecond face pasted beside the face (gallery: clip people): the live camera path (the chosen face, "
          "hit / wrong person with the shipped gates), and enrollment at each background_face_ratio "
          "(enrolled from the own face / refused several_faces / enrolled from the other face):")
    print(table(rows, head))


# --- the far detection's cost -------------------------------------------------------------------

def cpu_table(models, rc, probes: dict[str, list[np.ndarray]], repeats: int) -> None:
    """Median detection time per frame: detect_width alone, and FaceAnalyzer.detect (with the
    far_detect_width fallback), on frames with a near face, a far face (scale 0.3: mostly not found
    at 320) and no face (the frame turned upside down: a real scene HOG finds no face in)."""
    from lfw_protocol import table

    from kiosk.recognition.pipeline import FaceAnalyzer

    rng = np.random.default_rng(0)
    an = FaceAnalyzer(rc, models)
    sets = {"near face (scale 1)": [], "far face (scale 0.3)": [], "no face (frame upside down)": []}
    for p, frames in probes.items():
        for img in frames[::4]:
            sets["near face (scale 1)"].append(img)
            sets["far face (scale 0.3)"].append(degrade(img, "scale", 0.3, rng))
            sets["no face (frame upside down)"].append(np.ascontiguousarray(img[::-1, ::-1]))
    rows = []
    for name, frames in sets.items():
        t_near, t_both, found = [], [], 0
        for _ in range(repeats):
            for img in frames:  # interleaved, so load changes hit both alike
                t = time.perf_counter()
                models.detect(img, rc.detect_width, rc.upsample)
                t_near.append(time.perf_counter() - t)
                t = time.perf_counter()
                a = an.detect(img)
                t_both.append(time.perf_counter() - t)
                found += a.face is not None
        a_ms, b_ms = 1000 * statistics.median(t_near), 1000 * statistics.median(t_both)
        rows.append([name, len(frames), f"{a_ms:.1f}", f"{b_ms:.1f}", f"{b_ms / a_ms:.2f}x",
                     pct(found, len(frames) * repeats)])
    print(f"\nDetection cost per frame (640 px frames, {repeats} interleaved passes, median ms; "
          f"{rc.detect_width} alone vs {rc.detect_width} then {rc.far_detect_width} when nothing was found):")
    print(table(rows, ["frames", "count", f"{rc.detect_width} ms", f"{rc.detect_width}+{rc.far_detect_width} ms",
                       "ratio", "found % (with fallback)"]))


# --- main ---------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--no-lfw", action="store_true", help="only the clip people in the gallery")
    ap.add_argument("--frames", type=int, default=16, help="probe frames per person")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--jobs", type=int, default=1, help="processes for the lfw-dev enrollment (cached)")
    ap.add_argument("--cpu", action="store_true", help="also measure the far_detect_width fallback's cost")
    ap.add_argument("--cpu-repeats", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "gate-sweep.pkl")
    args = ap.parse_args(argv)
    from kiosk.config import load_config
    from kiosk.recognition.faces import models as face_models
    from kiosk.recognition.gallery import Gallery, gallery_options
    from kiosk_models import ENCODER_VERSION

    cfg = load_config(None, override=Path(os.devnull))
    rc = cfg.recognition
    models = face_models(rc.encoder, rc.encoder_threads)
    models.load_all()
    probes_img, templates = people_frames(args.videos, args.frames)
    key = hashlib.sha256(repr((CACHE_VERSION, ENCODER_VERSION, sorted(vars(rc).items()), STEPS, SECOND_FACE, NOISE,
                               args.frames, args.seed, str(args.videos))).encode()).hexdigest()
    probes = None
    if args.cache.exists():
        with open(args.cache, "rb") as f:
            cached = pickle.load(f)
        probes = cached["probes"] if cached.get("key") == key else None
    t0 = time.monotonic()
    if probes is None:
        probes = run_probes(models, rc, probes_img, args.seed)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.cache.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"key": key, "probes": probes}, f)
        os.replace(tmp, args.cache)
    from kiosk.recognition.pipeline import FaceAnalyzer

    photo = FaceAnalyzer(rc, models)
    enc, ids = [], []
    for p, frames in templates.items():
        for img in frames:
            a = photo.analyze(img, single=True, others_ratio=cfg.enroll.background_face_ratio,
                              template=True)
            if a.encoding is not None:
                enc.append(a.encoding)
                ids.append(p)
    print(f"bench/gate_sweep.py: {len(probes)} probes in {time.monotonic() - t0:.0f} s "
          f"(cache {args.cache.name}); people {', '.join(f'{p} {ids.count(p)} templates' for p in templates)}; "
          f"shipped gates min_eye_px {rc.min_eye_px:g}, max_shadows {rc.max_shadows:g}, max_highlights "
          f"{rc.max_highlights:g}, min_contrast "
          f"{rc.min_contrast:g}, min_sharpness {rc.min_sharpness:g}, max_yaw {rc.max_yaw:g}, max_roll_deg "
          f"{rc.max_roll_deg:g}; threshold {rc.threshold:g}, margin {rc.margin:g}, neighbour_weight "
          f"{rc.neighbour_weight:g}, crowd_weight {rc.crowd_weight:g}")
    galleries = {"clip people": Gallery(np.array(enc), ids, **gallery_options(rc))}
    if not args.no_lfw:
        from lfw_gallery import lfw_gallery

        lenc, lids = lfw_gallery(args.lfw, rc, cfg.enroll.background_face_ratio, jobs=args.jobs,
                                 log=lambda s: print(s, file=sys.stderr))
        name = f"clip people + {len(set(lids))} lfw-dev people"
        galleries[name] = Gallery(np.concatenate([np.array(enc), lenc]), ids + lids, **gallery_options(rc))
    for gname, g in galleries.items():
        res = {id(p): outcomes(g, rc, p) for p in probes if p.encoding is not None}
        level_tables(probes, res, gname)
        gate_table(probes, res, gname)
        if gname == "clip people":
            second_face_table(probes, res)
    if args.cpu:
        cpu_table(models, rc, probes_img, args.cpu_repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
