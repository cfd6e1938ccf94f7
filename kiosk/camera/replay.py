"""Replay a folder of images or a video file as if it were a live camera.

For demos, tests and benchmarks. In real time (the default) it behaves like a camera: frames
are due at `fps`, and a reader that falls behind gets the newest due frame, the ones in between
are dropped (as a live camera's would be). With ``realtime=False`` every frame is handed out
in order, as fast as it is read, for deterministic tests. A still image is shown for `hold_s`
seconds (fps * hold_s frames), long enough for the k-of-n vote.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kiosk.camera.base import CameraError, Frame
from kiosk.imageio import ImageReadError, downscale, load_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"}


class ReplaySource:
    def __init__(self, path: Path, fps: float = 15, realtime: bool = True, hold_s: float = 1.0,
                 loop: bool = False, max_side: int = 1280):
        self.path = Path(path)
        self.fps, self.realtime, self.hold_s, self.loop = float(fps), realtime, hold_s, loop
        self.max_side = max_side
        self._images: list[Path] = []
        self._cap = None
        self._index = -1  # index of the last frame handed out
        self._t0 = 0.0
        self._cached: tuple[int, np.ndarray] | None = None
        self.dropped = 0

    def open(self) -> None:
        if self.path.is_dir():
            self._images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise CameraError(f"replay folder {self.path} holds no images")
            self._per_image = max(1, round(self.fps * self.hold_s))
            self._total = len(self._images) * self._per_image
        elif self.path.suffix.lower() in IMAGE_SUFFIXES:
            self._images = [self.path]
            self._per_image = max(1, round(self.fps * self.hold_s))
            self._total = self._per_image
        else:
            import cv2

            self._cap = cv2.VideoCapture(str(self.path))
            if not self._cap.isOpened():
                raise CameraError(f"replay: cannot open video {self.path}")
            self._total = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 10**9
            self._video_pos = -1
        self._t0 = time.monotonic()
        self._index = -1

    def _due_index(self) -> int:
        return int((time.monotonic() - self._t0) * self.fps)

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._t0 == 0.0:
            raise CameraError("replay source read before open()")
        if self.realtime:
            deadline = time.monotonic() + timeout
            while (due := self._due_index()) <= self._index:
                next_t = self._t0 + (self._index + 1) / self.fps
                if next_t > deadline:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                    return None
                time.sleep(max(0.0, next_t - time.monotonic()))
            index = due
        else:
            index = self._index + 1
        if index >= self._total:
            if not self.loop:
                raise StopIteration
            self.open()
            return self.read(timeout)
        image, label = self._frame(index)
        if image is None:  # the video ended earlier than its header said
            self._total = index
            if not self.loop:
                raise StopIteration
            self.open()
            return self.read(timeout)
        self.dropped += max(0, index - self._index - 1)
        self._index = index
        # in real time a frame is stamped when it was due, as a live camera stamps its arrival
        ts = self._t0 + index / self.fps if self.realtime else time.monotonic()
        return Frame(image=image, ts=ts, seq=index, label=label)

    def _frame(self, index: int) -> tuple[np.ndarray | None, str]:
        if self._images:
            i = index // self._per_image
            if self._cached is None or self._cached[0] != i:
                try:
                    self._cached = (i, load_rgb(self._images[i], self.max_side))
                except ImageReadError as e:
                    raise CameraError(f"replay: {e}") from None
            return self._cached[1], str(self._images[i])
        import cv2

        ok = True
        while self._video_pos < index - 1 and ok:
            ok = self._cap.grab()
            self._video_pos += 1
        ok, bgr = self._cap.read()
        self._video_pos += 1
        if not ok:
            return None, ""
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return downscale(rgb, self.max_side), f"{self.path}#{index}"

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
