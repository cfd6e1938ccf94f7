#!/usr/bin/env python3
"""Fetch real face photos from package registries into a cache, for tests and the demo.

No photo is ever committed to this repository. These come from packages on PyPI, pinned, and
each extracted file is checked against its sha256:

* face_recognition 1.3.0 source distribution (MIT): tests/test_images/ -- Obama (obama.jpg,
  obama2.jpg, obama3.jpg, partial faces, 32bit.png with alpha) and Biden (biden.jpg);
* matplotlib 3.11.2 wheel: mpl-data/sample_data/grace_hopper.jpg (Grace Hopper);
* scikit-image 0.26.0 wheel: skimage/data/astronaut.png (Eileen Collins), camera.png (a
  greyscale photo of a cameraman), chelsea.png (a cat: no human face).

Usage: python scripts/fetch_faces.py [DEST]   (default: $KIOSK_FACES_CACHE or ~/.cache/kiosk-faces)
Prints the folder. Run again: files already present with the right hash are not re-fetched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

SOURCES = {
    # requirement, pip download flags, {member inside archive: sha256}
    "face_recognition==1.3.0": (["--no-binary", ":all:"], {
        "face_recognition-1.3.0/tests/test_images/obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
        "face_recognition-1.3.0/tests/test_images/obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
        "face_recognition-1.3.0/tests/test_images/obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
        "face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg": "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
        "face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg": "9a812347f97633542b8cd9992de22def11b74f79d82056bc3ee830f13878e028",
        "face_recognition-1.3.0/tests/test_images/32bit.png": "44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627",
        "face_recognition-1.3.0/tests/test_images/biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
    }),
    "matplotlib==3.11.2": (["--only-binary", ":all:"], {
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg": "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    }),
    "scikit-image==0.26.0": (["--only-binary", ":all:"], {
        "skimage/data/astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "skimage/data/camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "skimage/data/chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    }),
}


# 640x480 crops around the face, as a kiosk camera frames a person standing in front of it:
# straight (obama.jpg), turned to one side (obama3.jpg) and to the other (obama2.jpg).
KIOSK_FRAMES = {"1-straight.jpg": ("obama.jpg", (175, 20, 815, 500)),
                "2-side.jpg": ("obama3.jpg", (418, 174, 1138, 714)),
                "3-side.jpg": ("obama2.jpg", (0, 217, 626, 687))}


def kiosk_frames(faces: Path, folder: Path) -> Path:
    """Write KIOSK_FRAMES into `folder` (for a replayed camera)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for out, (name, box) in KIOSK_FRAMES.items():
        Image.open(faces / name).convert("RGB").crop(box).resize((640, 480)).save(folder / out, quality=92)
    return folder


def default_dest() -> Path:
    return Path(os.environ.get("KIOSK_FACES_CACHE") or Path.home() / ".cache" / "kiosk-faces")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _extract(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise FileNotFoundError(member)
        return f.read()


def fetch(dest: Path | None = None) -> Path:
    dest = Path(dest or default_dest())
    dest.mkdir(parents=True, exist_ok=True)
    for req, (flags, members) in SOURCES.items():
        missing = {m: h for m, h in members.items()
                   if not (dest / Path(m).name).exists() or _sha(dest / Path(m).name) != h}
        if not missing:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *flags, req,
                            "-d", tmp], check=True, stdout=subprocess.DEVNULL)
            (archive,) = Path(tmp).iterdir()
            for member, digest in missing.items():
                data = _extract(archive, member)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise RuntimeError(f"{req}: {member} does not have the expected sha256")
                out = dest / Path(member).name
                tmp_out = out.with_suffix(out.suffix + ".part")
                tmp_out.write_bytes(data)
                tmp_out.replace(out)
    return dest


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
