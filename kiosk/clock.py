"""What time it is, and whether to believe it.

A Pi 4 has no battery clock; after a power cut without network the wall clock can be wrong
until NTP answers. The kiosk never waits for that (an offline kiosk would never start): it
records with every event whether the clock was synchronised, plus a monotonic stamp and the
boot id, so the server and HR can spot and repair events from an unsynchronised clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import os
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

TIMESYNC_FLAG = Path(os.environ.get("KIOSK_TIMESYNC_FLAG", "/run/systemd/timesync/synchronized"))
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _staged_start() -> tuple[dt.datetime, float] | None:
    """$KIOSK_CLOCK_START (ISO 8601 with its UTC offset, e.g. 2026-11-24T07:20:00+07:00): the
    kiosk's clock starts there and runs on, for tests and rehearsals that must not depend on
    the hour they run at (a punch at 14:00 is a pulang). A staged clock is never "synchronised",
    so every event it stamps is marked as such."""
    text = os.environ.get("KIOSK_CLOCK_START")
    if not text:
        return None
    try:
        start = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"KIOSK_CLOCK_START={text!r} is not an ISO 8601 time like 2026-11-24T07:20:00+07:00")
    if start.tzinfo is None:
        raise ValueError(f"KIOSK_CLOCK_START={text!r} needs its UTC offset, e.g. +07:00")
    return start.astimezone(dt.timezone.utc), time.monotonic()


@dataclass(frozen=True)
class Stamp:
    local: dt.datetime  # aware, in the device's zone
    utc: dt.datetime
    monotonic_ns: int
    synced: bool

    @property
    def local_date(self) -> str:
        return self.local.date().isoformat()


class Clock:
    """Wall time in the kiosk's zone plus the sync flag (re-checked at most every 60 s)."""

    def __init__(self, tz: zoneinfo.ZoneInfo, recheck_s: float = 60.0):
        self.tz = tz
        self.recheck_s = recheck_s
        self._synced = False
        self._checked = -1e18
        self.boot_id = BOOT_ID.read_text().strip() if BOOT_ID.exists() else ""
        self.staged = _staged_start()

    def synced(self) -> bool:
        if self.staged is not None:
            return False
        now = time.monotonic()
        if now - self._checked >= self.recheck_s:
            self._synced = clock_synchronised()
            self._checked = now
        return self._synced

    def now(self) -> Stamp:
        if self.staged is not None:
            start, mono = self.staged
            utc = start + dt.timedelta(seconds=time.monotonic() - mono)
        else:
            utc = dt.datetime.now(dt.timezone.utc)
        return Stamp(utc.astimezone(self.tz), utc, time.monotonic_ns(), self.synced())


TIME_ERROR = 5  # adjtimex(2): the kernel clock is not synchronised (STA_UNSYNC)


_libc = None


def _kernel_clock_state() -> int | None:
    """adjtimex(2) with modes = 0 (read only, no privilege): the kernel's clock state.
    This is what timedatectl's NTPSynchronized reports, without a process or D-Bus call."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex is 208 bytes on 64-bit Linux
        return _libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None


def clock_synchronised() -> bool:
    """systemd-timesyncd's flag file, else the kernel's own clock state (adjtimex).

    With $KIOSK_TIMESYNC_FLAG set (tests), only that file counts."""
    if TIMESYNC_FLAG.exists():
        return True
    if "KIOSK_TIMESYNC_FLAG" in os.environ:
        return False
    state = _kernel_clock_state()
    return state is not None and 0 <= state < TIME_ERROR
