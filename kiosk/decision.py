"""The live attendance decision for one identified employee: what to record and what to show.

Pure (no I/O): given the moment, the employee's schedule and their punches of the same work
date, it returns the event to store (or none) and what the screen says:

* a recognition within `repeat_minutes` of the employee's previous punch: "sudah tercatat",
  nothing stored;
* before mid-shift: the first punch is MASUK (on time, or terlambat N menit); a later one
  before mid-shift is "sudah tercatat" (the first arrival counts anyway);
* from mid-shift on: every punch is stored as PULANG (the last one counts; pulang cepat N menit
  if before the end);
* inside the break, with `track_breaks`: istirahat keluar / kembali, alternating;
* outside the punch window, on a weekend or a holiday: stored and marked, never counted.
Which punches count for the day is decided again by attendance.day for reports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from kiosk.clock import Stamp
from attendance.day import BREAK_KINDS, band
from attendance.schedule import Calendar, Schedule


@dataclass(frozen=True)
class Decision:
    status: str  # "recorded" | "already_recorded"
    kind: str  # masuk | pulang | istirahat_keluar | istirahat_kembali
    event: dict | None  # the row to store, when status == "recorded"
    previous_local_time: str | None = None
    late_minutes: int | None = None
    early_minutes: int | None = None
    category: str | None = None  # TL1..TL4 / PSW1..PSW4 when late / early
    note: str = ""  # "" | outside_window | off | holiday


def decide(nip: str, stamp: Stamp, schedule: Schedule, cal: Calendar, day_events: list[dict],
           rules: dict, *, device_id: str, boot_id: str, distance: float, margin: float) -> Decision:
    """`day_events`: the employee's stored events of the work date `schedule.locate` gives."""
    t = stamp.local
    work_date, shift = schedule.locate(t, cal)
    events = sorted(day_events, key=lambda e: e["utc_at"])
    if events:
        last = events[-1]
        since = t - dt.datetime.fromisoformat(last["local_time"])
        if dt.timedelta(0) <= since < dt.timedelta(minutes=rules["repeat_minutes"]):
            return Decision("already_recorded", last["kind"], None, last["local_time"])

    def record(kind: str, note: str = "", **shown) -> Decision:
        return Decision("recorded", kind, _event(nip, kind, stamp, work_date, shift is not None,
                                                 device_id, boot_id, distance, margin),
                        events[-1]["local_time"] if events else None, note=note, **shown)

    masuk = [e for e in events if e["kind"] == "masuk"]
    if shift is None:
        note = schedule.day_kind(work_date, cal)
        return record("pulang" if masuk else "masuk", note="outside_window" if note == "work" else note)
    if rules.get("track_breaks") and masuk and shift.in_break(t):
        breaks = [e for e in events if e["kind"] in BREAK_KINDS]
        return record(BREAK_KINDS[len(breaks) % 2])
    if t < shift.split:
        if masuk:
            return Decision("already_recorded", "masuk", None, masuk[0]["local_time"])
        late = shift.late_minutes(t)
        return record("masuk", late_minutes=late, category=band(late, rules["tl_bands"], "TL"))
    early = shift.early_minutes(t)
    return record("pulang", early_minutes=early, category=band(early, rules["psw_bands"], "PSW"))


def _event(nip, kind, stamp: Stamp, work_date, in_window, device_id, boot_id, distance, margin) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "nip": nip,
        "kind": kind,
        "local_time": stamp.local.isoformat(timespec="seconds"),
        "utc_at": stamp.utc.isoformat(timespec="milliseconds"),
        "local_date": stamp.local_date,
        "work_date": work_date.isoformat(),
        "in_window": int(in_window),
        "monotonic_ns": stamp.monotonic_ns,
        "boot_id": boot_id,
        "clock_synced": int(stamp.synced),
        "distance": round(distance, 4),
        "margin": round(margin, 4) if margin != float("inf") else None,
        "device_id": device_id,
    }
