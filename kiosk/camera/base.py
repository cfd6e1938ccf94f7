"""The interface every camera source implements, and the frame it hands out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class CameraError(RuntimeError):
    """The camera cannot be opened or stopped delivering; the message says which and why."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 RGB, contiguous
    ts: float  # time.monotonic() when captured
    seq: int  # increasing; a gap means frames were dropped (the newest wins)
    label: str = ""  # replay: the file (and frame) it came from


class FrameSource(Protocol):
    def open(self) -> None: ...

    def read(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not handed out yet; None if none arrived within `timeout`.

        Raises CameraError if the camera failed, StopIteration when a replay is over.
        """

    def close(self) -> None: ...
