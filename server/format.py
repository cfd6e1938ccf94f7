"""Dates, times and numbers as HR reads them, in Bahasa Indonesia and the server's time zone."""

from __future__ import annotations

import datetime as dt

BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember")
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def tanggal(d: dt.date | None) -> str:
    """1 Desember 2026"""
    return f"{d.day} {BULAN[d.month - 1]} {d.year}" if d else ""


def hari_tanggal(d: dt.date) -> str:
    """Selasa, 1 Desember 2026"""
    return f"{HARI[d.weekday()]}, {tanggal(d)}"


def bulan(month: str) -> str:
    """2026-11 -> November 2026"""
    y, m = month.split("-")
    return f"{BULAN[int(m) - 1]} {y}"


def waktu(t: dt.datetime | None, tz) -> str:
    """A stored moment in local time: 01-12-2026 07:42 (UTC when it has no zone)."""
    if t is None:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(tz).strftime("%d-%m-%Y %H:%M")


def persen(x: float) -> str:
    """1.25 -> 1,25"""
    return f"{x:.2f}".rstrip("0").rstrip(".").replace(".", ",") if x else "0"
