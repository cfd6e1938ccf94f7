"""Replay a folder of images or a video file as if it were a live camera.

For demos, tests and benchmarks. In real time (the default) it behaves like a camera: frames
are due at `fps`, and a reader that falls behind gets the newest due frame, the ones in between
are dropped (as a live camera's would be). With ``realtime=False`` every due frame is handed
out in order, as fast as it is read, stamped as if they came in time, for deterministic tests.
A still image is shown for `hold_s` seconds (fps * hold_s frames), long enough for the k-of-n
vote.

A video is replayed in its own time, as a camera filming the scene would see it: the frame
due at t seconds is the one the video shows at t (its frame rate from the file's header), and
frames come at `fps` or at the video's own rate when that is lower - a 30-fps clip replayed
at 15 gives every second frame, a 10-fps clip each of its frames, 10 a second. (Handing out
every frame of the file as one camera frame played a 30-fps clip at half speed: liveness saw
half the motion per second and blinks twice as long, and a visit took twice the clip's time.)
A header without a usable rate (outside 1-240) is played frame by frame at `fps`, and so is
every video with ``own_time=False`` (a frame source at an exact rate for load benchmarks, the
clip's motion sped up or slowed down). A video
wider than the camera's `width` is scaled down to it (the height keeps the video's
proportions), as the kiosk's camera would deliver the scene: a 1080p phone clip is seen at
640 x 360. A smaller one is not enlarged: interpolated pixels are not a sharper camera (a
320 x 240 clip enlarged twice made man A's skin texture move "as one flat piece" and a genuine
visit was refused as flat_motion).

A video's frame count in its header is only a hint: many files report 0, a negative number
(a raw MJPEG stream) or a wrong one, so a video is played until a frame can no longer be
decoded. With ``loop`` it then starts again (never recursively); without, ``read`` raises
``SourceEnded`` saying why and after how many frames.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kiosk.camera.base import CameraError, Frame, SourceEnded
from kiosk.imageio import ImageReadError, downscale, load_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"}


def video_frame(index: int, video_fps: float, rate: float) -> int:
    """The frame of a video recorded at `video_fps` that a replay at `rate` frames a second shows
    as its `index`-th frame: the one due at that time in the video's own clock (e.g. frames 0, 1,
    3, 5, 6, 8 ... of a 25-fps video at 15)."""
    return int(index * video_fps / rate + 1e-6)


class ReplaySource:
    recording = True  # the kiosk app starts it once recognition is ready (kiosk/app.py, CameraReader)

    def __init__(self, path: Path, fps: float = 15, realtime: bool = True, hold_s: float = 1.0,
                 loop: bool = False, max_side: int = 1280, width: int | None = None, own_time: bool = True):
        self.path = Path(path)
        self.fps, self.realtime, self.hold_s, self.loop = float(fps), realtime, hold_s, loop
        self.max_side = max_side  # still images: longest side at most this
        self.width = width  # video frames: scaled down to this width (None: longest side <= max_side)
        self.own_time = own_time  # a video in its own time (False: each of its frames one frame at fps)
        self._images: list[Path] = []
        self._cap = None
        self._index = -1  # index of the last frame handed out
        self._t0 = 0.0
        self._cached: tuple[int, np.ndarray] | None = None
        self._total: int | None = None  # frames in one pass; None: unknown until the video ends
        self.video_fps: float | None = None  # the video file's own frame rate (None: images, or unusable)
        self.rate = self.fps  # frames handed out per second: fps, or the video's rate when lower
        self.dropped = 0
        self.passes = 0  # completed passes (with loop)
        self.played = 0  # frames handed out, over all passes

    def open(self) -> None:
        self.video_fps, self.rate = None, self.fps  # a video's own rate may lower it (below)
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
            # the header's count is not trusted (0, negative or wrong): play until decoding ends
            self._total = None
            self._video_pos = -1
            rate = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self.video_fps = rate if 1.0 <= rate <= 240.0 and self.own_time else None
            self.rate = min(self.fps, self.video_fps) if self.video_fps else self.fps
        self._t0 = time.monotonic()
        if not hasattr(self, "_vstart"):
            self._vstart = self._t0
        self._index = -1

    def _rewind(self) -> None:
        """Start the next pass of a looped replay."""
        self.passes += 1
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.open()

    def _ended(self, why: str) -> SourceEnded:
        return SourceEnded(f"replay of {self.path} ended after {self.played} frame(s) ({why})")

    def _due_index(self) -> int:
        return int((time.monotonic() - self._t0) * self.rate)

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._t0 == 0.0:
            raise CameraError("replay source read before open()")
        for _ in range(3):  # at most: this pass, a rewind, the first frame of the next pass
            if self.realtime:
                deadline = time.monotonic() + timeout
                while (due := self._due_index()) <= self._index:
                    next_t = self._t0 + (self._index + 1) / self.rate
                    if next_t > deadline:
                        time.sleep(max(0.0, deadline - time.monotonic()))
                        return None
                    time.sleep(max(0.0, next_t - time.monotonic()))
                index = due
            else:
                index = self._index + 1
            image = None
            if self._total is None or index < self._total:
                image, label = self._frame(index)
                if image is None:  # the video's last decodable frame was before `index`
                    self._total = index
            if image is not None:
                self.dropped += max(0, index - self._index - 1)
                self._index = index
                self.played += 1
                # in real time a frame is stamped when it was due, as a live camera stamps its arrival;
                # otherwise on a virtual clock at the replay's rate (tracks, votes and liveness see the camera's
                # timing however fast or slowly the frames are read)
                ts = self._t0 + index / self.rate if self.realtime else self._vstart + (self.played - 1) / self.rate
                return Frame(image=image, ts=ts, seq=self.passes * 10**7 + index, label=label)
            if not self._total:
                raise self._ended("no frame could be decoded")
            if not self.loop:
                raise self._ended("end of the file" if self._cap is not None else "last image shown")
            self._rewind()
        raise self._ended("nothing to replay")

    def _frame(self, index: int) -> tuple[np.ndarray | None, str]:
        if self._images:
            i = index // self._per_image
            if self._cached is None or self._cached[0] != i:
                started = time.monotonic()
                try:
                    self._cached = (i, load_rgb(self._images[i], self.max_side))
                except ImageReadError as e:
                    raise CameraError(f"replay: {e}") from None
                if self.realtime:  # the photo's hold starts once it is decoded (a large photo takes a second)
                    self._t0 += time.monotonic() - started
            return self._cached[1], str(self._images[i])
        import cv2

        # the video's frame at this frame's time (the same index when the video is not faster)
        want = video_frame(index, self.video_fps, self.rate) if self.video_fps else index
        ok = True
        while self._video_pos < want - 1 and ok:
            ok = self._cap.grab()
            self._video_pos += 1
        ok, bgr = self._cap.read()
        self._video_pos += 1
        if not ok:
            return None, ""
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        if self.width and w > self.width:
            size = (self.width, max(1, round(h * self.width / w)))
            return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), f"{self.path}#{want}"
        return downscale(rgb, self.max_side), f"{self.path}#{want}"

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
