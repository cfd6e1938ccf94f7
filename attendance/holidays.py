"""The holiday calendar from a CSV (national holidays and cuti bersama, published each year)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

KINDS = ("libur", "cuti_bersama")


class HolidayFileError(ValueError):
    """The CSV cannot be used; names the file and line. Nothing is imported."""


def read_holidays_csv(path: Path) -> list[dict]:
    """Rows `date,name[,kind]` (date YYYY-MM-DD; kind libur or cuti_bersama, default libur)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise HolidayFileError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise HolidayFileError(f"{path}: not UTF-8 text: {e}") from None
    if not lines:
        raise HolidayFileError(f"{path}: empty")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    if header[:2] != ["date", "name"]:
        raise HolidayFileError(f"{path}:1: header must be date,name[,kind], got {lines[0]!r}")
    rows, seen = [], {}
    for n, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            date = dt.date.fromisoformat(row[0].strip())
        except ValueError:
            raise HolidayFileError(f"{path}:{n}: {row[0]!r} is not a date YYYY-MM-DD") from None
        name = row[1].strip() if len(row) > 1 else ""
        if not name:
            raise HolidayFileError(f"{path}:{n}: {date} has no name")
        kind = row[2].strip() if len(row) > 2 and row[2].strip() else "libur"
        if kind not in KINDS:
            raise HolidayFileError(f"{path}:{n}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if date in seen:
            raise HolidayFileError(f"{path}:{n}: {date} is listed twice (first on line {seen[date]})")
        seen[date] = n
        rows.append({"date": date.isoformat(), "name": name, "kind": kind})
    return rows
