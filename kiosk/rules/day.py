"""One employee's day under the rules: masuk, pulang, TL/PSW band, alpha, allowance cut.

Every punch is kept in the database; this decides which ones count. Inside the shift's punch
window, the first punch before mid-shift is masuk and the last punch from mid-shift on is
pulang (ANRI 18/2016: first for arrival, last for departure); the kind recorded at the kiosk
(kiosk/decision.py, possibly switched by the employee: a correction event supersedes the
original, ``current``) decides two cases the clock cannot: a first punch after mid-shift
recorded as masuk is a (late) arrival, a punch before mid-shift recorded as pulang a departure. Break punches (istirahat) and
punches outside the window or on a day off are listed but never counted. A working day
without any counted punch is alpha; a missing masuk or pulang falls in the configured band
(TL4 / PSW4 by default). Events recorded while the clock was not synchronised are flagged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk.rules.schedule import Calendar, Schedule, Shift

BREAK_KINDS = ("istirahat_keluar", "istirahat_kembali")


@dataclass(frozen=True)
class Punch:
    at: dt.datetime  # aware
    kind: str  # as recorded live: masuk | pulang | istirahat_keluar | istirahat_kembali
    clock_synced: bool = True
    event_id: str = ""

    @classmethod
    def from_row(cls, row: dict) -> "Punch":
        return cls(dt.datetime.fromisoformat(row["local_time"]), row["kind"], bool(row["clock_synced"]),
                   row.get("id", ""))


@dataclass
class DayResult:
    nip: str
    work_date: dt.date
    day_kind: str  # work | off | holiday | not_enrolled
    holiday: str = ""
    ramadan: bool = False
    masuk: dt.datetime | None = None
    pulang: dt.datetime | None = None
    late_minutes: int | None = None  # None when there is no masuk
    early_minutes: int | None = None
    tl: str | None = None  # TL1..TL4
    psw: str | None = None  # PSW1..PSW4
    status: str = ""  # present | alpha | holiday | off | open (day not over) | not_enrolled
    cut_percent: float = 0.0
    unsynced: bool = False  # a counted punch was recorded with an unsynchronised clock
    ignored: list[Punch] = field(default_factory=list)  # outside the window, breaks, days off
    punches: int = 0


def current(rows: list[dict]) -> list[dict]:
    """The events that count: those no other event corrects (a correction names the event it
    replaces in ``corrects``; both stay stored)."""
    replaced = {r.get("corrects") for r in rows if r.get("corrects")}
    return [r for r in rows if r["id"] not in replaced]


def band(minutes: int, bands: list[int], prefix: str) -> str | None:
    """0 -> None; 1..b1 -> X1; ..b2 -> X2; ..b3 -> X3; more -> X4."""
    if minutes <= 0:
        return None
    for i, limit in enumerate(bands, start=1):
        if minutes <= limit:
            return f"{prefix}{i}"
    return f"{prefix}{len(bands) + 1}"


def evaluate_day(nip: str, work_date: dt.date, schedule: Schedule, cal: Calendar, punches: list[Punch],
                 rules: dict, now: dt.datetime | None = None) -> DayResult:
    """`punches`: the employee's punches that `schedule.locate` assigns to `work_date`.

    With `now` before the end of the day's punch window the day is still "open": it is not
    alpha and has no PSW yet (a report run at noon must not mark the morning's people absent).
    """
    kind = schedule.day_kind(work_date, cal)
    r = DayResult(nip, work_date, kind, holiday=cal.holidays.get(work_date, ""),
                  ramadan=cal.is_ramadan(work_date), punches=len(punches))
    shift: Shift | None = schedule.shift(work_date, cal)
    if shift is None:
        r.status = kind
        r.ignored = list(punches)
        return r
    counted = []
    for p in sorted(punches, key=lambda p: p.at):
        if p.kind in BREAK_KINDS or not shift.in_window(p.at):
            r.ignored.append(p)
        else:
            counted.append(p)
    open_day = now is not None and now < shift.window_end
    # by the clock, as recorded: before mid-shift an arrival, from it on a departure - except a
    # first punch after mid-shift recorded as masuk (a late arrival: kiosk/decision.py) and a
    # punch recorded as pulang before it (an early departure the employee confirmed)
    late_arrival = counted[0] if counted and counted[0].kind == "masuk" and counted[0].at >= shift.split else None
    arrivals = [p for p in counted if (p.at < shift.split and p.kind != "pulang") or p is late_arrival]
    departures = [p for p in counted if p not in arrivals and (p.at >= shift.split or p.kind == "pulang")]
    if not counted:
        if open_day:
            r.status = "open"
            return r
        r.status = "alpha"
        r.cut_percent = rules["cut_alpha"]
        return r
    r.status = "open" if open_day else "present"
    used = []
    if arrivals:
        m = arrivals[0]
        used.append(m)
        r.masuk, r.late_minutes = m.at, shift.late_minutes(m.at)
        r.tl = band(r.late_minutes, rules["tl_bands"], "TL")
    else:
        r.tl = rules["missing_masuk"]
    if departures:
        p = departures[-1]
        used.append(p)
        r.pulang, r.early_minutes = p.at, shift.early_minutes(p.at)
        r.psw = band(r.early_minutes, rules["psw_bands"], "PSW")
    elif not open_day:
        r.psw = rules["missing_pulang"]
    r.unsynced = any(not p.clock_synced for p in used)
    r.cut_percent = ((rules["cut_tl"][int(r.tl[2:]) - 1] if r.tl else 0.0)
                     + (rules["cut_psw"][int(r.psw[3:]) - 1] if r.psw else 0.0))
    return r
