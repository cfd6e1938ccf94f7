"""Camera sources behind one interface (kiosk.camera.base.FrameSource).

`open_source(spec)` picks one from a string, as in config `[camera] source` or `--camera`:

    picamera2            the Pi camera (picamera2 is imported only here, only on a Pi)
    opencv:0, /dev/video0  a USB webcam through OpenCV
    rtsp://... http://...  a network stream through OpenCV
    replay:PATH, PATH    a folder of images or a video file, replayed at `fps` (a video in its own
                         time, its frames scaled down to `width`)
"""

from __future__ import annotations

from pathlib import Path

from kiosk.camera.base import CameraError, Frame, FrameSource, SourceEnded

__all__ = ["CameraError", "Frame", "FrameSource", "SourceEnded", "open_source"]


def open_source(spec: str, width: int = 640, height: int = 480, fps: int = 15,
                realtime: bool = True, hold_s: float = 1.0, loop: bool = False) -> FrameSource:
    spec = spec.strip()
    if spec == "picamera2":
        from kiosk.camera.picam import PiCameraSource

        return PiCameraSource(width, height, fps)
    if spec.startswith("opencv:") or spec.startswith("/dev/video"):
        from kiosk.camera.opencv import OpenCVSource

        dev = spec.removeprefix("opencv:")
        return OpenCVSource(int(dev) if dev.isdigit() else dev, width, height, fps)
    if spec.split("://", 1)[0] in ("rtsp", "rtsps", "http", "https"):
        from kiosk.camera.opencv import OpenCVSource

        return OpenCVSource(spec, width, height, fps)
    from kiosk.camera.replay import ReplaySource

    path = Path(spec.removeprefix("replay:"))
    if not path.exists():
        raise CameraError(f"camera source {spec!r}: {path} does not exist "
                          "(expected picamera2, opencv:N, rtsp://..., or a folder/video to replay)")
    return ReplaySource(path, fps=fps, realtime=realtime, hold_s=hold_s, loop=loop, width=width)
