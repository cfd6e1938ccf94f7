"""The interface every camera source implements, and the frame it hands out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class CameraError(RuntimeError):
    """The camera cannot be opened or stopped delivering; the message says which and why."""


class SourceEnded(StopIteration):
    """A source that has nothing more to give (a replay that is over); ``str()`` says why,
    e.g. "replay of clip.mp4 ended after 412 frames (end of the file)"."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 RGB, contiguous
    ts: float  # time.monotonic() when captured
    seq: int  # increasing; a gap means frames were dropped (the newest wins)
    label: str = ""  # replay: the file (and frame) it came from
    # exposure compensation in force (stops; 0 = the camera's own metering): face-priority exposure
    # darkens a bright face, and the glow cue judges clipping as the camera's own metering would
    ev: float = 0.0


class FrameSource(Protocol):
    def open(self) -> None: ...

    def read(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not handed out yet; None if none arrived within `timeout`.

        Raises CameraError if the camera failed, SourceEnded (a StopIteration) with the
        reason when a replay is over.
        """

    def close(self) -> None: ...
