"""What leave records and HR's corrections have in common: who may see and change one, the
list filters, four-eyes decisions and cancelling.

Four eyes: a record that waits for a second account is approved or rejected by another account
than the one that entered it, and one that may change the employee's unit (an administrator or
an operator of that unit); a viewer never can. Records are cancelled, never deleted. Nothing
dated in a closed month changes. Every change is audited with the record before and after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from server import audit, periods
from server.accounts import Actor
from server.db import employees, now

STATUS_ID = {"approved": "berlaku", "pending": "menunggu persetujuan", "rejected": "ditolak",
             "cancelled": "dibatalkan"}
LIVE = ("approved", "pending")  # records that are (or will be) in force


class RecordError(ValueError):
    """A change of a record that cannot be made; the message (Indonesian) says why."""


@dataclass(frozen=True)
class Kind:
    """One kind of record: its table, how messages and the audit log name it, what the audit
    log keeps of it, and the dates it covers."""

    table: Table
    what: str  # "cuti/izin", "koreksi"
    prefix: str  # audit actions <prefix>_approved ... and targets <prefix>:<id>
    snapshot: Callable[[dict], dict]
    dates: Callable[[dict], tuple[dt.date, dt.date]]


def conditions(actor: Actor, nip_col, nip: str = "", unit: str = "", first_col=None, last_col=None,
               first: dt.date | None = None, last: dt.date | None = None) -> list:
    """The filters of a list of records: the actor's units, an employee, a unit, dates that meet
    [first, last] (`first_col` the record's first date, `last_col` its last)."""
    conds = [actor.scope(employees.c.unit)]
    if nip:
        conds.append(nip_col == nip)
    if unit:
        conds.append(employees.c.unit == unit)
    if first:
        conds.append((last_col if last_col is not None else first_col) >= first.isoformat())
    if last:
        conds.append(first_col <= last.isoformat())
    return conds


def load(conn: Connection, actor: Actor, kind: Kind, record_id: int, write: bool = True) -> dict:
    """A record with its employee's unit, if the actor may see it (and change it, `write`)."""
    t = kind.table
    row = conn.execute(select(t, employees.c.unit).join(employees, employees.c.nip == t.c.nip)
                       .where(t.c.id == record_id)).mappings().first()
    if row is None or not actor.can_read(row["unit"]):
        raise RecordError(f"{kind.what} {record_id} tidak ada")
    if write and not actor.can_write(row["unit"]):
        raise RecordError(f"pegawai {row['nip']} ada di unit {row['unit']}, yang tidak dapat Anda ubah")
    return dict(row)


def _open_dates(conn: Connection, kind: Kind, row: dict) -> None:
    problems = periods.closed_problems(conn, *kind.dates(row))
    if problems:
        raise RecordError("; ".join(problems))


def decide(conn: Connection, who: audit.Who, actor: Actor, kind: Kind, record_id: int, approve: bool) -> dict:
    """Approve or reject a pending record; returns it as it was."""
    row = load(conn, actor, kind, record_id)
    if row["status"] != "pending":
        raise RecordError(f"{kind.what} {record_id} tidak menunggu persetujuan (status: {STATUS_ID[row['status']]})")
    if row["created_by"] == actor.id:
        raise RecordError(f"{kind.what} {record_id} Anda catat sendiri: akun lain yang harus menyetujuinya (empat mata)")
    _open_dates(conn, kind, row)
    status = "approved" if approve else "rejected"
    conn.execute(update(kind.table).where(kind.table.c.id == record_id, kind.table.c.status == "pending")
                 .values(status=status, decided_by=actor.id, decided_at=now()))
    audit.record(conn, who, f"{kind.prefix}_{status}", f"{kind.prefix}:{record_id}", row["unit"],
                 before={"status": "pending"}, after={**kind.snapshot(row), "status": status})
    return row


def cancel(conn: Connection, who: audit.Who, actor: Actor, kind: Kind, record_id: int) -> None:
    """Take a record out of force; it stays stored with its state."""
    row = load(conn, actor, kind, record_id)
    if row["status"] not in LIVE:
        raise RecordError(f"{kind.what} {record_id} sudah {STATUS_ID[row['status']]}")
    _open_dates(conn, kind, row)
    conn.execute(update(kind.table).where(kind.table.c.id == record_id)
                 .values(status="cancelled", decided_by=actor.id or None, decided_at=now()))
    audit.record(conn, who, f"{kind.prefix}_cancelled", f"{kind.prefix}:{record_id}", row["unit"],
                 before={**kind.snapshot(row), "status": row["status"]}, after={"status": "cancelled"})
