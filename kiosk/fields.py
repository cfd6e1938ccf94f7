"""What an employee record's text may hold, shared by the kiosk (roster CSV, its database) and
the collector (its request schemas), so that a name the kiosk accepts is one the server stores.

The lengths are the collector's columns (server/db.py; a test keeps them equal): PostgreSQL
refuses a longer value, a NUL character or a lone UTF-16 surrogate, and a control character in
a name breaks the CSV and the screen it is shown on.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = {"nip": 40, "name": 200, "unit": 200, "schedule": 40}

# control characters (C0, DEL, C1), lone surrogates, line and paragraph separators
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def encoding_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text in any database (NUL, lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not valid Unicode)"
    return None


def plain_text_problem(value: str) -> str | None:
    """Why `value` is not one line of printable text (a name, a unit), or None."""
    problem = encoding_problem(value)
    if problem:
        return problem
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"contains the control character U+{ord(ch):04X} at position {i + 1}"
    return None


def field_problem(field: str, value: str) -> str | None:
    """Why `value` cannot be an employee's `field` (nip, name, unit, schedule), or None."""
    if not isinstance(value, str):
        return f"{field} must be text"
    problem = plain_text_problem(value)
    if problem:
        return f"{field} {problem}"
    limit = MAX_LENGTH[field]
    if len(value) > limit:
        return f"{field} is {len(value)} characters long; at most {limit} fit"
    return None
