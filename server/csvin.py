"""CSV files HR uploads (the roster from the personnel system, leave lists): read as a personnel
system or a spreadsheet writes them - UTF-8 with or without BOM, else Windows-1252; comma,
semicolon or tab; headers in any case, with the usual Indonesian names - into rows with their
line numbers. Every problem names the file and the line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

MAX_ROWS = 50_000


class CsvError(ValueError):
    """The file cannot be read at all (nothing is imported); the message names file and line."""


@dataclass
class Table:
    rows: list[tuple[int, dict[str, str]]]  # (line number, {column: value, stripped})
    encoding: str
    delimiter: str
    ignored_columns: list[str] = field(default_factory=list)


def _key(h: str) -> str:
    return " ".join(h.strip().lower().replace("_", " ").replace("/", " ").split())


def read_table(data: bytes, filename: str, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> Table:
    """`columns`: our name -> the header spellings accepted for it (compared in lower case with
    '_' and '/' as spaces)."""
    try:
        text, encoding = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("cp1252", errors="replace"), "Windows-1252"
    if "\x00" in text:
        raise CsvError(f"{filename}: bukan berkas teks CSV (berisi karakter NUL); simpan sebagai CSV dari "
                       "aplikasi kepegawaian atau spreadsheet")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CsvError(f"{filename}: berkas kosong atau baris pertama (judul kolom) kosong")
    first = lines[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as e:
        raise CsvError(f"{filename} baris 1: {e}") from None
    aliases = {_key(a): name for name, spellings in columns.items() for a in (name, *spellings)}
    index: dict[str, int] = {}
    ignored = []
    for i, h in enumerate(header):
        name = aliases.get(_key(h))
        if name is None:
            if h.strip():
                ignored.append(h.strip())
            continue
        if name in index:
            raise CsvError(f"{filename} baris 1: kolom {name} muncul dua kali ({header[index[name]]!r} dan {h!r})")
        index[name] = i
    missing = [c for c in required if c not in index]
    if missing:
        raise CsvError(f"{filename} baris 1: kolom {', '.join(missing)} tidak ada (judul kolom yang ditemukan: "
                       f"{', '.join(h.strip() for h in header) or '-'}; pemisah {delimiter!r})")
    rows = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvError(f"{filename}: lebih dari {MAX_ROWS} baris; bagi berkasnya")
            rows.append((line, {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}))
    except csv.Error as e:
        raise CsvError(f"{filename} baris {reader.line_num}: {e}") from None
    return Table(rows, encoding, delimiter, ignored)
