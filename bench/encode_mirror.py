#!/usr/bin/env python3
"""What `[recognition] mirror` and `template_jitter` cost per face: the descriptor of the face
chip alone against the mean of the chip's and its mirror image's (one batch of two: every face at
the camera), and against an enrollment template (the chip and `--jitter` re-cuts, each with its
mirror, in one batch), interleaved in one process on one thread, on the registry photos in
../shared/faces.

Not a test: it prints a table (median, ratio against the chip alone measured in the same run).
Usage: python bench/encode_mirror.py [--faces ../shared/faces] [--encoder onnxruntime] [--runs 15] [--jitter 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--encoder", default="onnxruntime")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--jitter", type=int, default=8, help="re-cuts of an enrollment template (template_jitter)")
    args = ap.parse_args()
    import face_recognition

    from kiosk.recognition.faces import FaceModels

    m = FaceModels(args.encoder, 1)
    faces = []
    for p in sorted(args.faces.rglob("*.jp*g"))[: args.photos * 3]:
        img = face_recognition.load_image_file(p)
        boxes = m.detect(img, detect_width=640)
        if boxes:
            faces.append((img, boxes[0]))
        if len(faces) == args.photos:
            break
    if not faces:
        print(f"no faces found under {args.faces}", file=sys.stderr)
        return 1
    plain, mirrored, template = [], [], []
    for _ in range(args.runs):
        for img, box in faces:
            t = time.perf_counter()
            m.encode(img, box, False)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            m.encode(img, box, True)
            mirrored.append(time.perf_counter() - t)
            t = time.perf_counter()
            m.encode(img, box, True, args.jitter)
            template.append(time.perf_counter() - t)
    a, b, c = (statistics.median(x) * 1e3 for x in (plain, mirrored, template))
    print(f"{len(faces)} faces x {args.runs} runs, encoder {m.encoder.name if hasattr(m.encoder, 'name') else args.encoder}, 1 thread")
    print(f"{'encode':<24}{'median ms':>10}{'ratio':>8}")
    print(f"{'chip alone':<24}{a:>10.1f}{1:>8.2f}")
    print(f"{'chip + mirror (mean)':<24}{b:>10.1f}{b / a:>8.2f}")
    print(f"{f'template, jitter {args.jitter}':<24}{c:>10.1f}{c / a:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
