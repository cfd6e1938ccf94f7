"""Every CSV the kiosk and the collector write: cells that a spreadsheet would run as a formula
are written as text."""

from __future__ import annotations

import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab or CR first: a name like
    `=HYPERLINK(...)`) gets a leading ' so it shows as text; numbers and other text are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: list[dict], columns: list[tuple[str, int]]) -> str:
    """`rows` as CSV with the given (name, width) columns, in that order; other keys are left out."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[c for c, _ in columns], lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()
