"""`kiosk-collector` (or `python -m server`): migrate, serve, config, create-admin, reset-password,
accounts, register-device, device-units, revoke-device, devices, move-employee,
deactivate-employee, holidays, openapi.

The database: --database URL, else $KIOSK_SERVER_DB, else ./collector.db (SQLite). For
PostgreSQL: postgresql://user:password@host/dbname (the password is never printed).
Exit status: 0 done, 1 failure (database unreachable ...), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk import __version__
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
    p = argparse.ArgumentParser(prog="kiosk-collector", description="Collector server for attendance kiosks.")
    p.add_argument("--database", help="SQLAlchemy URL or SQLite file (default: $KIOSK_SERVER_DB or ./collector.db)")
    p.add_argument("--config", type=Path, help="collector.toml (default: $KIOSK_COLLECTOR_CONFIG, else the built-in "
                                               "defaults; `config --print-defaults` lists them)")
    p.add_argument("--version", action="version", version=f"kiosk-collector {__version__} (protocol v{PROTOCOL_VERSION})")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    s = sub.add_parser("serve", help="run the HTTP server (put nginx or caddy with TLS in front)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workers", type=int, default=1,
                   help="server processes (PostgreSQL: several share every state through the database)")
    s.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from the proxy on loopback")
    c = sub.add_parser("config", help="check the configuration file, or print every setting with its default")
    c.add_argument("--print-defaults", action="store_true", help="print server/collector.toml")
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
    w = sub.add_parser("create-admin", help="create an administrator account of the HR pages (the first one; "
                                            "the password is asked twice, or one line on standard input with --stdin)")
    w.add_argument("username")
    w.add_argument("--name", default="", help="the administrator's full name")
    w.add_argument("--stdin", action="store_true", help="read the password from standard input")
    w = sub.add_parser("reset-password", help="set a new password for an account (a locked-out administrator); "
                                              "its sessions end")
    w.add_argument("username")
    w.add_argument("--stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("accounts", help="list the HR accounts")
    sub.add_parser("openapi", help="print the protocol's OpenAPI file (docs/protocol/openapi-v1.yaml)")
    return p


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    from server.service import ServiceError

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ServiceError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from server import config as server_config

    if args.command == "config" and args.print_defaults:
        sys.stdout.write(server_config.render_defaults())
        return 0
    try:
        settings = server_config.load(args.config)
    except server_config.SettingsError as e:
        print(f"kiosk-collector: error: {e}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(f"configuration {' '.join(map(str, settings.files)) or '(built-in defaults)'}: OK")
        return 0
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from server import service
    from server.db import open_engine, redact

    from server.accounts import AccountError
    from server.employees import EmployeeError

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
            import os

            import uvicorn

            from server.db import DEFAULT_URL_ENV, database_url

            migrate(args.database)
            # every worker process builds its app from the environment (server.app.app_from_env)
            os.environ[DEFAULT_URL_ENV] = database_url(args.database)
            if args.config:
                os.environ[server_config.CONFIG_ENV] = str(args.config.resolve())
            uvicorn.run("server.app:app_from_env", factory=True, host=args.host, port=args.port,
                        workers=args.workers, proxy_headers=args.proxy_headers, log_level="info",
                        server_header=False)
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
            from server import audit, employees
            from server.accounts import CLI_ACTOR

            with engine.begin() as conn:
                row = employees.get(conn, CLI_ACTOR, args.nip)
                moved = employees.edit(conn, audit.CLI, CLI_ACTOR, args.nip, {"unit": args.unit},
                                       set(settings.rules.values["schedules"]))
            print(f"employee {args.nip} moved from {row['unit']} to {args.unit}" if moved
                  else f"employee {args.nip} is in {args.unit} already")
            return 0
        if args.command in ("create-admin", "reset-password"):
            from server import accounts, audit

            password = read_password(args.stdin)
            min_length = settings.collector["min_password"]
            with engine.begin() as conn:
                if args.command == "create-admin":
                    accounts.create(conn, audit.CLI, args.username, args.name, "admin", [], password, min_length)
                    print(f"administrator {args.username.strip().lower()} created: sign in on the HR pages")
                else:
                    row = accounts.by_username(conn, args.username)
                    if row is None:
                        raise AccountError(f"akun {args.username} tidak ada")
                    accounts.reset_password(conn, audit.CLI, row["id"], password, min_length)
                    print(f"password of {row['username']} set; its owner changes it at the next sign-in")
            return 0
        if args.command == "accounts":
            from server import accounts

            with engine.connect() as conn:
                for a in accounts.list_all(conn):
                    print(f"{a['username']}\t{a['role']}\t{', '.join(a['units']) or '-'}\t"
                          f"{'active' if a['active'] else 'inactive'}\t{a['full_name']}")
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
            from server import audit, employees
            from server.accounts import CLI_ACTOR

            with engine.begin() as conn:
                n = employees.deactivate(conn, audit.CLI, CLI_ACTOR, args.nip)
            print(f"employee {args.nip} deactivated; {n} template(s) will be deleted from every kiosk")
            return 0
        if args.command == "holidays":
            from attendance.holidays import HolidayFileError, read_holidays_csv
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
    except (service.ServiceError, AccountError, EmployeeError) as e:
        print(f"server: error: {e}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as e:
        print(f"server: error: database {redact(args.database)}: {e.orig if hasattr(e, 'orig') else e}"
              " (did you run `python -m server migrate`?)", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
