"""The live attendance decision for one identified employee: what to record and what to show.

Pure (no I/O): given the moment, the employee's schedule and their punches of the same work
date, it returns the event to store (or none) and what the screen says:

* a recognition within `repeat_minutes` of the employee's previous punch: "sudah tercatat",
  nothing stored;
* the first punch of the work date is MASUK (on time, or terlambat N menit) - also after
  mid-shift (a late arrival, someone who came in by another door) - unless it is within
  `[attendance] first_punch_pulang_minutes` of the shift's end or after it: clearly going home;
* after a MASUK, before mid-shift: "sudah tercatat" (the first arrival counts anyway);
* after a MASUK from mid-shift on, or after a first PULANG: PULANG (the last one counts;
  pulang cepat N menit if before the end);
* inside the break, with `track_breaks`: istirahat keluar / kembali, alternating;
* outside the punch window, on a weekend or a holiday: stored and marked, never counted.
Which punches count for the day is decided again by kiosk.rules.day for reports (the first
MASUK and the last PULANG). The employee can switch the kind on the card for a few seconds
(`correct`): a new event that names the one it corrects; the original is kept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from kiosk.clock import Stamp
from kiosk.rules.day import BREAK_KINDS, band
from kiosk.rules.schedule import Calendar, Schedule


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
    if masuk and t < shift.split:
        return Decision("already_recorded", "masuk", None, masuk[0]["local_time"])
    going_home = t >= shift.end - dt.timedelta(minutes=rules["first_punch_pulang_minutes"])
    if not events and not going_home:
        late = shift.late_minutes(t)
        return record("masuk", late_minutes=late, category=band(late, rules["tl_bands"], "TL"))
    early = shift.early_minutes(t)
    return record("pulang", early_minutes=early, category=band(early, rules["psw_bands"], "PSW"))


def shown_minutes(kind: str, at: dt.datetime, shift, rules: dict) -> dict:
    """What the card says about a masuk or pulang at `at`: late or early minutes and band."""
    if shift is None or kind not in ("masuk", "pulang"):
        return {"late_minutes": None, "early_minutes": None, "category": None}
    if kind == "masuk":
        late = shift.late_minutes(at)
        return {"late_minutes": late, "early_minutes": None, "category": band(late, rules["tl_bands"], "TL")}
    early = shift.early_minutes(at)
    return {"late_minutes": None, "early_minutes": early, "category": band(early, rules["psw_bands"], "PSW")}


CORRECTABLE = {"masuk": "pulang", "pulang": "masuk"}


def correction(original: dict, source: str) -> dict:
    """The event that switches `original` (a stored masuk or pulang) to the other kind: the same
    moment, a new id, naming the event it corrects and who corrected it. Never an update."""
    if original["kind"] not in CORRECTABLE:
        raise ValueError(f"event {original['id']}: a {original['kind']} cannot be switched")
    fields = ("nip", "local_time", "utc_at", "local_date", "work_date", "in_window", "monotonic_ns", "boot_id",
              "clock_synced", "distance", "margin", "device_id", "liveness")
    return {**{k: original.get(k) for k in fields}, "id": str(uuid.uuid4()), "kind": CORRECTABLE[original["kind"]],
            "corrects": original["id"], "correction_source": source}


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
