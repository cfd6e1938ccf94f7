"""Schedules: which shift a moment belongs to, and whether a day is a working day.

A schedule (config `[schedules.NAME]`) gives, per weekday, working hours "HH:MM-HH:MM" (a shift
may cross midnight), breaks, Ramadan hours, grace minutes and the accepted punch window. A
punch belongs to the *work date* whose window contains it: for a night shift 21:00-07:00 a punch
at 06:40 on Tuesday counts for Monday's shift. Pure code: the kiosk, reports and the collector
server share it (no Qt, dlib, OpenCV or numpy: the collector installs without them).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleError(ValueError):
    """A schedule that cannot work (e.g. a shift outside its punch window); names the schedule."""


def _hm(s: str) -> dt.time:
    h, m = s.split(":")
    return dt.time(int(h), int(m))


@dataclass(frozen=True)
class Shift:
    work_date: dt.date
    start: dt.datetime  # aware, local
    end: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime
    break_start: dt.datetime | None
    break_end: dt.datetime | None
    grace_minutes: int
    ramadan: bool

    @functools.cached_property
    def split(self) -> dt.datetime:
        """Before this a punch is an arrival (masuk), from it on a departure (pulang)."""
        return self.start + (self.end - self.start) / 2

    def in_window(self, t: dt.datetime) -> bool:
        return self.window_start <= t <= self.window_end

    def in_break(self, t: dt.datetime) -> bool:
        return self.break_start is not None and self.break_start <= t <= self.break_end

    def late_minutes(self, t: dt.datetime) -> int:
        """Whole minutes after the start (07:30:59 is not late, 07:31:00 is 1 minute late),
        0 within the grace minutes."""
        minutes = int((t.replace(second=0, microsecond=0) - self.start).total_seconds() // 60)
        return minutes if minutes > self.grace_minutes else 0

    def early_minutes(self, t: dt.datetime) -> int:
        """Whole minutes before the end (15:59:xx is 1 minute early, 16:00:xx is not)."""
        minutes = int((self.end - t.replace(second=0, microsecond=0)).total_seconds() // 60)
        return max(0, minutes)


@dataclass(frozen=True)
class Calendar:
    """What makes a date special: public holidays / cuti bersama and Ramadan periods."""

    holidays: dict[dt.date, str]
    ramadan: tuple[tuple[dt.date, dt.date], ...] = ()

    def is_ramadan(self, d: dt.date) -> bool:
        return any(a <= d <= b for a, b in self.ramadan)

    @classmethod
    def from_config(cls, attendance: dict, holidays: dict[dt.date, str]) -> "Calendar":
        periods = tuple((dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in attendance["ramadan"])
        return cls(holidays, periods)


class Schedule:
    def __init__(self, name: str, conf: dict, tz: zoneinfo.ZoneInfo):
        self.name, self.tz = name, tz
        self.week, self.breaks, self.ramadan_week = conf["week"], conf["breaks"], conf["ramadan"]
        self.grace = conf["grace_minutes"]
        self.punch_from, self.punch_until = _hm(conf["punch_from"]), _hm(conf["punch_until"])
        self._check()

    def _check(self) -> None:
        probe = dt.date(2024, 1, 1)  # a Monday
        for i, day in enumerate(DAYS):
            for week, label in ((self.week, "week"), (self.ramadan_week, "ramadan")):
                if not week[i]:
                    continue
                s = self._shift(probe + dt.timedelta(days=i), week[i], "")
                if not (s.window_start <= s.start and s.end <= s.window_end):
                    raise ScheduleError(
                        f"[schedules.{self.name}] {label} {day} {week[i]} lies outside the punch "
                        f"window {self.punch_from:%H:%M}-{self.punch_until:%H:%M}; set punch_from/punch_until")

    def _at(self, d: dt.date, t: dt.time) -> dt.datetime:
        return dt.datetime.combine(d, t, tzinfo=self.tz)

    def _shift(self, d: dt.date, span: str, brk: str, ramadan: bool = False) -> Shift:
        a, b = _hm(span[:5]), _hm(span[6:])
        start, end = self._at(d, a), self._at(d + dt.timedelta(days=b <= a), b)
        w0 = self._at(d, self.punch_from)
        w1 = self._at(d + dt.timedelta(days=self.punch_until <= self.punch_from), self.punch_until)
        b0 = b1 = None
        if brk:
            ba, bb = _hm(brk[:5]), _hm(brk[6:])
            b0 = self._at(d + dt.timedelta(days=ba < a), ba)
            b1 = self._at(d + dt.timedelta(days=bb < a), bb)
        return Shift(d, start, end, w0, w1, b0, b1, self.grace, ramadan)

    def day_kind(self, d: dt.date, cal: Calendar) -> str:
        """'holiday', 'off' (weekend or a day the schedule does not work) or 'work'."""
        if d in cal.holidays:
            return "holiday"
        week = self.ramadan_week if cal.is_ramadan(d) else self.week
        return "work" if week[d.weekday()] else "off"

    def shift(self, d: dt.date, cal: Calendar) -> Shift | None:
        """The shift of work date `d`, or None on a holiday or a day off."""
        if self.day_kind(d, cal) != "work":
            return None
        ramadan = cal.is_ramadan(d)
        week = self.ramadan_week if ramadan else self.week
        return self._shift(d, week[d.weekday()], "" if ramadan else self.breaks[d.weekday()], ramadan)

    def locate(self, t: dt.datetime, cal: Calendar) -> tuple[dt.date, Shift | None]:
        """The work date a punch at `t` counts for, and its shift if `t` is inside its window.

        Today's shift is tried first, then yesterday's (a night shift ending this morning).
        Outside every window: today's date and None (the punch is kept and marked).
        """
        t = t.astimezone(self.tz)
        for d in (t.date(), t.date() - dt.timedelta(days=1)):
            s = self.shift(d, cal)
            if s is not None and s.in_window(t):
                return d, s
        return t.date(), None


def schedules_from_config(cfg) -> dict[str, Schedule]:
    return {name: Schedule(name, conf, cfg.tz) for name, conf in cfg.values["schedules"].items()}


def schedule_for(employee: dict, schedules: dict[str, Schedule], attendance: dict) -> Schedule:
    """The employee's own schedule, else their unit's, else the default."""
    name = (employee.get("schedule") or attendance["unit_schedules"].get(employee.get("unit") or "")
            or attendance["default_schedule"])
    try:
        return schedules[name]
    except KeyError:
        raise ScheduleError(f"employee {employee.get('nip')}: schedule {name!r} is not defined "
                            f"(defined: {', '.join(schedules)})") from None
