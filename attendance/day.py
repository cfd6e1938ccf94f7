"""One employee's day under the rules: masuk, pulang, TL/PSW band, alpha, leave, allowance cut.

Every punch is kept in the database; this decides which ones count. Inside the shift's punch
window, the first punch before mid-shift is masuk and the last punch from mid-shift on is
pulang (ANRI 18/2016: first for arrival, last for departure); the kind recorded at the kiosk
(kiosk/decision.py, possibly switched by the employee: a correction event supersedes the
original, ``current``) decides two cases the clock cannot: a first punch after mid-shift
recorded as masuk is a (late) arrival, a punch before mid-shift recorded as pulang a departure.
Break punches (istirahat) and punches outside the window or on a day off are listed but never
counted. A working day
without any counted punch is alpha; a missing masuk or pulang falls in the configured band
(TL4 / PSW4 by default). Events recorded while the clock was not synchronised are flagged.

Besides the employee's own switch at the kiosk, two kinds of records change the verdict
without touching a kiosk's event:

* **Excuses** (leave, permits, official travel): a full-day excuse makes a working day
  "excused" - no alpha, no TL/PSW, no cut, counted in its own recap column (C, S, I, DL ...);
  a half-day permit excuses only the arrival band (izin datang terlambat, part "masuk") or the
  departure band (izin pulang cepat, part "pulang").
* **Corrections by HR**: a punch added (kind and time given) or a kiosk event re-labelled
  (masuk <-> pulang). Such a punch counts as the kind it was given, whatever the time of day.
A day with any correction (HR's or the employee's at the kiosk) is marked corrected in every
report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from attendance.schedule import Calendar, Schedule, Shift

BREAK_KINDS = ("istirahat_keluar", "istirahat_kembali")
PUNCH_KINDS = ("masuk", "pulang")


class Punch(NamedTuple):
    """One punch (a tuple: a month of a regency is hundreds of thousands of them)."""

    at: dt.datetime  # aware
    kind: str  # as recorded live: masuk | pulang | istirahat_keluar | istirahat_kembali
    clock_synced: bool = True
    event_id: str = ""
    fixed: bool = False  # the kind was set by an HR correction: it counts as that kind at any hour
    corrected: bool = False  # added or re-labelled by a correction (HR's, or the employee's at the kiosk)

    @classmethod
    def from_row(cls, row: dict) -> "Punch":
        """A stored kiosk event; one that corrects another (the employee's switch) marks its day."""
        return cls(dt.datetime.fromisoformat(row["local_time"]), row["kind"], bool(row["clock_synced"]),
                   row.get("id", ""), corrected=bool(row.get("corrects")))


@dataclass(frozen=True)
class Excuse:
    """A day (or half a day) excused by a leave or permit record."""

    code: str  # the leave type, e.g. CT (cuti tahunan), DL (dinas luar)
    column: str = ""  # its recap column (C, S, I, DL ...); "" for a half-day permit
    part: str = "day"  # day | masuk (arrival band excused) | pulang (departure band excused)
    label: str = ""  # how reports name it, e.g. "Cuti tahunan"


@dataclass(frozen=True)
class Correction:
    """An approved correction of one work date: `add` a punch of `kind` at `at`, or `relabel`
    the kiosk event `event_id` as `kind`."""

    action: str  # add | relabel
    kind: str  # masuk | pulang
    at: dt.datetime | None = None  # for add
    event_id: str = ""  # for relabel


@dataclass
class DayResult:
    nip: str
    work_date: dt.date
    day_kind: str  # work | off | holiday | not_enrolled | inactive
    holiday: str = ""
    ramadan: bool = False
    masuk: dt.datetime | None = None
    pulang: dt.datetime | None = None
    late_minutes: int | None = None  # None when there is no masuk
    early_minutes: int | None = None
    tl: str | None = None  # TL1..TL4
    psw: str | None = None  # PSW1..PSW4
    # present | alpha | excused | holiday | off | open (day not over) | not_enrolled | inactive
    status: str = ""
    cut_percent: float = 0.0
    unsynced: bool = False  # a counted punch was recorded with an unsynchronised clock
    ignored: list[Punch] = field(default_factory=list)  # outside the window, breaks, days off
    punches: int = 0
    excuse: Excuse | None = None  # the full-day excuse of an excused day
    half_excuses: tuple[Excuse, ...] = ()  # half-day permits that applied
    corrected: bool = False  # a correction added or re-labelled a punch of this day


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


def apply_corrections(punches: list[Punch], corrections: list[Correction]) -> tuple[list[Punch], bool]:
    """The punches of a day with its approved corrections applied, and whether any applied.
    The kiosk's events themselves are never changed: a re-labelled punch is a new Punch."""
    if not corrections:
        return punches, False
    relabel = {c.event_id: c.kind for c in corrections if c.action == "relabel"}
    out, applied = [], False
    for p in punches:
        if p.event_id and p.event_id in relabel:
            out.append(p._replace(kind=relabel[p.event_id], fixed=True, corrected=True))
            applied = True
        else:
            out.append(p)
    for c in corrections:
        if c.action == "add" and c.at is not None:
            out.append(Punch(c.at, c.kind, True, fixed=True, corrected=True))
            applied = True
    return out, applied


def _partition(counted: list[Punch], split: dt.datetime) -> tuple[list[Punch], list[Punch]]:
    """(arrivals, departures). By the clock, as recorded: before mid-shift an arrival, from it
    on a departure - except a first punch after mid-shift recorded as masuk (a late arrival:
    kiosk/decision.py) and a punch recorded as pulang before it (an early departure the employee
    confirmed). A punch whose kind an HR correction set counts as that kind."""
    arrivals, departures = [], []
    for i, p in enumerate(counted):
        if p.fixed:
            arrival = p.kind == "masuk"
        elif p.at < split:
            arrival = p.kind != "pulang"
        else:
            arrival = i == 0 and p.kind == "masuk"  # a late arrival
        (arrivals if arrival else departures).append(p)
    return arrivals, departures


@dataclass(frozen=True)
class DayPlan:
    """What a date is under a schedule, the same for every employee on it (a recap asks once
    per schedule and date)."""

    kind: str  # work | off | holiday
    holiday: str
    ramadan: bool
    shift: Shift | None

    @classmethod
    def of(cls, schedule: Schedule, work_date: dt.date, cal: Calendar) -> "DayPlan":
        return cls(schedule.day_kind(work_date, cal), cal.holidays.get(work_date, ""), cal.is_ramadan(work_date),
                   schedule.shift(work_date, cal))


def evaluate_day(nip: str, work_date: dt.date, schedule: Schedule, cal: Calendar, punches: list[Punch],
                 rules: dict, now: dt.datetime | None = None, excuses: tuple[Excuse, ...] = (),
                 plan: DayPlan | None = None) -> DayResult:
    """`punches`: the employee's punches that `schedule.locate` assigns to `work_date`, with
    corrections applied (`apply_corrections`); `excuses`: the leave and permits of that date.

    With `now` before the end of the day's punch window the day is still "open": it is not
    alpha and has no PSW yet (a report run at noon must not mark the morning's people absent).
    `plan` may be given when the caller has it already (DayPlan.of); left out, it is looked up.
    """
    plan = plan or DayPlan.of(schedule, work_date, cal)
    shift = plan.shift
    r = DayResult(nip, work_date, plan.kind, holiday=plan.holiday, ramadan=plan.ramadan, punches=len(punches))
    r.corrected = any(p.corrected for p in punches)
    if shift is None:
        r.status = plan.kind
        r.ignored = list(punches)
        return r
    counted = []
    w0, w1 = shift.window_start, shift.window_end
    for p in sorted(punches):  # by time (a punch is a tuple: its time first)
        if p.kind in BREAK_KINDS or not w0 <= p.at <= w1:
            r.ignored.append(p)
        else:
            counted.append(p)
    arrivals, departures = _partition(counted, shift.split)
    if arrivals:
        r.masuk = arrivals[0].at
    if departures:
        r.pulang = departures[-1].at
    full = next((e for e in excuses if e.part == "day"), None) if excuses else None
    if full is not None:  # leave wins over punches: no band, no cut, its own column
        r.status, r.excuse = "excused", full
        return r
    open_day = now is not None and now < shift.window_end
    if not counted:
        if open_day:
            r.status = "open"
            return r
        r.status = "alpha"
        r.cut_percent = rules["cut_alpha"]
        return r
    r.status = "open" if open_day else "present"
    excused_parts = {e.part for e in excuses}
    if excuses:
        r.half_excuses = tuple(e for e in excuses if e.part in ("masuk", "pulang"))
    used = []
    if arrivals:
        used.append(arrivals[0])
        r.late_minutes = shift.late_minutes(r.masuk)
        r.tl = band(r.late_minutes, rules["tl_bands"], "TL")
    else:
        r.tl = rules["missing_masuk"]
    if departures:
        used.append(departures[-1])
        r.early_minutes = shift.early_minutes(r.pulang)
        r.psw = band(r.early_minutes, rules["psw_bands"], "PSW")
    elif not open_day:
        r.psw = rules["missing_pulang"]
    if "masuk" in excused_parts:  # izin datang terlambat
        r.tl = None
    if "pulang" in excused_parts:  # izin pulang cepat
        r.psw = None
    r.unsynced = any(not p.clock_synced for p in used)
    r.cut_percent = ((rules["cut_tl"][int(r.tl[2:]) - 1] if r.tl else 0.0)
                     + (rules["cut_psw"][int(r.psw[3:]) - 1] if r.psw else 0.0))
    return r
