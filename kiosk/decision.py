"""Masuk or pulang: the attendance decision for one identified employee (pure, no I/O).

The interim rule of the recognition core: the first record of the local day is masuk, a later
one is pulang (the last pulang of the day counts; every event is kept), and a recognition within
`repeat_minutes` of the employee's previous record is "already recorded" and writes nothing.
The schedule rules (windows, late/early bands) replace `decide` in their own module later.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from kiosk.clock import Stamp


@dataclass(frozen=True)
class Decision:
    status: str  # "recorded" | "already_recorded"
    kind: str  # "masuk" | "pulang" (for already_recorded: the kind recorded before)
    event: dict | None  # the row to store, when status == "recorded"
    previous_local_time: str | None = None


def decide(nip: str, stamp: Stamp, last: dict | None, repeat_minutes: int, *, device_id: str,
           boot_id: str, distance: float, margin: float) -> Decision:
    """`last` is the employee's latest event of the same local date (or None)."""
    if last is not None:
        previous = dt.datetime.fromisoformat(last["local_time"])
        if dt.timedelta(0) <= stamp.local - previous < dt.timedelta(minutes=repeat_minutes):
            return Decision("already_recorded", last["kind"], None, last["local_time"])
    kind = "masuk" if last is None else "pulang"
    event = {
        "id": str(uuid.uuid4()),
        "nip": nip,
        "kind": kind,
        "local_time": stamp.local.isoformat(timespec="seconds"),
        "utc_at": stamp.utc.isoformat(timespec="milliseconds"),
        "local_date": stamp.local_date,
        "monotonic_ns": stamp.monotonic_ns,
        "boot_id": boot_id,
        "clock_synced": int(stamp.synced),
        "distance": round(distance, 4),
        "margin": round(margin, 4) if margin != float("inf") else None,
        "device_id": device_id,
    }
    return Decision("recorded", kind, event, last["local_time"] if last else None)
