"""Camera sources: replay of folders and videos behaves like a camera (newest frame wins)."""

import time

import cv2
import numpy as np
import pytest

from kiosk.camera import CameraError, open_source
from kiosk.camera.replay import ReplaySource
from kiosk.imageio import load_rgb


@pytest.fixture
def clip(tmp_path, faces):
    """A short MJPG video of a real face moving slightly, 20 frames at 10 fps."""
    path = tmp_path / "clip.avi"
    img = cv2.resize(load_rgb(faces / "obama.jpg"), (640, 800))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(20):
        w.write(cv2.cvtColor(np.ascontiguousarray(img[60 + i * 4:540 + i * 4]), cv2.COLOR_RGB2BGR))
    w.release()
    return path


def test_video_replay_in_order(clip):
    src = open_source(f"replay:{clip}", fps=10, realtime=False)
    src.open()
    seqs = []
    while True:
        try:
            f = src.read()
        except StopIteration:
            break
        assert f.image.shape == (480, 640, 3) and f.image.dtype == np.uint8
        seqs.append(f.seq)
    assert seqs == list(range(20))


def test_realtime_replay_drops_stale_frames(clip):
    src = ReplaySource(clip, fps=20, realtime=True)
    src.open()
    first = src.read()
    time.sleep(0.4)  # a slow recognition step: about 8 frames became due meanwhile
    newest = src.read()
    assert newest.seq - first.seq >= 6 and src.dropped >= 5


def test_folder_replay_holds_each_photo(tmp_path, faces):
    (tmp_path / "a.jpg").write_bytes((faces / "obama.jpg").read_bytes())
    (tmp_path / "b.jpg").write_bytes((faces / "biden.jpg").read_bytes())
    src = open_source(str(tmp_path), fps=4, realtime=False, hold_s=1.0)
    src.open()
    labels = []
    for _ in range(8):
        labels.append(src.read().label.rsplit("/", 1)[1])
    assert labels == ["a.jpg"] * 4 + ["b.jpg"] * 4
    with pytest.raises(StopIteration):
        src.read()


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        open_source(str(tmp_path / "nothing"))
    src = open_source(str(tmp_path))
    with pytest.raises(CameraError, match="holds no images"):
        src.open()
    with pytest.raises(CameraError, match="picamera2 is not installed|Pi camera"):
        open_source("picamera2").open()
