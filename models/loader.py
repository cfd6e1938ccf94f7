"""Find and verify the model files listed in models/manifest.toml.

The files are not in this repository: they ship inside the ``face_recognition_models`` package.
Every start-up checks each file's sha256 against the manifest, so a truncated download, a
different package version or a tampered file stops the kiosk with a message that names the file,
instead of silently producing different templates.

``KIOSK_MODELS_DIR`` points the loader at another folder holding the same file names (tests use
it to simulate a missing or altered file; an offline image may use it too).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.toml")
# Stored with every template: templates from different encoders must never be compared.
ENCODER_VERSION = "dlib_resnet_v1"


class ModelError(RuntimeError):
    """A model file is missing, unreadable or not the one the manifest names."""


@dataclass(frozen=True)
class ModelFile:
    name: str
    file: str
    package: str
    sha256: str
    purpose: str
    path: Path


def _package_dir(package: str) -> Path:
    override = os.environ.get("KIOSK_MODELS_DIR")
    if override:
        return Path(override)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the Python package {package!r} that ships the model files is not installed "
            f"(pip install {package.replace('_', '-')}; see README.md, 'Install')"
        )
    return Path(list(spec.submodule_search_locations)[0])


def read_manifest(manifest: Path = MANIFEST) -> list[ModelFile]:
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    out = []
    for entry in data["model"]:
        base = _package_dir(entry["package"])
        rel = entry["file"]
        # With KIOSK_MODELS_DIR the files sit directly in that folder.
        path = base / (Path(rel).name if os.environ.get("KIOSK_MODELS_DIR") else rel)
        out.append(ModelFile(path=path, **entry))
    return out


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_models(manifest: Path = MANIFEST) -> list[ModelFile]:
    """Check every file in the manifest; raise ModelError naming the first bad one."""
    files = read_manifest(manifest)
    for m in files:
        if not m.path.is_file():
            raise ModelError(
                f"model file {m.name!r} is missing: expected {m.path} "
                f"(from package {m.package}; listed in {manifest})"
            )
        try:
            digest = sha256_of(m.path)
        except OSError as e:
            raise ModelError(f"model file {m.path} cannot be read: {e}") from e
        if digest != m.sha256:
            raise ModelError(
                f"model file {m.path} does not match {manifest}: sha256 is {digest}, "
                f"expected {m.sha256}. Reinstall {m.package} at the pinned version."
            )
    return files


@lru_cache(maxsize=None)
def _verified() -> dict[str, Path]:
    return {m.name: m.path for m in verify_models()}


def model_path(name: str) -> Path:
    """Path of a verified model file (verification runs once per process)."""
    try:
        return _verified()[name]
    except KeyError:
        raise ModelError(f"no model named {name!r} in {MANIFEST}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-hashes", action="store_true", help="print the files' current sha256")
    args = parser.parse_args()
    for m in read_manifest():
        if args.print_hashes:
            print(m.name, m.path, sha256_of(m.path) if m.path.exists() else "MISSING")
    if not args.print_hashes:
        for m in verify_models():
            print(f"ok {m.name} {m.path}")


if __name__ == "__main__":
    main()
