"""Reads and writes of the kiosk database, each write in one transaction.

One SQLite file (sqlite-utils over the stdlib driver), WAL journal, ``synchronous=FULL`` so a
committed attendance event survives a power cut, foreign keys on, and a busy timeout so that a
second process (the enroll CLI while the kiosk runs) waits instead of failing at once.
Every SQLite failure becomes a ``StoreError`` naming the file and what to do.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from kiosk.fields import field_problem
from kiosk.fileio import private_sqlite
from kiosk.store.migrations import migrations

BUSY_TIMEOUT_MS = 5000


def _end_holds(db, column: str, value: str, pushed: int) -> int:
    """Look-alike holds whose `column` ("nip" or "uid") is `value` marked removed, their encoding
    wiped (a tombstone until the collector has heard of it: `pushed` 0); how many."""
    return db.execute(f"update lookalike_holds set deleted = 1, pushed = ?, encoding = zeroblob(512) "
                      f"where {column} = ? and deleted = 0", [pushed, value]).rowcount


class StoreError(RuntimeError):
    """The database cannot be used; the message names the file and the problem."""


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def encode_template(encoding: np.ndarray) -> bytes:
    return np.asarray(encoding, dtype="<f4").reshape(128).tobytes()


def decode_template(blob: bytes) -> np.ndarray:
    if len(blob) != 512:
        raise ValueError(f"a template is 512 bytes (128 float32), got {len(blob)}")
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


@dataclass(frozen=True)
class TemplateRow:
    nip: str
    encoding: np.ndarray
    quality: float | None
    source: str
    model_version: str


class Store:
    def __init__(self, path: str | Path, device_id: str = "", create: bool = True):
        self.path = Path(path)
        self.device_id = device_id
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: database not found (enroll someone first: kiosk enroll ...)")
        with self._errors("open"):
            private_sqlite(self.path)  # personal data: owner-only, with its -wal and -shm
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = FULL")
            migrations.apply(self.db)

    def close(self) -> None:
        # Copy what the WAL holds into the database file itself, so that a technician who copies
        # kiosk.db alone (image/README.md) gets every event; the WAL had kept them all across
        # three boots in image/ci/boot.sh. PASSIVE: never waits for the other connections.
        try:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # locked or full: the WAL keeps the data, it is only not copied yet
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _errors(self, doing: str):
        try:
            yield
        except sqlite3.DatabaseError as e:
            msg = str(e)
            if "locked" in msg or "busy" in msg:
                raise StoreError(
                    f"{self.path}: database is locked by another process (waited "
                    f"{BUSY_TIMEOUT_MS // 1000} s while trying to {doing}); nothing was written"
                ) from e
            if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
                raise StoreError(
                    f"{self.path}: database file is corrupt ({msg}); nothing was written. "
                    "Move it aside and restore the last backup copy."
                ) from e
            if "readonly" in msg or "unable to open" in msg:
                raise StoreError(f"{self.path}: database cannot be opened for writing ({msg})") from e
            if "full" in msg:
                raise StoreError(f"{self.path}: disk is full ({msg}); nothing was written") from e
            raise StoreError(f"{self.path}: database error while trying to {doing}: {msg}") from e
        except OSError as e:
            raise StoreError(f"{self.path}: cannot {doing}: {e}") from e

    @contextmanager
    def transaction(self, doing: str):
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (nothing half-written)."""
        with self._errors(doing):
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                # SQLite has already rolled back after some errors (SQLITE_FULL, IOERR): a
                # second ROLLBACK would replace the real error with "no transaction is active"
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    # --- employees and templates --------------------------------------------------------

    def upsert_employees(self, rows: list[dict], db=None) -> None:
        """Insert or update employees; ValueError names one whose text the collector could not
        store (too long, a control character) before anything is written."""
        for r in rows:
            for key in ("nip", "name", "unit", "schedule"):
                problem = field_problem(key, r[key]) if r.get(key) is not None else None
                if problem:
                    raise ValueError(f"employee {str(r.get('nip'))[:40]!r}: {problem}")
        now = utc_now()
        target = db or self.db
        for r in rows:
            existing = target["employees"].count_where("nip = ?", [r["nip"]])
            if existing:
                changes = {k: r[k] for k in ("name", "unit", "active", "schedule") if r.get(k) not in (None, "")}
                if changes:
                    target["employees"].update(r["nip"], {**changes, "updated_at": now})
            else:
                target["employees"].insert(
                    {"nip": r["nip"], "name": r.get("name") or "", "unit": r.get("unit") or "",
                     "active": int(r.get("active", 1)), "schedule": r.get("schedule") or None,
                     "created_at": now, "updated_at": now}
                )

    def add_templates(self, templates: list[TemplateRow], db) -> int:
        now = utc_now()
        db["face_templates"].insert_all(
            (
                {"nip": t.nip, "encoding": encode_template(t.encoding), "model_version": t.model_version,
                 "quality": t.quality, "source": t.source, "created_at": now}
                for t in templates
            ),
            batch_size=500,
        )
        return len(templates)

    def employees(self) -> list[dict]:
        with self._errors("read employees"):
            return list(self.db.query(
                "select e.nip, e.name, e.unit, e.active, e.schedule, e.created_at, count(t.id) as templates "
                "from employees e left join face_templates t on t.nip = e.nip "
                "group by e.nip order by e.nip"
            ))

    def employee(self, nip: str) -> dict | None:
        with self._errors("read an employee"):
            rows = list(self.db.query("select * from employees where nip = ?", [nip]))
        return rows[0] if rows else None

    def templates(self, model_version: str, active_only: bool = True,
                  nips: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """All templates of one encoder version as (N, 128) float32 and their NIPs."""
        sql = ("select t.nip, t.encoding from face_templates t join employees e on e.nip = t.nip "
               "where t.model_version = ?")
        params: list = [model_version]
        if active_only:
            sql += " and e.active = 1"
        if nips is not None:
            sql += f" and t.nip in ({','.join('?' * len(nips))})"
            params += nips
        with self._errors("read templates"):
            n = self.db.execute(f"select count(*) from ({sql})", params).fetchone()[0]
            mat = np.empty((n, 128), np.float32)
            nips = []
            # ordered by NIP, as the Gallery keeps them: no re-sorting copy
            for i, (nip, blob) in enumerate(self.db.execute(sql + " order by t.nip, t.id", params)):
                if i >= n:
                    break
                mat[i] = np.frombuffer(blob, dtype="<f4")
                nips.append(nip)
        return mat[: len(nips)], nips

    def gallery_version(self) -> int:
        """Bumped by every change of templates or employees (triggers, migration m006)."""
        with self._errors("read the gallery version"):
            return self.db.execute("select version from gallery_version where id = 1").fetchone()[0]

    def template_rows(self, nip: str | None = None) -> list[dict]:
        sql = "select id, nip, encoding, model_version, quality, source, created_at from face_templates"
        params = []
        if nip:
            sql += " where nip = ?"
            params.append(nip)
        with self._errors("read templates"):
            return list(self.db.query(sql + " order by nip, id", params))

    # --- look-alike holds (kiosk.recognition.gallery) ---------------------------------------

    def add_holds(self, rows: list[tuple[str, str, np.ndarray, str]], model_version: str, db) -> int:
        """(refused NIP, employee it resembles, encoding, photo) rows; a photo already held for
        that NIP with the same encoding is not added twice. Each gets a UUID, to be sent to the
        collector (the unit's other kiosks get it from there)."""
        import uuid

        now, added = utc_now(), 0
        for nip, resembles, enc, source in rows:
            blob = encode_template(enc)
            if db.execute("select 1 from lookalike_holds where nip = ? and encoding = ? and deleted = 0",
                          [nip, blob]).fetchone():
                continue
            db["lookalike_holds"].insert({"nip": nip, "resembles": resembles, "encoding": blob,
                                          "model_version": model_version, "source": source, "created_at": now,
                                          "uid": str(uuid.uuid4()), "pushed": 0, "deleted": 0})
            added += 1
        return added

    def holds(self, model_version: str) -> tuple[np.ndarray, list[str]]:
        """The holds in force - of people with no template (once enrolled, their own templates
        compete) - as (N, 128) float32 and the refused NIPs."""
        with self._errors("read look-alike holds"):
            rows = self.db.execute(
                "select h.nip, h.encoding from lookalike_holds h where h.model_version = ? and h.deleted = 0 "
                "and not exists "
                "(select 1 from face_templates t where t.nip = h.nip) order by h.nip, h.id", [model_version]).fetchall()
        mat = np.stack([np.frombuffer(b, dtype="<f4") for _, b in rows]).astype(np.float32) if rows \
            else np.zeros((0, 128), np.float32)
        return mat, [n for n, _ in rows]

    def hold_rows(self) -> list[dict]:
        """One row per held person: NIP, the employee(s) they resemble, photos, since, in force."""
        with self._errors("read look-alike holds"):
            return list(self.db.query(
                "select h.nip, group_concat(distinct h.resembles) as resembles, count(*) as photos, "
                "min(h.created_at) as since, not exists (select 1 from face_templates t where t.nip = h.nip) "
                "as in_force from lookalike_holds h where h.deleted = 0 group by h.nip order by h.nip"))

    def hold_templates(self) -> list[dict]:
        """Every held photo with its encoding (for the template export)."""
        with self._errors("read look-alike holds"):
            return list(self.db.query("select nip, resembles, encoding, model_version, source, created_at "
                                      "from lookalike_holds where deleted = 0 order by nip, id"))

    def remove_holds(self, nips: list[str], db) -> int:
        """Marked removed (and sent to the collector as removed, so the unit's other kiosks drop
        them too); the encoding is wiped at once."""
        return sum(_end_holds(db, "nip", nip, pushed=0) for nip in nips)

    def holds_to_push(self, limit: int = 500) -> list[dict]:
        """Holds made or removed here that the collector has not heard of yet."""
        with self._errors("read look-alike holds to send"):
            return list(self.db.query(
                "select uid, nip, resembles, encoding, model_version, source, created_at, deleted "
                "from lookalike_holds where pushed = 0 order by id limit ?", [limit]))

    def mark_holds_pushed(self, sent: list[str], refused: list[str] = ()) -> None:
        """The collector has them (1), or refused them (2: kept and used here, not sent again)."""
        with self.transaction("record look-alike holds sent to the server") as db:
            for state, uids in ((1, sent), (2, refused)):
                for uid in uids:
                    db.execute("update lookalike_holds set pushed = ? where uid = ?", [state, uid])

    def remove_templates(self, nip: str, actor: str) -> int:
        with self.transaction(f"remove the templates of {nip}") as db:
            n = db["face_templates"].count_where("nip = ?", [nip])
            db.execute("delete from face_templates where nip = ?", [nip])
            self.audit("remove_templates", {"nip": nip, "templates": n}, actor, db=db)
        return n

    # --- attendance ---------------------------------------------------------------------

    def record_event(self, event: dict) -> None:
        """Insert the event and its outbox row in one durable transaction."""
        with self.transaction(f"record the event of {event['nip']}") as db:
            db["attendance_events"].insert({**event, "created_at": utc_now()})
            db["outbox"].insert({"event_id": event["id"], "state": "pending", "attempts": 0,
                                 "queued_at": utc_now()})

    def record_correction(self, event_id: str, source: str, actor: str | None = None) -> dict:
        """Switch a stored masuk/pulang to the other kind: a new event (with its outbox row)
        naming the one it corrects, and an audit entry, in one transaction. The original row
        is never changed. Correcting an event that was already corrected corrects the newest
        correction instead (switching back and forth keeps a chain)."""
        from kiosk.decision import correction

        with self.transaction(f"correct event {event_id}") as db:
            while True:  # the newest event of the chain
                nxt = db.execute("select id from attendance_events where corrects = ? order by created_at desc "
                                 "limit 1", [event_id]).fetchone()
                if nxt is None:
                    break
                event_id = nxt[0]
            rows = list(db.query("select * from attendance_events where id = ?", [event_id]))
            if not rows:
                raise StoreError(f"{self.path}: event {event_id} not found; nothing was corrected")
            event = correction(rows[0], source)
            db["attendance_events"].insert({**event, "created_at": utc_now()})
            db["outbox"].insert({"event_id": event["id"], "state": "pending", "attempts": 0, "queued_at": utc_now()})
            self.audit("attendance_corrected", {"event": event_id, "correction": event["id"], "nip": event["nip"],
                                                "from": rows[0]["kind"], "to": event["kind"], "source": source},
                       actor or f"{source}:{event['nip']}", db=db)
        return event

    def day_events(self, nip: str, work_dates: list[str]) -> list[dict]:
        """The employee's events counted for any of these work dates, oldest first."""
        marks = ",".join("?" * len(work_dates))
        with self._errors("read the employee's events"):
            return list(self.db.query(
                f"select * from attendance_events where nip = ? and work_date in ({marks}) "
                "order by utc_at, monotonic_ns", [nip, *work_dates]))

    def events(self, first: str | None = None, last: str | None = None) -> list[dict]:
        """Events whose work date lies in [first, last] (all when not given), oldest first."""
        sql, params = "select * from attendance_events where 1", []
        if first:
            sql += " and work_date >= ?"
            params.append(first)
        if last:
            sql += " and work_date <= ?"
            params.append(last)
        with self._errors("read events"):
            return list(self.db.query(sql + " order by utc_at, monotonic_ns", params))

    # --- holidays -----------------------------------------------------------------------

    def holidays(self) -> dict:
        import datetime as dt

        with self._errors("read holidays"):
            return {dt.date.fromisoformat(r["date"]): r["name"] for r in self.db.query("select * from holidays")}

    def holiday_rows(self) -> list[dict]:
        with self._errors("read holidays"):
            return list(self.db.query("select * from holidays order by date"))

    def replace_holidays(self, rows: list[dict], source: str, actor: str = "cli") -> None:
        """Insert or update these dates (one transaction)."""
        with self.transaction(f"import holidays from {source}") as db:
            db["holidays"].upsert_all(rows, pk="date")
            self.audit("import_holidays", {"file": source, "dates": len(rows)}, actor, db=db)

    def pending_uploads(self) -> int:
        with self._errors("count the outbox"):
            return self.db["outbox"].count_where("state != 'done'")

    # --- audit --------------------------------------------------------------------------

    def audit(self, action: str, detail: dict, actor: str = "cli", db=None) -> None:
        row = {"at": utc_now(), "device_id": self.device_id, "actor": actor, "action": action,
               "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True)}
        if db is not None:
            db["audit_log"].insert(row)
        else:
            with self.transaction(f"write the audit log ({action})") as tdb:
                tdb["audit_log"].insert(row)

    def audit_rows(self) -> list[dict]:
        with self._errors("read the audit log"):
            return list(self.db.query("select * from audit_log order by id"))

    # --- upload to the collector (kiosk/upload.py) ------------------------------------------

    def outbox_requeue(self) -> int:
        """Rows left in flight by a stopped uploader go back to pending (the server answers
        'duplicate' for any it had already stored)."""
        with self.transaction("re-queue unacknowledged uploads") as db:
            return db.execute("update outbox set state = 'pending', batch_id = null "
                              "where state = 'in_flight'").rowcount

    def outbox_take(self, limit: int, batch_id: str) -> list[dict]:
        """Up to `limit` pending events, oldest first, marked in flight under `batch_id`."""
        with self.transaction("take a batch from the outbox") as db:
            rows = list(db.query(
                "select e.* from outbox o join attendance_events e on e.id = o.event_id "
                "where o.state = 'pending' order by o.rowid limit ?", [limit]))  # queued order; the state index, no sort
            if rows:
                ids = [r["id"] for r in rows]
                db.execute(f"update outbox set state = 'in_flight', batch_id = ?, sent_at = ?, "
                           f"attempts = attempts + 1 where event_id in ({','.join('?' * len(ids))})",
                           [batch_id, utc_now(), *ids])
        return rows

    def outbox_settle(self, done: list[str], rejected: dict[str, str], retry: list[str], error: str = "") -> None:
        """One transaction: acknowledged rows done, refused rows 'rejected' with the server's
        reason (kept, never re-sent), the rest back to pending."""
        now = utc_now()
        with self.transaction("record the server's acknowledgement") as db:
            for i in range(0, len(done), 500):
                chunk = done[i:i + 500]
                db.execute(f"update outbox set state = 'done', acked_at = ?, last_error = null "
                           f"where event_id in ({','.join('?' * len(chunk))})", [now, *chunk])
            for eid, reason in rejected.items():
                db.execute("update outbox set state = 'rejected', acked_at = ?, last_error = ? "
                           "where event_id = ?", [now, reason[:500], eid])
            for i in range(0, len(retry), 500):
                chunk = retry[i:i + 500]
                db.execute(f"update outbox set state = 'pending', batch_id = null, last_error = ? "
                           f"where state != 'done' and event_id in ({','.join('?' * len(chunk))})",
                           [error[:500] or None, *chunk])

    def outbox_counts(self) -> dict[str, int]:
        with self._errors("count the outbox"):
            counts = {"pending": 0, "in_flight": 0, "done": 0, "rejected": 0}
            for state, n in self.db.execute("select state, count(*) from outbox group by state"):
                counts[state] = n
            return counts

    def outbox_rejected(self) -> list[dict]:
        with self._errors("read rejected uploads"):
            return list(self.db.query(
                "select o.event_id, o.last_error, e.nip, e.kind, e.local_time from outbox o "
                "join attendance_events e on e.id = o.event_id where o.state = 'rejected' order by e.utc_at"))

    def newest_times(self) -> tuple[str | None, str | None]:
        """(utc_at of the newest event recorded, utc_at of the newest one the server acknowledged)."""
        with self._errors("read the newest events"):
            rec = self.db.execute("select max(utc_at) from attendance_events").fetchone()[0]
            ack = self.db.execute("select max(e.utc_at) from outbox o join attendance_events e on e.id = o.event_id "
                                  "where o.state in ('done', 'rejected')").fetchone()[0]
        return rec, ack

    def sync_get(self, key: str, default: str | None = None) -> str | None:
        with self._errors("read the sync state"):
            row = self.db.execute("select value from sync_state where key = ?", [key]).fetchone()
        return row[0] if row else default

    def sync_set(self, values: dict[str, str | None], db=None) -> None:
        now = utc_now()
        rows = [{"key": k, "value": v, "updated_at": now} for k, v in values.items()]
        if db is not None:
            db["sync_state"].upsert_all(rows, pk="key")
        else:
            with self.transaction("save the sync state") as tdb:
                tdb["sync_state"].upsert_all(rows, pk="key")

    def templates_to_push(self, limit: int = 500) -> tuple[list[dict], list[dict]]:
        """(employees, templates) enrolled here and not yet on the server; gives every template
        without one a UUID first."""
        import uuid

        with self.transaction("prepare templates for upload") as db:
            for (tid,) in db.execute("select id from face_templates where uid is null").fetchall():
                db.execute("update face_templates set uid = ? where id = ?", [str(uuid.uuid4()), tid])
            tmps = list(db.query("select uid, nip, encoding, model_version, quality, source, created_at "
                                 "from face_templates where pushed = 0 order by id limit ?", [limit]))
            nips = sorted({t["nip"] for t in tmps})
            emps = list(db.query(f"select nip, name, unit, active, schedule from employees "
                                 f"where nip in ({','.join('?' * len(nips))})", nips)) if nips else []
        return emps, tmps

    def mark_templates_refused(self, refused: dict[str, tuple[str, str]]) -> None:
        """Templates the server refused (uid -> (nip, reason)): kept here, used here, not sent
        again until `retry_refused_templates` (kiosk sync --once); the reasons are in the sync
        state for `kiosk sync --status`."""
        if not refused:
            return
        with self.transaction("record templates the server refused") as db:
            known = json.loads(self.sync_get("templates_refused") or "{}")
            known.update({uid: {"nip": nip, "reason": reason[:500]} for uid, (nip, reason) in refused.items()})
            uids = list(refused)
            for i in range(0, len(uids), 500):
                chunk = uids[i:i + 500]
                db.execute(f"update face_templates set pushed = 2 where uid in ({','.join('?' * len(chunk))})", chunk)
            self.sync_set({"templates_refused": json.dumps(known)}, db=db)

    def refused_templates(self) -> list[dict]:
        """[{uid, nip, reason}] of the templates the server refused and that are still here."""
        with self._errors("read the refused templates"):
            known = json.loads(self.sync_get("templates_refused") or "{}")
            here = {u for (u,) in self.db.execute("select uid from face_templates where pushed = 2")}
        return [{"uid": u, **v} for u, v in sorted(known.items()) if u in here]

    def retry_refused_templates(self) -> int:
        with self.transaction("send refused templates again") as db:
            n = db.execute("update face_templates set pushed = 0 where pushed = 2").rowcount
            self.sync_set({"templates_refused": None}, db=db)
        return n

    def mark_templates_pushed(self, uids: list[str]) -> None:
        with self.transaction("record templates sent to the server") as db:
            for i in range(0, len(uids), 500):
                chunk = uids[i:i + 500]
                db.execute(f"update face_templates set pushed = 1 where uid in ({','.join('?' * len(chunk))})", chunk)

    def apply_roster(self, page: dict, model_version: str | None = None) -> dict:
        """A roster page from the server, in one transaction: employees inserted or updated
        (inactive ones stay, marked), templates added by UUID or deleted, the version saved.
        Every row is checked before anything is written."""
        import base64

        emps, tmps = page["employees"], page["templates"]
        checked = []
        for t in tmps:
            if t.get("deleted"):
                checked.append((t["uid"], None, t))
                continue
            blob = base64.b64decode(t["encoding"], validate=True)
            decode_template(blob)  # 512 bytes or ValueError
            checked.append((t["uid"], blob, t))
        checked_holds = {}  # uid -> encoding of the holds to add
        for h in page.get("holds") or []:
            if not h.get("deleted"):
                missing = [k for k in ("uid", "nip", "resembles", "model_version", "encoding") if not h.get(k)]
                if missing:
                    raise KeyError(f"hold {h.get('uid')} without {', '.join(missing)}")
                checked_holds[h["uid"]] = base64.b64decode(h["encoding"], validate=True)
                decode_template(checked_holds[h["uid"]])  # 512 bytes or ValueError
        now = utc_now()
        added = deleted = 0
        with self.transaction("apply the roster from the server") as db:
            self.upsert_employees([{**e, "active": int(bool(e.get("active", True)))} for e in emps], db=db)
            for e in emps:  # upsert_employees skips empty values: apply what the server says
                db.execute("update employees set active = ?, schedule = ? where nip = ?",
                           [int(bool(e.get("active", True))), e.get("schedule") or None, e["nip"]])
            for uid, blob, t in checked:
                if blob is None:
                    deleted += db.execute("delete from face_templates where uid = ?", [uid]).rowcount
                    continue
                if db.execute("select 1 from face_templates where uid = ?", [uid]).fetchone():
                    continue
                if not db.execute("select 1 from employees where nip = ?", [t["nip"]]).fetchone():
                    raise ValueError(f"roster template {uid} names employee {t['nip']}, who is not in the roster")
                db["face_templates"].insert({"nip": t["nip"], "encoding": blob, "model_version": t["model_version"],
                                             "quality": t.get("quality"), "source": "server", "created_at": now,
                                             "uid": uid, "pushed": 1})
                added += 1
            held = unheld = 0
            for h in page.get("holds") or []:  # look-alike holds made at the unit's other kiosks
                if h.get("deleted"):
                    unheld += _end_holds(db, "uid", h["uid"], pushed=1)  # the collector has it already
                elif not db.execute("select 1 from lookalike_holds where uid = ?", [h["uid"]]).fetchone():
                    db["lookalike_holds"].insert({
                        "nip": h["nip"], "resembles": h["resembles"], "encoding": checked_holds[h["uid"]],
                        "model_version": h["model_version"], "source": "server", "created_at": now,
                        "uid": h["uid"], "pushed": 1, "deleted": 0})
                    held += 1
            self.sync_set({"roster_version": str(int(page["version"]))}, db=db)
            if emps or added or deleted or held or unheld:
                self.audit("roster_pull", {"version": page["version"], "employees": len(emps), "templates_added": added,
                                           "templates_deleted": deleted, "holds_added": held, "holds_removed": unheld},
                           actor="uploader", db=db)
        return {"employees": len(emps), "templates_added": added, "templates_deleted": deleted,
                "holds_added": held, "holds_removed": unheld}
