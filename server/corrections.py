"""HR's corrections of punches: a separate record for each, the kiosk's event never changed.

* `add`: a masuk or pulang the kiosk did not record (the machine was down, the employee signed
  the paper list), with its time and the reason;
* `relabel`: a kiosk event counted as the other kind (masuk <-> pulang).

An approved correction's punch counts as the kind it was given at any hour (attendance.day);
the day is marked corrected in every report. The employee's own switch on the kiosk's card is
not one of these records: it arrives as an event naming the one it corrects (events.corrects,
issue 15), counts at once, marks the day too, and is listed here beside HR's (`listing`). With `[collector] four_eyes_corrections` a
correction waits for another account's approval (server.records). A closed month refuses new
corrections; every change is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from attendance.day import PUNCH_KINDS, Correction
from attendance.schedule import Calendar, schedule_for, schedules_from_config
from kiosk.fields import plain_text_problem
from server import audit, periods
from server.records import LIVE, Kind, conditions
from server.accounts import Actor
from server.config import ServerConfig
from server.db import corrections, employees, events, holidays, now

ACTION_ID = {"add": "tambah", "relabel": "ubah jenis"}


class CorrectionError(ValueError):
    """A correction that cannot be made; the message (Indonesian) says why."""


def snapshot(row) -> dict:
    return {k: row[k] for k in ("nip", "work_date", "action", "kind", "local_time", "event_id", "reason")}


KIND = Kind(corrections, "koreksi", "correction", snapshot, lambda r: (dt.date.fromisoformat(r["work_date"]),) * 2)


def _employee(conn: Connection, actor: Actor, nip: str):
    emp = conn.execute(select(employees).where(employees.c.nip == nip)).mappings().first()
    if emp is None or not actor.can_read(emp["unit"]):
        raise CorrectionError(f"pegawai {nip} tidak ada" + ("" if actor.all_units else " di unit Anda"))
    if not actor.can_write(emp["unit"]):
        raise CorrectionError(f"pegawai {nip} ada di unit {emp['unit']}, yang tidak dapat Anda ubah")
    return emp


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    problem = plain_text_problem(reason)
    if problem or len(reason) < 5 or len(reason) > 500:
        raise CorrectionError(f"alasan {problem or 'harus 5-500 karakter (mis. daftar hadir kertas, kiosk mati)'}")
    return reason


def _insert(conn: Connection, who: audit.Who, unit: str, row: dict, four_eyes: bool, created_by: int | None) -> int:
    problems = periods.closed_problems(conn, *(dt.date.fromisoformat(row["work_date"]),) * 2)
    if problems:
        raise CorrectionError("; ".join(problems))
    status = "pending" if four_eyes else "approved"
    cid = conn.execute(insert(corrections).values(**row, status=status, created_by=created_by, created_at=now())
                       ).inserted_primary_key[0]
    audit.record(conn, who, "correction_created", f"correction:{cid}", unit, after={**row, "status": status})
    return cid


def add_punch(conn: Connection, who: audit.Who, actor: Actor, settings: ServerConfig, nip: str, kind: str,
              at: dt.datetime, reason: str, four_eyes: bool) -> int:
    """A masuk or pulang at local time `at` (naive: the server's zone); its work date is the
    one whose punch window holds it on the employee's schedule."""
    emp = _employee(conn, actor, nip)
    if kind not in PUNCH_KINDS:
        raise CorrectionError(f"jenis {kind!r} harus masuk atau pulang")
    reason = _check_reason(reason)
    rules = settings.rules
    at = at.replace(tzinfo=rules.tz) if at.tzinfo is None else at.astimezone(rules.tz)
    schedule = schedule_for(dict(emp), schedules_from_config(rules), rules.values["attendance"])
    cal = Calendar.from_config(rules.values["attendance"],
                               {dt.date.fromisoformat(d): n for d, n in conn.execute(select(holidays.c.date,
                                                                                            holidays.c.name))})
    work_date, shift = schedule.locate(at, cal)
    if shift is None:
        raise CorrectionError(f"{at:%d-%m-%Y %H:%M} di luar jendela absen jadwal {schedule.name} "
                              f"({schedule.punch_from:%H:%M}-{schedule.punch_until:%H:%M}), atau bukan hari kerja")
    duplicate = conn.execute(select(corrections.c.id).where(
        corrections.c.nip == nip, corrections.c.action == "add", corrections.c.kind == kind,
        corrections.c.local_time == at.isoformat(), corrections.c.status.in_(LIVE))).first()
    if duplicate:
        raise CorrectionError(f"koreksi yang sama sudah ada (no. {duplicate.id})")
    row = {"nip": nip, "work_date": work_date.isoformat(), "action": "add", "kind": kind,
           "local_time": at.isoformat(), "event_id": None, "reason": reason}
    return _insert(conn, who, emp["unit"], row, four_eyes, actor.id or None)


def _relabel_row(conn: Connection, nip: str, event_id: str, kind: str, reason: str) -> dict:
    if kind not in PUNCH_KINDS:
        raise CorrectionError(f"jenis {kind!r} harus masuk atau pulang")
    ev = conn.execute(select(events.c.nip, events.c.work_date, events.c.kind).where(events.c.id == event_id)).first()
    if ev is None or ev.nip != nip:
        raise CorrectionError(f"catatan kiosk {event_id} milik pegawai {nip} tidak ada")
    by_employee = conn.execute(select(events.c.id).where(events.c.corrects == event_id)).first()
    if by_employee:
        raise CorrectionError(f"catatan ini sudah diganti pegawai di kiosk (catatan {by_employee.id}); koreksilah "
                              "catatan penggantinya")
    if ev.kind not in PUNCH_KINDS:
        raise CorrectionError(f"catatan {event_id} adalah {ev.kind}; hanya masuk atau pulang yang dapat diubah jenisnya")
    earlier = conn.execute(select(corrections.c.id).where(corrections.c.event_id == event_id,
                                                          corrections.c.status.in_(LIVE))).first()
    if earlier:
        raise CorrectionError(f"catatan ini sudah dikoreksi (no. {earlier.id}); batalkan koreksi itu dulu")
    return {"nip": nip, "work_date": ev.work_date, "action": "relabel", "kind": kind, "local_time": None,
            "event_id": event_id, "reason": reason}


def relabel(conn: Connection, who: audit.Who, actor: Actor, nip: str, event_id: str, kind: str, reason: str,
            four_eyes: bool) -> int:
    """HR counts the kiosk event `event_id` as `kind`."""
    emp = _employee(conn, actor, nip)
    row = _relabel_row(conn, nip, event_id, kind, _check_reason(reason))
    return _insert(conn, who, emp["unit"], row, four_eyes, actor.id or None)


@dataclass
class DayEvents:
    events: list[dict]
    corrections: list[dict]


def day_events(conn: Connection, actor: Actor, nip: str, work_date: dt.date) -> DayEvents:
    """The kiosk events and the corrections of one employee's work date, for HR to correct."""
    emp = conn.execute(select(employees.c.unit).where(employees.c.nip == nip)).first()
    if emp is None or not actor.can_read(emp.unit):
        raise CorrectionError(f"pegawai {nip} tidak ada" + ("" if actor.all_units else " di unit Anda"))
    evs = [dict(r) for r in conn.execute(select(events.c.id, events.c.kind, events.c.local_time, events.c.device_id,
                                                events.c.clock_synced, events.c.in_window, events.c.corrects)
                                         .where(events.c.nip == nip, events.c.work_date == work_date.isoformat())
                                         .order_by(events.c.utc_at, events.c.received_at)).mappings()]
    replaced = {e["corrects"]: e["id"] for e in evs if e["corrects"]}
    for e in evs:
        e["replaced_by"] = replaced.get(e["id"])
    cs = [dict(r) for r in conn.execute(select(corrections).where(
        corrections.c.nip == nip, corrections.c.work_date == work_date.isoformat())
        .order_by(corrections.c.id)).mappings()]
    return DayEvents(evs, cs)


def listing(conn: Connection, actor: Actor, nip: str = "", unit: str = "", first: dt.date | None = None,
            last: dt.date | None = None, status: str = "", limit: int = 500) -> list[dict]:
    """HR's corrections and the employees' own switches at the kiosks (events naming the one they
    correct: in force at once), newest first."""
    conds = conditions(actor, corrections.c.nip, nip, unit, corrections.c.work_date, None, first, last)
    if status:
        conds.append(corrections.c.status == status)
    q = (select(corrections, employees.c.name, employees.c.unit).join(employees, employees.c.nip == corrections.c.nip)
         .where(and_(*conds)).order_by(corrections.c.work_date.desc(), corrections.c.id.desc()).limit(limit))
    rows = [{**dict(r), "source": "hr"} for r in conn.execute(q).mappings()]
    if status in ("", "approved"):
        conds = conditions(actor, events.c.nip, nip, unit, events.c.work_date, None, first, last)
        conds.append(events.c.corrects.is_not(None))
        q = (select(events.c.id, events.c.nip, events.c.work_date, events.c.kind, events.c.local_time,
                    events.c.corrects, events.c.device_id, employees.c.name, employees.c.unit)
             .join(employees, employees.c.nip == events.c.nip).where(and_(*conds))
             .order_by(events.c.work_date.desc()).limit(limit))
        rows += [{"id": None, "nip": r.nip, "work_date": r.work_date, "action": "relabel", "kind": r.kind,
                  "local_time": r.local_time, "event_id": r.corrects, "reason": "diganti pegawai di kiosk",
                  "source": "kiosk", "device_id": r.device_id, "status": "approved", "created_by": None,
                  "name": r.name, "unit": r.unit} for r in conn.execute(q)]
        rows.sort(key=lambda r: (r["work_date"], r["id"] or 0), reverse=True)
    return rows[:limit]


def approved(conn: Connection, first: dt.date, last: dt.date, units: list[str] | None,
             tz) -> dict[tuple[str, str], list[Correction]]:
    """{(nip, work_date ISO): [Correction]} approved between `first` and `last` (of `units`)."""
    q = select(corrections.c.nip, corrections.c.work_date, corrections.c.action, corrections.c.kind,
               corrections.c.local_time, corrections.c.event_id).where(
        corrections.c.status == "approved", corrections.c.work_date >= first.isoformat(),
        corrections.c.work_date <= last.isoformat())
    if units is not None:
        q = q.where(corrections.c.nip.in_(select(employees.c.nip).where(employees.c.unit.in_(units))))
    out: dict[tuple[str, str], list[Correction]] = {}
    for nip, work_date, action, kind, local_time, event_id in conn.execute(q):
        at = dt.datetime.fromisoformat(local_time).astimezone(tz) if local_time else None
        out.setdefault((nip, work_date), []).append(Correction(action, kind, at, event_id or ""))
    return out
