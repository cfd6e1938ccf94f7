"""The Raspberry Pi camera through picamera2 (from the Raspberry Pi OS archive, not PyPI).

picamera2 is imported in open(), so this module loads on any machine; on a laptop open()
raises CameraError. Not exercised in CI (no Pi camera there): it is the thinnest possible
adapter, and the same FrameSource contract is tested through the replay and OpenCV sources,
and face-priority exposure through the simulated camera (fake.py).

Exposure: libcamera's auto-exposure meters centre-weighted (the person stands in the middle),
and ``set_exposure_compensation`` sets its ExposureValue control (stops, -8..8), steered by the
measured face (kiosk.camera.exposure): a face in front of a bright door gets brighter.
"""

from __future__ import annotations

import logging
import time

from kiosk.camera.base import CameraError, Frame

log = logging.getLogger(__name__)


class PiCameraSource:
    def __init__(self, width: int = 640, height: int = 480, fps: int = 15):
        self.width, self.height, self.fps = width, height, fps
        self._cam = None
        self._seq = 0

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as e:
            raise CameraError(
                "picamera2 is not installed (on a Pi: apt install python3-picamera2 and create "
                f"the venv with --system-site-packages): {e}"
            ) from None
        try:
            self._cam = Picamera2()
            # "RGB888" in libcamera's naming is B,G,R byte order in memory; read() flips it.
            controls = {"FrameRate": float(self.fps)}
            try:
                from libcamera import controls as lc

                controls["AeMeteringMode"] = lc.AeMeteringModeEnum.CentreWeighted
            except (ImportError, AttributeError):
                pass  # an older libcamera: its default metering
            config = self._cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls=controls,
                buffer_count=2,
            )
            self._cam.configure(config)
            self._cam.start()
        except Exception as e:  # picamera2 raises RuntimeError/IndexError when no camera
            self.close()
            raise CameraError(f"Pi camera cannot be started: {e}") from None

    supports_exposure = True

    def set_exposure_compensation(self, ev: float) -> None:
        """Brighter (+) or darker (-) than the auto-exposure's choice, in stops; picamera2 queues
        the control for the next frames (safe from another thread)."""
        if self._cam is None:
            return
        try:
            self._cam.set_controls({"ExposureValue": max(-8.0, min(8.0, float(ev)))})
        except Exception as e:  # a camera without the control: keep its own exposure
            log.warning("Pi camera: exposure compensation %+.2f not applied: %s", ev, e)

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._cam is None:
            raise CameraError("Pi camera is not open")
        try:
            bgr = self._cam.capture_array("main")
        except Exception as e:
            raise CameraError(f"Pi camera stopped delivering frames: {e}") from None
        self._seq += 1
        return Frame(bgr[:, :, ::-1].copy(), time.monotonic(), self._seq)

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None
