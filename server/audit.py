"""The audit log: every HR action with who, when, what, and the record before and after.

`record` is called inside the transaction of the change it describes, so a change is never
stored without its entry (nor an entry without its change). Before and after are JSON objects
of the fields that matter (never a password hash or a token).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.engine import Connection

from server.db import audit_log, now

ACTIONS = {
    "login": "masuk", "login_failed": "gagal masuk", "logout": "keluar", "password_changed": "ganti sandi",
    "password_reset": "reset sandi", "account_created": "akun dibuat", "account_changed": "akun diubah",
    "employee_created": "pegawai ditambah", "employee_changed": "pegawai diubah",
    "employee_deactivated": "pegawai dinonaktifkan", "employee_activated": "pegawai diaktifkan",
    "roster_imported": "impor pegawai", "leave_created": "cuti/izin dicatat", "leave_cancelled": "cuti/izin dibatalkan",
    "leave_approved": "cuti/izin disetujui", "leave_rejected": "cuti/izin ditolak", "leave_imported": "impor cuti/izin",
    "correction_created": "koreksi dicatat", "correction_approved": "koreksi disetujui",
    "correction_rejected": "koreksi ditolak", "correction_cancelled": "koreksi dibatalkan",
    "period_closed": "periode ditutup", "period_reopened": "periode dibuka kembali",
    "kiosk_db_imported": "impor database kiosk", "report_downloaded": "laporan diunduh",
    "device_registered": "kiosk didaftarkan", "device_revoked": "token kiosk dicabut",
    "device_units_changed": "unit kiosk diubah", "lookalike_hold_released": "penahanan wajah mirip dilepas",
}


@dataclass(frozen=True)
class Who:
    """Whoever acts: an HR account (id, username) or the command line (id None)."""

    account_id: int | None
    name: str
    ip: str | None = None


CLI = Who(None, "cli")


def _json(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(conn: Connection, who: Who, action: str, target: str = "", unit: str | None = None,
           before: dict | None = None, after: dict | None = None) -> None:
    assert action in ACTIONS, action
    conn.execute(insert(audit_log).values(at=now(), account_id=who.account_id, actor=who.name[:100], action=action,
                                          target=target[:250], unit=unit, before=_json(before), after=_json(after),
                                          ip=who.ip))


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, before and after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entries(conn: Connection, units: frozenset[str] | None = None, actor: str = "", action: str = "",
            target: str = "", first: dt.date | None = None, last: dt.date | None = None, tz=None,
            limit: int = 200, offset: int = 0) -> tuple[list[dict], int]:
    """The newest entries first, filtered; `units` None = every entry, else only entries about
    those units (and the actor's own account actions are not among them). (rows, total)."""
    conds = []
    if units is not None:
        conds.append(audit_log.c.unit.in_(sorted(units)))
    if actor:
        conds.append(audit_log.c.actor == actor)
    if action:
        conds.append(audit_log.c.action == action)
    if target:
        conds.append(or_(audit_log.c.target == target, audit_log.c.target.startswith(f"{target}:", autoescape=True)))
    if first:
        conds.append(audit_log.c.at >= dt.datetime.combine(first, dt.time(), tzinfo=tz))
    if last:
        conds.append(audit_log.c.at < dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz))
    where = and_(*conds) if conds else None
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    count = select(func.count()).select_from(audit_log)
    if where is not None:
        q, count = q.where(where), count.where(where)
    rows = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        row["before"] = json.loads(r["before"]) if r["before"] else None
        row["after"] = json.loads(r["after"]) if r["after"] else None
        rows.append(row)
    return rows, conn.execute(count).scalar_one()
