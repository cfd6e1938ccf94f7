#!/usr/bin/env python3
"""Faces darkened in steps: how many the shipped gates encode, against the old mean-grey gate.

    python bench/light.py [--lfw ../shared/lfw-dev] [--m ../shared/videos/attacks/person-m-real-crops]
                          [--sample 150] [--seed 19] [--set max_shadows=0.6 ...]

Run from the repository root. Not a test: it prints a table. Each photo is darkened by 0-6 stops
in linear light (as a camera exposing too little; kiosk/camera/fake.py) and analysed as a still
photo with the shipped [recognition] defaults. Per step and group:

* encoded %: the share with a face that every gate passed;
* old gate %: the share whose face box had a mean grey level >= 45 (the former `min_brightness`;
  its other gates are not applied);
* distance: median distance of the encoded faces to the same person's templates made from the
  undarkened photos (lfw-dev: the person's other photos; M: his other crops), so a face that is
  encoded but no longer recognisable shows as a rising distance;
* close to someone else: the encoded faces within `threshold` of another person's templates (the
  other sampled lfw-dev people and M; a false-match risk, raw distance, no gallery rules).

`--set KEY=VALUE` changes a [recognition] setting for the run (e.g. a gate's value), so two runs
compare a gate at two values on the same photos.

Groups: the real darker-skinned man M (person-m-real-crops), and a sample of lfw-dev gallery
photos split into thirds by the inner face's median grey level in the original photo (a mix of
skin tone and of the photo's own light: lfw-dev has no skin-tone labels).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STOPS = [0, 1, 2, 3, 4, 5, 6]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "lfw-dev")
    ap.add_argument("--m", type=Path, default=ROOT.parent / "shared" / "videos" / "attacks" / "person-m-real-crops")
    ap.add_argument("--sample", type=int, default=150, help="lfw-dev probe photos")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a [recognition] setting for this run (repeatable)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from kiosk.camera.fake import linear_to_srgb8, srgb_to_linear
    from kiosk.config import load_config
    from kiosk.imageio import load_rgb
    from kiosk.recognition.faces import to_grey
    from kiosk.recognition.pipeline import FaceAnalyzer

    sys.path.insert(0, str(ROOT / "bench"))
    from lfw_protocol import table

    rc = load_config(None, override=Path("/dev/null")).recognition
    for kv in args.set:
        key, _, value = kv.partition("=")
        if not hasattr(rc, key):
            raise SystemExit(f"--set {kv}: [recognition] has no setting {key!r}")
        setattr(rc, key, type(getattr(rc, key))(value))
    an = FaceAnalyzer(rc)

    def load(f):
        """lfw-dev photos as they are; M's tight crops padded by half their size on each side with
        their mean colour (they touch the edge: 'partial' otherwise; videos/README.md)."""
        rgb = load_rgb(f)
        if f.suffix != ".png":
            return rgb
        import cv2

        h, w = rgb.shape[:2]
        return cv2.copyMakeBorder(rgb, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT,
                                  value=[int(c) for c in rgb.reshape(-1, 3).mean(axis=0)])

    def darker(rgb, stops):
        return rgb if stops == 0 else linear_to_srgb8(srgb_to_linear(rgb) * 2.0 ** -stops)

    # probes: (group, person, photo) and each person's templates from undarkened other photos
    images = args.lfw / "images"
    people = {p.name: sorted(p.glob("*.jpg")) for p in sorted(images.iterdir()) if p.is_dir()}
    gal = [p for p, v in people.items() if len(v) >= 4]
    rnd = random.Random(args.seed)
    chosen = rnd.sample(gal, min(args.sample, len(gal)))
    probes = [("lfw", p, people[p][-1]) for p in chosen]
    templates: dict[str, list[np.ndarray]] = {}
    for p in chosen:
        for f in people[p][:3]:
            a = an.analyze(load(f))
            if a.encoding is not None:
                templates.setdefault(p, []).append(a.encoding)
    m_photos = sorted(args.m.glob("*.png"), key=lambda f: int(f.stem) if f.stem.isdigit() else 0)
    for f in m_photos[::3]:
        a = an.analyze(load(f))
        if a.encoding is not None:
            templates.setdefault("M", []).append(a.encoding)
    probes += [("M", "M", f) for i, f in enumerate(m_photos) if i % 3]
    # the lfw probes' original light decides their third
    medians = {}
    for g, p, f in probes:
        if g == "lfw":
            a = an.analyze(load(f))
            medians[f] = a.quality.median if a.quality is not None else None
    known = sorted(v for v in medians.values() if v is not None)
    cut = [known[len(known) // 3], known[2 * len(known) // 3]] if known else [0, 0]
    label = {}
    for g, p, f in probes:
        if g == "M":
            label[f] = f"M (real, darker skin; {len(m_photos) - len(m_photos[::3])} crops)"
        else:
            m = medians[f]
            label[f] = ("lfw no face at all" if m is None else
                        f"lfw darkest third (median grey < {cut[0]:.0f})" if m < cut[0] else
                        f"lfw middle third" if m < cut[1] else f"lfw brightest third (>= {cut[1]:.0f})")
    rows: dict[tuple[str, int], list] = {}
    for g, p, f in probes:
        rgb0 = load(f)
        for s in STOPS:
            rgb = darker(rgb0, s)
            a = an.analyze(rgb)
            old_ok = False
            if a.face is not None:
                b = a.face
                crop = to_grey(rgb)[max(0, b.top):b.bottom, max(0, b.left):b.right]
                old_ok = crop.size > 0 and crop.mean() >= 45
            d, other = None, None
            if a.encoding is not None and p in templates:
                d = float(np.min(np.linalg.norm(np.stack(templates[p]) - a.encoding, axis=1)))
                other = min(float(np.min(np.linalg.norm(np.stack(t) - a.encoding, axis=1)))
                            for q, t in templates.items() if q != p)
            rows.setdefault((label[f], s), []).append((a.encoding is not None, old_ok, d, a.reason,
                                                       a.quality.median if a.quality is not None else None,
                                                       other))
    print(f"bench/light.py: {len(probes)} probes; gates max_shadows {rc.max_shadows}, max_highlights {rc.max_highlights}, "
          f"min_contrast {rc.min_contrast}, min_sharpness {rc.min_sharpness}, min_eye_px {rc.min_eye_px}\n")
    head = ["group", "darkened (stops)", "photos", "median grey", "encoded %", "old gate (mean >= 45) %",
            "median distance to own templates", "recognised (<= threshold) %", "close to someone else",
            "refusals"]
    out = []
    for (grp, s), r in sorted(rows.items()):
        enc = [x for x in r if x[0]]
        ds = [x[2] for x in enc if x[2] is not None]
        meds = [x[4] for x in r if x[4] is not None]
        reasons = {}
        for x in r:
            if not x[0]:
                reasons[x[3]] = reasons.get(x[3], 0) + 1
        out.append([grp, s, len(r), f"{np.median(meds):.0f}" if meds else "-", f"{100 * len(enc) / len(r):.0f}",
                    f"{100 * sum(x[1] for x in r) / len(r):.0f}", f"{np.median(ds):.3f}" if ds else "-",
                    f"{100 * sum(1 for d in ds if d <= rc.threshold) / len(r):.0f}",
                    sum(1 for x in enc if x[5] is not None and x[5] <= rc.threshold),
                    ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "-"])
    print(table(out, head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
