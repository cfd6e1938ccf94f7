"""Inputs of batch enrollment: the photo folder `<root>/<NIP>/*.jpg|png` and the roster CSV.

Everything here only reads and validates; problems come back as messages that name the file,
line, folder or employee, so HR can fix the input and run again.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.camera.replay import IMAGE_SUFFIXES
from kiosk.fields import field_problem


class EnrollInputError(ValueError):
    """The folder or roster cannot be used at all (nothing is enrolled)."""


@dataclass
class PhotoSet:
    photos: dict[str, list[Path]] = field(default_factory=dict)  # NIP -> photos
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # the items of `refused` that stand for someone who cannot be enrolled: a folder whose name
    # is no NIP or that holds no photo, a photo outside any NIP folder
    unenrolled: list[str] = field(default_factory=list)

    def refuse(self, item: str, reason: str, someone: bool = False) -> None:
        self.refused.append((item, reason))
        if someone:
            self.unenrolled.append(item)


def check_nip(nip: str, pattern: str) -> str | None:
    """Why `nip` is not a valid employee id, or None."""
    if not nip:
        return "empty employee id"
    if re.search(r"\s", nip):
        return f"employee id {nip!r} contains spaces"
    if not re.fullmatch(pattern, nip):
        return f"employee id {nip!r} does not match {pattern} (NIP: 18 digits)"
    return None


def scan_folder(root: Path, nip_pattern: str) -> PhotoSet:
    root = Path(root)
    if not root.exists():
        raise EnrollInputError(f"{root}: folder not found")
    if not root.is_dir():
        raise EnrollInputError(f"{root}: not a folder (expected <root>/<NIP>/photo.jpg)")
    out = PhotoSet()
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in loose:
        out.refuse(str(p), "photo not inside a <NIP> folder", someone=True)
    if not subdirs:
        raise EnrollInputError(f"{root}: no employee folders found (expected <root>/<NIP>/photo.jpg)")
    for d in subdirs:
        problem = check_nip(d.name, nip_pattern)
        if problem:
            out.refuse(str(d), problem, someone=True)
            continue
        files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        photos = []
        for f in files:
            if f.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(f)
            else:
                out.refuse(str(f), f"not an image file ({f.suffix or 'no suffix'})")
        if photos:
            out.photos[d.name] = photos
        else:
            out.refuse(str(d), "folder holds no photos", someone=True)
    return out


def read_roster(path: Path, nip_pattern: str, schedules: set[str] | None = None) -> dict[str, dict]:
    """NIP -> {nip, name, unit, schedule} from a CSV with a header NIP,name[,unit][,schedule]
    (',' or ';'); `schedules` are the schedule names the configuration defines."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EnrollInputError(f"{path}: roster file not found") from None
    except UnicodeDecodeError as e:
        raise EnrollInputError(f"{path}: roster is not UTF-8 text (save it as CSV UTF-8): {e}") from None
    first = text.split("\n", 1)[0].rstrip("\r")
    if not text.strip():
        raise EnrollInputError(f"{path}: roster is empty")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    # csv reads the lines itself: a quoted name may hold a line break (refused below, naming
    # its line) and characters str.splitlines() would take for line ends
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    if "nip" not in header or "name" not in header:
        raise EnrollInputError(f"{path}:1: header must name the columns NIP,name[,unit], got {first!r}")
    col = {h: i for i, h in enumerate(header)}
    roster: dict[str, dict] = {}
    seen_line: dict[str, int] = {}
    for lineno, row in _rows(reader, path):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise EnrollInputError(f"{path}:{lineno}: expected {len(header)} columns, got {len(row)}")
        nip = row[col["nip"]].strip()
        problem = check_nip(nip, nip_pattern)
        if problem:
            raise EnrollInputError(f"{path}:{lineno}: {problem}")
        if nip in roster:
            raise EnrollInputError(f"{path}:{lineno}: NIP {nip} is listed twice (first on line {seen_line[nip]})")
        name = row[col["name"]].strip()
        if not name:
            raise EnrollInputError(f"{path}:{lineno}: NIP {nip} has no name")
        unit = row[col["unit"]].strip() if "unit" in col else ""
        schedule = row[col["schedule"]].strip() if "schedule" in col else ""
        if schedule and schedules is not None and schedule not in schedules:
            raise EnrollInputError(f"{path}:{lineno}: NIP {nip}: schedule {schedule!r} is not defined "
                                   f"in the configuration (defined: {', '.join(sorted(schedules))})")
        for key, value in (("nip", nip), ("name", name), ("unit", unit), ("schedule", schedule)):
            problem = field_problem(key, value)
            if problem:  # the server's columns, and text a CSV, a screen and PostgreSQL take
                raise EnrollInputError(f"{path}:{lineno}: NIP {nip}: {problem}")
        roster[nip] = {"nip": nip, "name": name, "unit": unit, "schedule": schedule or None}
        seen_line[nip] = lineno
    return roster


def _rows(reader, path: Path):
    """(line number where the row starts, row) of a csv reader; a malformed CSV line is named."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise EnrollInputError(f"{path}:{start}: not a CSV line ({e})") from None
        yield start, row
