"""Schema migrations, from the first release on (sqlite-utils' Migrations: each step runs in a
transaction and is recorded in _sqlite_migrations). Never edit a released step: add a new one.

Times: `*_at` columns are UTC ISO-8601 strings; attendance events also keep the local time with
its UTC offset, as the employee saw it on the screen.
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("kiosk")


@migrations()
def m001_initial(db):
    db["employees"].create(
        {"nip": str, "name": str, "unit": str, "active": int, "created_at": str, "updated_at": str},
        pk="nip",
        not_null={"nip", "name", "active", "created_at", "updated_at"},
        defaults={"active": 1, "name": "", "unit": ""},
    )
    db["face_templates"].create(
        {
            "id": int,
            "nip": str,
            "encoding": bytes,  # 128 little-endian float32
            "model_version": str,
            "quality": float,  # sharpness of the enrolled face (higher = sharper)
            "source": str,  # photo path or 'kiosk', 'import:<file>'
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("nip", "employees", "nip")],
        not_null={"nip", "encoding", "model_version", "created_at"},
    )
    db["face_templates"].create_index(["nip"])
    db["attendance_events"].create(
        {
            "id": str,  # UUID4, also the upload idempotency key
            "nip": str,
            "kind": str,  # masuk | pulang
            "local_time": str,  # ISO-8601 with UTC offset, e.g. 2026-11-24T07:12:03+07:00
            "utc_at": str,
            "local_date": str,  # YYYY-MM-DD in the device's time zone
            "monotonic_ns": int,  # CLOCK_MONOTONIC at the decision (orders events within a boot)
            "boot_id": str,  # which boot the monotonic stamp belongs to
            "clock_synced": int,  # 1 if the wall clock was NTP-synchronised when recorded
            "distance": float,
            "margin": float,
            "device_id": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("nip", "employees", "nip")],
        not_null={"nip", "kind", "local_time", "utc_at", "local_date", "device_id"},
    )
    db["attendance_events"].create_index(["nip", "local_date"])
    db["outbox"].create(
        {"event_id": str, "state": str, "attempts": int, "queued_at": str, "last_error": str},
        pk="event_id",
        foreign_keys=[("event_id", "attendance_events", "id")],
        defaults={"state": "pending", "attempts": 0},
    )
    db["audit_log"].create(
        {"id": int, "at": str, "device_id": str, "actor": str, "action": str, "detail": str},
        pk="id",
        not_null={"at", "action"},
    )


@migrations()
def m002_rules(db):
    """Attendance rules: the work date a punch counts for (night shifts), whether it was inside
    the punch window, an employee's own schedule, and the holiday calendar."""
    db["attendance_events"].add_column("work_date", str)
    db["attendance_events"].add_column("in_window", int)
    db.execute("update attendance_events set work_date = local_date, in_window = 1")
    db["attendance_events"].create_index(["nip", "work_date"])
    db["employees"].add_column("schedule", str)
    db["holidays"].create(
        {"date": str, "name": str, "kind": str},  # kind: libur (national holiday) | cuti_bersama
        pk="date",
        not_null={"date", "name", "kind"},
    )


@migrations()
def m003_admin(db):
    """Admin mode at the kiosk: the PIN (scrypt hash, never the PIN) and the lockout state,
    kept in the database so a restart does not reset the count of wrong PINs."""
    db["admin_pin"].create(
        {"id": int, "hash": str, "failed": int, "locked_until": str, "updated_at": str},
        pk="id",
        not_null={"hash", "failed", "updated_at"},
        defaults={"failed": 0},
    )


@migrations()
def m004_upload(db):
    """Upload to the collector server (docs/upload.md): which batch an outbox row was sent in and
    when it was acknowledged; templates get a UUID (the server's key for them) and a flag for
    those enrolled here and not yet pushed; sync_state keeps the roster version, the last
    acknowledgement and a revoked token's state across restarts."""
    import uuid

    db["outbox"].add_column("batch_id", str)
    db["outbox"].add_column("sent_at", str)
    db["outbox"].add_column("acked_at", str)
    db["outbox"].create_index(["state"])
    db["face_templates"].add_column("uid", str)
    db["face_templates"].add_column("pushed", int, not_null_default=0)
    for (tid,) in db.execute("select id from face_templates").fetchall():
        db.execute("update face_templates set uid = ? where id = ?", [str(uuid.uuid4()), tid])
    db["face_templates"].create_index(["uid"], unique=True)
    db["sync_state"].create({"key": str, "value": str, "updated_at": str}, pk="key", not_null={"key", "updated_at"})


