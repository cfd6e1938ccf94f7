"""`python -m server`: migrate, serve, register-device, device-units, revoke-device, devices,
move-employee, deactivate-employee, holidays, hr-password, openapi.

The database: --database URL, else $KIOSK_SERVER_DB, else ./collector.db (SQLite). For
PostgreSQL: postgresql://user:password@host/dbname (the password is never printed).
Exit status: 0 done, 1 failure (database unreachable ...), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server import PROTOCOL_VERSION


def migrate(url: str | None, engine=None) -> str:
    """Bring the schema to the newest Alembic revision; returns it."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    from server.db import database_url, open_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    own = engine is None
    engine = engine or open_engine(url)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if own:
            engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server", description="Collector server for attendance kiosks.")
    p.add_argument("--database", help="SQLAlchemy URL or SQLite file (default: $KIOSK_SERVER_DB or ./collector.db)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    s = sub.add_parser("serve", help="run the HTTP server (put nginx or caddy with TLS in front)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--rules", type=Path, help="kiosk config.toml whose [device] timezone, [attendance] and "
                                              "[schedules] the dashboard applies")
    s.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from the proxy on loopback")
    r = sub.add_parser("register-device", help="register a kiosk and print its token (shown once)")
    r.add_argument("device_id", help="the kiosk's [device] id")
    r.add_argument("--name", default="")
    r.add_argument("--unit", action="append", default=[], metavar="UNIT",
                   help="a unit this kiosk serves: it reads and writes only their employees (required; repeat "
                        "for a kiosk serving several units; with --replace: replaces its units)")
    r.add_argument("--replace", action="store_true", help="give an existing device a new token")
    r.add_argument("--token-file", type=Path, help="write the token to this file (mode 0600) instead of stdout")
    u = sub.add_parser("device-units", help="set the units a kiosk serves (its token stays)")
    u.add_argument("device_id")
    u.add_argument("--unit", action="append", default=[], metavar="UNIT", required=True,
                   help="a unit it serves (repeat for several)")
    v = sub.add_parser("revoke-device", help="revoke a kiosk's token (it stops uploading at once)")
    v.add_argument("device_id")
    sub.add_parser("devices", help="list devices and their sync state")
    m = sub.add_parser("move-employee", help="HR: move an employee to another unit (its kiosks forget them, the "
                                             "new unit's kiosks get them and their faces)")
    m.add_argument("nip")
    m.add_argument("--unit", required=True, help="the new unit")
    d = sub.add_parser("deactivate-employee", help="mark an employee inactive and delete their templates everywhere")
    d.add_argument("nip")
    h = sub.add_parser("holidays", help="import the holiday calendar (CSV date,name[,kind])")
    h.add_argument("file", type=Path)
    w = sub.add_parser("hr-password", help="set the HR login of the dashboard and CSV exports (asked twice; "
                                           "or one line on standard input with --stdin)")
    w.add_argument("username")
    w.add_argument("--stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("openapi", help="print the protocol's OpenAPI file (docs/protocol/openapi-v1.yaml)")
    return p


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("HR password: ")
    if getpass.getpass("again: ") != first:
        from server.hr_login import PasswordError

        raise PasswordError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from server import service
    from server.db import open_engine, redact

    from server.hr_login import PasswordError

    try:
        if args.command == "openapi":
            from server.app import create_app
            from server.openapi import to_yaml

            sys.stdout.write(to_yaml(create_app("sqlite:///:memory:").openapi()))
            return 0
        if args.command == "migrate":
            rev = migrate(args.database)
            print(f"database {redact(args.database)} at revision {rev} (protocol v{PROTOCOL_VERSION})")
            return 0
        if args.command == "serve":
            import uvicorn

            from server.app import create_app

            migrate(args.database)
            uvicorn.run(create_app(args.database, args.rules), host=args.host, port=args.port,
                        proxy_headers=args.proxy_headers, log_level="info", server_header=False)
            return 0
        engine = open_engine(args.database)
        if args.command == "register-device":
            with engine.begin() as conn:
                token = service.register_device(conn, args.device_id, args.name, args.unit, args.replace)
                units = service.device_units_of(conn, args.device_id)
            if args.token_file:
                from kiosk.fileio import write_atomic

                write_atomic(args.token_file, (token.reveal() + "\n").encode(), mode=0o600)
                print(f"device {args.device_id} registered for {', '.join(units)}; token written to "
                      f"{args.token_file} (copy it to the kiosk's [server] token_file)")
            else:
                print(token.reveal())
                print(f"device {args.device_id} registered for {', '.join(units)}; put the line above in the "
                      "kiosk's token file ([server] token_file). It is shown only once.", file=sys.stderr)
            return 0
        if args.command == "device-units":
            with engine.begin() as conn:
                units = service.set_device_units(conn, args.device_id, args.unit)
            print(f"device {args.device_id} serves {', '.join(units)}")
            return 0
        if args.command == "move-employee":
            with engine.begin() as conn:
                moved = service.move_employee(conn, args.nip, args.unit)
            print(f"employee {args.nip} moved to {args.unit}" if moved
                  else f"employee {args.nip} is in {args.unit} already")
            return 0
        if args.command == "hr-password":
            from server import hr_login

            password = read_password(args.stdin)
            with engine.begin() as conn:
                hr_login.set_password(conn, args.username, password)
            print(f"HR login {args.username} set: the dashboard and exports ask for it (HTTP Basic; serve them "
                  "only over the reverse proxy's TLS)")
            return 0
        if args.command == "revoke-device":
            with engine.begin() as conn:
                service.revoke_device(conn, args.device_id)
            print(f"device {args.device_id}: token revoked")
            return 0
        if args.command == "devices":
            with engine.connect() as conn:
                for d in service.list_devices(conn):
                    state = "revoked" if d["revoked_at"] else "active"
                    print(f"{d['id']}\t{d['unit'] or '(no unit)'}\t{state}\theartbeat {d['last_heartbeat_at'] or 'never'}"
                          f"\tpending {d['pending'] if d['pending'] is not None else '?'}"
                          f"\tclock {'synced' if d['clock_synced'] else 'NOT synced' if d['clock_synced'] is not None else '?'}")
            return 0
        if args.command == "deactivate-employee":
            with engine.begin() as conn:
                n = service.deactivate_employee(conn, args.nip)
            print(f"employee {args.nip} deactivated; {n} template(s) will be deleted from every kiosk")
            return 0
        if args.command == "holidays":
            from kiosk.rules.holidays import HolidayFileError, read_holidays_csv
            from server.db import holidays

            try:
                rows = read_holidays_csv(args.file)
            except HolidayFileError as e:
                raise service.ServiceError(str(e)) from None
            with engine.begin() as conn:
                for r in rows:
                    conn.execute(holidays.delete().where(holidays.c.date == r["date"]))
                    conn.execute(holidays.insert().values(date=r["date"], name=r["name"], kind=r.get("kind", "libur")))
            print(f"imported {len(rows)} date(s) from {args.file}")
            return 0
    except (service.ServiceError, PasswordError) as e:
        print(f"server: error: {e}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as e:
        print(f"server: error: database {redact(args.database)}: {e.orig if hasattr(e, 'orig') else e}"
              " (did you run `python -m server migrate`?)", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
