"""Monthly periods. A month is open until an administrator closes it, which is allowed once the
month is over and every kiosk has reported past its end (its last heartbeat with nothing
pending came after midnight of the month's last day: no event of the month can still arrive).
Closing stores the month's recap as a snapshot: downloads of a closed month are that snapshot,
whatever arrives or changes later, and its leave and corrections can no longer change. Reopening
(with a reason) makes the month live again; both are audited. Events a kiosk uploads into a
closed month are still stored (an event is never lost) and counted on the periods page.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from attendance.recap import month_bounds, monthly_rows
from server import audit
from server.accounts import Actor
from server.db import aware, events, now, periods


class PeriodError(ValueError):
    """A period that cannot be closed or reopened now; the message (Indonesian) says why."""


def closed_problems(conn: Connection, first: dt.date, last: dt.date) -> list[str]:
    """Why records dated `first`..`last` cannot change now: the closed months they touch."""
    months = []
    d = first.replace(day=1)
    while d <= last:
        months.append(f"{d:%Y-%m}")
        d = (d + dt.timedelta(days=32)).replace(day=1)
    closed = [m for (m,) in conn.execute(select(periods.c.month).where(periods.c.month.in_(months),
                                                                        periods.c.status == "closed"))]
    return [f"periode {m} sudah ditutup; buka kembali dulu (administrator)" for m in sorted(closed)]


def get(conn: Connection, month: str) -> dict | None:
    row = conn.execute(select(periods).where(periods.c.month == month)).mappings().first()
    return dict(row) if row else None


def end_of(month: str, tz) -> dt.datetime:
    """Midnight after the month's last day, local time."""
    _, last = month_bounds(month)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)


@dataclass
class Readiness:
    month: str
    over: bool
    devices: list[dict]  # every kiosk with `complete` (everything up to the month's end arrived)
    waiting: list[str]  # kiosks not yet past the end

    @property
    def ready(self) -> bool:
        return self.over and not self.waiting


def readiness(conn: Connection, month: str, tz, at: dt.datetime | None = None) -> Readiness:
    from server.reports import incomplete, sync_state

    at = at or now()
    end = end_of(month, tz)
    devices = sync_state(conn, end, max(at, end + dt.timedelta(days=1)))
    return Readiness(month, at >= end, devices, incomplete(devices))


def arrived_after_closing(conn: Connection, month: str, closed_at: dt.datetime | None) -> int:
    """Events of the month received after it was closed (stored, not in its snapshot)."""
    if closed_at is None:
        return 0
    first, last = month_bounds(month)
    return conn.execute(select(func.count()).select_from(events).where(
        events.c.work_date >= first.isoformat(), events.c.work_date <= last.isoformat(),
        events.c.received_at > closed_at)).scalar_one()


def snapshot_of(conn: Connection, settings, month: str, at: dt.datetime) -> dict:
    from server.reports import compute

    first, last = month_bounds(month)
    columns = settings.rules.leave_columns
    employees, units = monthly_rows(compute(conn, settings, first, last, at), month, columns)
    return {"month": month, "columns": list(columns), "employees": employees, "units": units}


def close(conn: Connection, who: audit.Who, actor: Actor, settings, month: str) -> dict:
    if not actor.is_admin:
        raise PeriodError("hanya administrator yang dapat menutup periode")
    tz = settings.rules.tz
    state = readiness(conn, month, tz)
    if not state.over:
        raise PeriodError(f"periode {month} belum berakhir")
    if state.waiting:
        raise PeriodError(f"kiosk {', '.join(state.waiting)} belum melapor setelah akhir periode {month} (semua "
                          "catatannya belum tentu terkirim); tunggu, cabut kiosk yang hilang, atau impor databasenya")
    row = get(conn, month)
    if row and row["status"] == "closed":
        raise PeriodError(f"periode {month} sudah ditutup")
    t = now()
    snap = snapshot_of(conn, settings, month, end_of(month, tz))
    values = {"status": "closed", "closed_at": t, "closed_by": actor.id or None, "note": "",
              "snapshot": json.dumps(snap, ensure_ascii=False)}
    if row:
        conn.execute(update(periods).where(periods.c.month == month).values(**values))
    else:
        conn.execute(insert(periods).values(month=month, **values))
    summary = {"pegawai": len(snap["employees"]), "unit": len(snap["units"]),
               "alpha": sum(r["alpha"] for r in snap["employees"])}
    audit.record(conn, who, "period_closed", f"period:{month}", None, before={"status": row["status"] if row else "open"},
                 after={"status": "closed", **summary})
    return snap


def reopen(conn: Connection, who: audit.Who, actor: Actor, month: str, reason: str) -> None:
    if not actor.is_admin:
        raise PeriodError("hanya administrator yang dapat membuka kembali periode")
    reason = reason.strip()
    if len(reason) < 5 or len(reason) > 500:
        raise PeriodError("alasan membuka kembali harus 5-500 karakter (dicatat di log audit)")
    row = get(conn, month)
    if row is None or row["status"] != "closed":
        raise PeriodError(f"periode {month} tidak sedang ditutup")
    conn.execute(update(periods).where(periods.c.month == month).values(
        status="open", reopened_at=now(), reopened_by=actor.id or None, note=reason, snapshot=None))
    audit.record(conn, who, "period_reopened", f"period:{month}", None,
                 before={"status": "closed", "closed_at": aware(row["closed_at"])},
                 after={"status": "open", "reason": reason})


def recent(conn: Connection, tz, count: int = 12, also: str = "") -> list[dict]:
    """The last `count` months, `also` and every month ever closed, newest first, with their state."""
    today = dt.datetime.now(tz).date()
    months, d = {also} if also else set(), today.replace(day=1)
    for _ in range(count):
        months.add(f"{d:%Y-%m}")
        d = (d - dt.timedelta(days=1)).replace(day=1)
    stored = {r["month"]: dict(r) for r in conn.execute(
        select(periods.c.month, periods.c.status, periods.c.closed_at, periods.c.closed_by, periods.c.reopened_at,
               periods.c.note)).mappings()}
    return [stored.get(m, {"month": m, "status": "open", "closed_at": None, "reopened_at": None, "note": ""})
            for m in sorted(months | set(stored), reverse=True)]
