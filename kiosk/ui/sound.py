"""Short distinct tones (recorded, already recorded, not recognised), made at start-up and
played with `aplay` through QProcess so the UI thread never waits. Silent where aplay is missing."""

from __future__ import annotations

import shutil
import tempfile
import wave
from pathlib import Path

import numpy as np
from PySide6.QtCore import QProcess

RATE = 22050
TONES = {  # (frequency Hz, seconds) notes
    "ok": [(880, 0.12), (1320, 0.18)],
    "late": [(880, 0.12), (660, 0.18)],
    "repeat": [(990, 0.10)],
    "unknown": [(330, 0.25), (262, 0.3)],
}


def _write(path: Path, notes) -> None:
    chunks = []
    for freq, secs in notes:
        t = np.arange(int(RATE * secs)) / RATE
        env = np.minimum(1.0, np.minimum(t, secs - t) * 40)  # 25 ms fade in/out, no clicks
        chunks.append(0.4 * env * np.sin(2 * np.pi * freq * t))
    data = (np.concatenate(chunks) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data.tobytes())


class Sounds:
    def __init__(self, enabled: bool = True):
        self.player = shutil.which("aplay") if enabled else None
        # removed when the Sounds object goes (or at exit): each start of the kiosk used to leave one
        self._tmp = tempfile.TemporaryDirectory(prefix="kiosk-sounds-")
        self.dir = Path(self._tmp.name)
        for name, notes in TONES.items():
            _write(self.dir / f"{name}.wav", notes)
        self.played: list[str] = []  # for tests

    def play(self, name: str) -> None:
        self.played.append(name)
        if self.player:
            QProcess.startDetached(self.player, ["-q", str(self.dir / f"{name}.wav")])