@migrations()
def m005_liveness(db):
    """The liveness verdict of each event (state, reason, the signals' scores), as JSON."""
    db["attendance_events"].add_column("liveness", str)


@migrations()
def m006_gallery_version(db):
    """A counter that every change of the gallery bumps - templates added or removed, employees
    added, renamed, (de)activated - whoever makes it (roster pull, HR at the kiosk, the CLI):
    the running recognition worker reloads its gallery when it changes."""
    db.execute("create table gallery_version (id integer primary key check (id = 1), version integer not null)")
    db.execute("insert into gallery_version (id, version) values (1, 0)")
    bump = "begin update gallery_version set version = version + 1 where id = 1; end"
    db.execute(f"create trigger gallery_template_added after insert on face_templates {bump}")
    db.execute(f"create trigger gallery_template_removed after delete on face_templates {bump}")
    db.execute(f"create trigger gallery_employee_added after insert on employees {bump}")
    db.execute(f"create trigger gallery_employee_removed after delete on employees {bump}")
    db.execute("create trigger gallery_employee_changed after update of name, active, unit, schedule on employees "
               "when old.name is not new.name or old.active is not new.active or old.unit is not new.unit "
               f"or old.schedule is not new.schedule {bump}")


@migrations()
def m007_corrections(db):
    """An employee's switch of MASUK <-> PULANG on the card is a new event naming the one it
    corrects (``corrects``) and who did it (``correction_source``); the original stays."""
    db["attendance_events"].add_column("corrects", str)
    db["attendance_events"].add_column("correction_source", str)
    db["attendance_events"].create_index(["corrects"])


@migrations()
def m008_admin_accounts(db):
    """HR accounts (a name and a PIN each) so the audit log says who; the lockout after wrong
    PINs is the kiosk's, not an account's (a PIN names its account). A PIN set before this
    release becomes the account "HR"."""
    db["admin_accounts"].create(
        {"name": str, "hash": str, "created_at": str, "updated_at": str},
        pk="name", not_null={"name", "hash", "created_at", "updated_at"},
    )
    db["admin_lock"].create({"id": int, "failed": int, "locked_until": str, "updated_at": str}, pk="id",
                            not_null={"failed", "updated_at"}, defaults={"failed": 0})
    for row in db.query("select hash, failed, locked_until, updated_at from admin_pin where id = 1"):
        db["admin_accounts"].insert({"name": "HR", "hash": row["hash"], "created_at": row["updated_at"],
                                     "updated_at": row["updated_at"]})
        db["admin_lock"].insert({"id": 1, "failed": row["failed"], "locked_until": row["locked_until"],
                                 "updated_at": row["updated_at"]})


@migrations()
def m009_lookalike_holds(db):
    """Photos `kiosk enroll` refused as another employee's duplicate, of a person it could not
    enroll: kept so the kiosk refuses that face instead of recording it as the employee it
    resembles (kiosk.recognition.gallery, "look-alike holds"). Biometric data, like templates."""
    db["lookalike_holds"].create(
        {
            "id": int,
            "nip": str,  # the refused person (not necessarily a stored employee)
            "resembles": str,  # the employee their face was taken for
            "encoding": bytes,  # 128 little-endian float32, as face_templates
            "model_version": str,
            "source": str,  # the refused photo
            "created_at": str,
            "uid": str,  # UUID: the collector shares it with the unit's other kiosks
            "pushed": int,  # 0 to send (a new hold, or its removal), 1 sent or from the server, 2 refused
            "deleted": int,  # 1: removed by HR (kept until the collector has heard of it)
        },
        pk="id",
        not_null={"nip", "resembles", "encoding", "model_version", "created_at", "pushed", "deleted"},
        defaults={"pushed": 0, "deleted": 0},
    )
    db["lookalike_holds"].create_index(["nip"])
    db["lookalike_holds"].create_index(["uid"], unique=True)
    bump = "begin update gallery_version set version = version + 1 where id = 1; end"
    db.execute(f"create trigger gallery_hold_added after insert on lookalike_holds {bump}")
    db.execute(f"create trigger gallery_hold_removed after delete on lookalike_holds {bump}")
    db.execute(f"create trigger gallery_hold_changed after update of deleted on lookalike_holds "
               f"when old.deleted is not new.deleted {bump}")
