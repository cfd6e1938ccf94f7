"""The attendance rules' settings: [attendance], [schedules.NAME], [leave] and [leave_types.CODE].

[attendance] and [schedules.NAME] have exactly the kiosk's keys and defaults (a test compares
them with kiosk/config.py), so the kiosks' sections can be copied into the collector's
configuration as they are. [leave] and [leave_types.CODE] exist on the collector only: which
leave and permit types HR may record and which recap column each is counted in.

`RulesConfig` is what attendance.recap and attendance.schedule read: `values` by section and
`tz`, the same two attributes as the kiosk's Config.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from attendance.day import Excuse
from attendance.schedule import DAYS, Schedule, ScheduleError
from attendance.settings import Section, Setting, SettingsError

ZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
HHMM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
SPAN = rf"{HHMM}-{HHMM}"
PARTS = ("day", "masuk", "pulang")


def _week(v: list) -> str | None:
    if len(v) != 7:
        return f"needs 7 entries (Monday..Sunday), has {len(v)}"
    for day, span in zip(DAYS, v):
        if not isinstance(span, str) or (span and not re.fullmatch(SPAN, span)):
            return f"{day}: {span!r} is not \"HH:MM-HH:MM\" or \"\""
        if span and span[:5] == span[6:]:
            return f"{day}: {span!r} starts and ends at the same time"
    return None


def _ascending(n: int):
    def check(v: list) -> str | None:
        if len(v) != n or not all(type(x) is int and x > 0 for x in v) or sorted(set(v)) != v:
            return f"needs {n} ascending whole minutes"
        return None
    return check


def _percents(n: int):
    def check(v: list) -> str | None:
        if len(v) != n or not all(type(x) in (int, float) and 0 <= x <= 100 for x in v):
            return f"needs {n} percentages between 0 and 100"
        return None
    return check


def _names(v: dict) -> str | None:
    bad = [k for k, x in v.items() if not isinstance(x, str)]
    return f"schedule names must be strings ({', '.join(bad)})" if bad else None


def _periods(v: list) -> str | None:
    for pair in v:
        try:
            a, b = (dt.date.fromisoformat(x) for x in pair)
        except (TypeError, ValueError):
            return f"{pair!r} is not [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]"
        if b < a or (b - a).days > 31:
            return f"{pair!r} is not a period of at most 31 days"
    return None


def _columns(v: dict) -> str | None:
    if not v:
        return "needs at least one column"
    for k, x in v.items():
        if not re.fullmatch(r"[A-Z]{1,4}", k) or not isinstance(x, str) or not x:
            return f"{k!r}: columns are 1-4 capital letters, each with a name (e.g. C = \"cuti\")"
    return None


def _new_schedule(table: dict, given: dict) -> None:
    """A new shift pattern: no office breaks, and the same hours in Ramadan, unless given."""
    if "week" in given:
        if "breaks" not in given:
            table["breaks"] = [""] * 7
        if "ramadan" not in given:
            table["ramadan"] = list(table["week"])


ATTENDANCE = Section("Attendance rules: masuk/pulang, late (TL) and early-leave (PSW) bands, cuts", [
    Setting("repeat_minutes", 5,
            "A recognition within this many minutes of the same employee's last record "
            "is 'sudah tercatat' and records nothing.", lo=1, hi=720),
    Setting("first_punch_pulang_minutes", 60,
            "The first punch of a work date is MASUK (terlambat N menit if late), also after "
            "mid-shift, unless it comes this close to the shift's end or after it: then PULANG. "
            "The employee can switch it on the card (docs/rules.md).", lo=0, hi=720),
    Setting("correction_seconds", 8.0,
            "How long the card offers the button that switches MASUK <-> PULANG.", lo=0.0, hi=60.0),
    Setting("default_schedule", "kantor", "Schedule of employees whose unit has none below."),
    Setting("unit_schedules", {},
            "Unit name -> schedule name, e.g. { \"Puskesmas Sragen\" = \"puskesmas\" }. "
            "An employee's own schedule (roster column `schedule`) wins over both.", validate=_names),
    Setting("tl_bands", [30, 60, 90],
            "Late minutes ending TL1, TL2, TL3 (TL1 1-30, TL2 31-60, TL3 61-90, TL4 more).",
            validate=_ascending(3)),
    Setting("psw_bands", [30, 60, 90], "Early-leave minutes ending PSW1, PSW2, PSW3 (PSW4 more).",
            validate=_ascending(3)),
    Setting("cut_tl", [0.5, 1.0, 1.25, 1.5], "Allowance (TPP) cut in percent for TL1..TL4.", validate=_percents(4)),
    Setting("cut_psw", [0.5, 1.0, 1.25, 1.5], "Allowance cut in percent for PSW1..PSW4.", validate=_percents(4)),
    Setting("cut_alpha", 3.0, "Allowance cut in percent for a working day with no record.", lo=0.0, hi=100.0),
    Setting("missing_masuk", "TL4", "Category of a day with pulang but no masuk.",
            choices=("TL1", "TL2", "TL3", "TL4")),
    Setting("missing_pulang", "PSW4", "Category of a day with masuk but no pulang.",
            choices=("PSW1", "PSW2", "PSW3", "PSW4")),
    Setting("ramadan", [],
            "Ramadan periods as [[\"first day\", \"last day\"], ...], set each year after the "
            "government's announcement; schedules use their `ramadan` week on those days.", validate=_periods),
    Setting("track_breaks", False, "Record istirahat (break out and back) for punches inside a schedule's break."),
])

SCHEDULES = Section(
    "Working schedules by name: [schedules.kantor] is the default; add tables such as [schedules.malam] for "
    "shifts. Weeks list Monday..Sunday as \"HH:MM-HH:MM\" or \"\" (day off); a shift may cross midnight "
    "(\"21:00-07:00\"). A new schedule that gives `week` has no breaks and keeps its hours in Ramadan unless it "
    "says otherwise", [
        Setting("week", ["07:30-16:00"] * 4 + ["07:30-16:30", "", ""],
                "Working hours Monday..Sunday (Keppres 68/1995 timetable).", validate=_week),
        Setting("breaks", ["12:00-13:00"] * 4 + ["11:30-13:00", "", ""],
                "Breaks Monday..Sunday (for istirahat records).", validate=_week),
        Setting("ramadan", ["08:00-15:00"] * 4 + ["08:00-15:30", "", ""],
                "Working hours Monday..Sunday during the [attendance] ramadan periods.", validate=_week),
        Setting("grace_minutes", 0, "Minutes after the start that do not count as late yet.", lo=0, hi=120),
        Setting("punch_from", "06:00", "Earliest accepted punch of a working day.", pattern=HHMM),
        Setting("punch_until", "18:00",
                "Latest accepted punch (earlier than punch_from = the next morning: night shifts).", pattern=HHMM),
    ], named={"kantor": {}}, new_table=_new_schedule)

LEAVE = Section("Leave and permits: the recap columns excused days are counted in", [
    Setting("columns", {"C": "cuti", "S": "sakit", "I": "izin", "DL": "dinas luar"},
            "Recap column -> what it counts, in the order the recap shows them.", validate=_columns),
])

DEFAULT_LEAVE_TYPES = {
    "CT": {"name": "Cuti tahunan", "column": "C"},
    "CB": {"name": "Cuti besar", "column": "C"},
    "CS": {"name": "Cuti sakit", "column": "S"},
    "CM": {"name": "Cuti melahirkan", "column": "C"},
    "CAP": {"name": "Cuti karena alasan penting", "column": "C"},
    "CLTN": {"name": "Cuti di luar tanggungan negara", "column": "C"},
    "I": {"name": "Izin", "column": "I"},
    "S": {"name": "Sakit", "column": "S"},
    "DL": {"name": "Dinas luar / tugas", "column": "DL"},
    "ITL": {"name": "Izin datang terlambat", "column": "", "part": "masuk"},
    "IPC": {"name": "Izin pulang cepat", "column": "", "part": "pulang"},
}

LEAVE_TYPES = Section(
    "Leave and permit types by code ([leave_types.CT] ...): add a table for another type. `part` = \"day\" "
    "excuses the whole working day (no alpha, no TL/PSW, counted in `column`); \"masuk\" excuses only the "
    "arrival band (izin datang terlambat), \"pulang\" only the departure band (izin pulang cepat)", [
        Setting("name", "", "What HR and the reports call it."),
        Setting("column", "C", "The [leave] column a full day is counted in (\"\" for a half-day permit)."),
        Setting("part", "day", "day | masuk | pulang.", choices=PARTS),
    ], named=DEFAULT_LEAVE_TYPES)

RULES_SCHEMA: dict[str, Section] = {"attendance": ATTENDANCE, "schedules": SCHEDULES, "leave": LEAVE,
                                    "leave_types": LEAVE_TYPES}


def check_rules(values: dict, tz: str, where: str) -> None:
    """What single keys cannot show: schedule names that exist, schedules that work, leave
    columns that exist."""
    a, schedules = values["attendance"], values["schedules"]
    for key, name in [("default_schedule", a["default_schedule"]), *a["unit_schedules"].items()]:
        if name not in schedules:
            raise SettingsError(f"{where}: [attendance] {key} names schedule {name!r}, which is not "
                                f"defined (defined: {', '.join(schedules)})")
    for name, conf in schedules.items():
        try:
            Schedule(name, conf, zoneinfo.ZoneInfo(tz))
        except ScheduleError as e:
            raise SettingsError(f"{where}: {e}") from None
    columns = values["leave"]["columns"]
    for code, t in values["leave_types"].items():
        if not re.fullmatch(r"[A-Z0-9_]{1,16}", code):
            raise SettingsError(f"{where}: [leave_types.{code}] codes are 1-16 capital letters, digits or '_'")
        if not t["name"]:
            raise SettingsError(f"{where}: [leave_types.{code}] needs a name")
        if t["part"] == "day" and t["column"] not in columns:
            raise SettingsError(f"{where}: [leave_types.{code}] column {t['column']!r} is not one of the [leave] "
                                f"columns ({', '.join(columns)})")
        if t["part"] != "day" and t["column"]:
            raise SettingsError(f"{where}: [leave_types.{code}] a half-day permit (part = {t['part']!r}) is not "
                                "counted in a column: set column = \"\"")


@dataclass
class RulesConfig:
    """Validated rules: `values[section]`, the time zone `tz`; leave types as Excuses."""

    values: dict[str, Any]
    timezone: str = "Asia/Jakarta"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def leave_columns(self) -> tuple[str, ...]:
        return tuple(self.values["leave"]["columns"])

    def excuse(self, code: str) -> Excuse:
        t = self.values["leave_types"][code]
        return Excuse(code, t["column"], t["part"], t["name"])
