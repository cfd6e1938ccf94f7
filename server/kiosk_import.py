"""A kiosk's database file (kiosk.db from a replaced kiosk's SD card, or its nightly backup) as
that kiosk's events, exactly once: each file once (its SHA-256 is recorded), each event once
(its UUID, as for an upload: events the kiosk had already uploaded are counted, not stored
again). Every event is checked by the same model as an upload (server.schemas.Event); one that
fails is reported, the others are stored. Nothing is stored when the file names a kiosk the
server does not know, or when new events fall in a closed month (reopen it first).

The file is opened read-only and immutable. A copy of a live database may lack the last
transactions still in its -wal file: take the kiosk's nightly backup, or copy the database with
`sqlite3 kiosk.db ".backup kiosk-copy.db"`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from server import audit, periods, service
from server.accounts import Actor
from server.db import devices, events, kiosk_imports, now
from server.schemas import Event, check_events

CHUNK = 2000


class KioskImportError(ValueError):
    """The file cannot be imported; the message (Indonesian) says why. Nothing was stored."""


@dataclass
class ImportResult:
    filename: str
    devices: list[str]
    total: int = 0
    new: int = 0
    present: int = 0
    rejected: list[str] = field(default_factory=list)  # "event id: reason"
    first_date: str | None = None
    last_date: str | None = None


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _rows(path: Path, filename: str) -> list[dict]:
    fields = list(Event.model_fields)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as e:
        raise KioskImportError(f"{filename}: tidak dapat dibuka sebagai database SQLite ({e})") from None
    try:
        db.row_factory = sqlite3.Row
        try:
            columns = {r["name"] for r in db.execute("pragma table_info(attendance_events)")}
        except sqlite3.DatabaseError as e:
            raise KioskImportError(f"{filename}: bukan database SQLite yang utuh ({e})") from None
        if not columns:
            raise KioskImportError(f"{filename}: bukan database kiosk (tidak ada tabel attendance_events)")
        missing = [f for f in ("id", "nip", "kind", "local_time", "utc_at", "device_id", "work_date") if f not in columns]
        if missing:
            raise KioskImportError(f"{filename}: tabel attendance_events tanpa kolom {', '.join(missing)} (database "
                                   "kiosk versi lama: perbarui kiosknya dulu)")
        select_list = ", ".join(f for f in fields if f in columns)
        try:
            return [{k: v for k, v in dict(r).items() if v is not None}
                    for r in db.execute(f"select {select_list} from attendance_events order by utc_at")]
        except sqlite3.DatabaseError as e:
            raise KioskImportError(f"{filename}: database rusak ({e})") from None
    finally:
        db.close()


def import_file(conn: Connection, who: audit.Who, actor: Actor, path: Path, filename: str) -> ImportResult:
    """Import in the caller's transaction (all or nothing)."""
    if not actor.is_admin:
        raise KioskImportError("hanya administrator yang dapat mengimpor database kiosk")
    sha = _sha256(path)
    earlier = conn.execute(select(kiosk_imports).where(kiosk_imports.c.sha256 == sha)).mappings().first()
    if earlier:
        raise KioskImportError(f"{filename}: berkas ini sudah diimpor pada {earlier['imported_at']:%d-%m-%Y %H:%M} UTC "
                               f"({earlier['events_new']} catatan baru dari {earlier['events_total']})")
    rows = _rows(path, filename)
    checked = check_events(rows)
    good = [e for e in checked if not isinstance(e, str)]
    result = ImportResult(filename, sorted({e.device_id for e in good}), total=len(rows))
    result.rejected = [f"{r.get('id', '?')}: {why}" for r, why in zip(rows, checked) if isinstance(why, str)]
    known = {d for (d,) in conn.execute(select(devices.c.id).where(devices.c.id.in_(result.devices)))}
    unknown = sorted(set(result.devices) - known)
    if unknown:
        raise KioskImportError(f"{filename}: kiosk {', '.join(unknown)} tidak terdaftar di server; daftarkan dulu "
                               "(kiosk-collector register-device) lalu impor lagi")
    ids = [e.id for e in good]
    stored = set()
    for i in range(0, len(ids), CHUNK):
        stored |= {x for (x,) in conn.execute(select(events.c.id).where(events.c.id.in_(ids[i:i + CHUNK])))}
    new = [e for e in good if e.id not in stored]
    if new:
        dates = sorted({e.work_date for e in new})
        result.first_date, result.last_date = dates[0], dates[-1]
        problems = periods.closed_problems(conn, dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1]))
        closed = [p for p in problems if any(p.startswith(f"periode {d[:7]} ") for d in dates)]
        if closed:
            raise KioskImportError(f"{filename}: ada catatan baru di bulan yang ditutup: " + "; ".join(closed))
    received = now()
    for i in range(0, len(new), CHUNK):
        inserted, refused = service.insert_events(conn, [service.event_row(e, None, received) for e in new[i:i + CHUNK]])
        result.new += len(inserted)
        result.rejected += [f"{eid}: {why}" for eid, why in refused.items()]
    result.present = len(good) - len(new)
    conn.execute(insert(kiosk_imports).values(
        sha256=sha, filename=filename[:200], devices=", ".join(result.devices)[:500], events_total=result.total,
        events_new=result.new, first_date=result.first_date, last_date=result.last_date,
        imported_by=actor.id or None, imported_at=received))
    audit.record(conn, who, "kiosk_db_imported", f"file:{filename}"[:250], None, after={
        "sha256": sha, "devices": result.devices, "total": result.total, "new": result.new,
        "already_stored": result.present, "rejected": len(result.rejected)})
    return result


def history(conn: Connection, limit: int = 50) -> list[dict]:
    return [dict(r) for r in conn.execute(select(kiosk_imports).order_by(kiosk_imports.c.id.desc()).limit(limit))
            .mappings()]
