"""The `kiosk` command: run, identify, enroll, templates, self-test, config.

Configuration: --config FILE, else $KIOSK_CONFIG, else ./config.toml if present, else the
image's /etc/kiosk/config.toml if present, else the built-in defaults; then the per-device
override file, read the same way as the service reads it (kiosk.config.default_override).
Exit status: 0 done, 1 done with refusals or a runtime failure, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from kiosk import __version__
from kiosk.camera import CameraError
from kiosk.config import ConfigError, load_config, render_defaults
from kiosk.imageio import ImageReadError
from kiosk.store import Store, StoreError
from kiosk_models import ModelError

log = logging.getLogger("kiosk")
IMAGE_CONFIG = Path("/etc/kiosk/config.toml")  # on an imaged kiosk (the service's KIOSK_CONFIG)



class UsageError(ValueError):
    """A command-line value that cannot be used."""


INPUT_ERRORS = (ConfigError, ImageReadError, UsageError)


def build_parser() -> argparse.ArgumentParser:
    from enroll.cli import add_commands

    p = argparse.ArgumentParser(prog="kiosk", description="Face-recognition attendance kiosk.")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    p.add_argument("--config", type=Path, help="main configuration file (TOML)")
    p.add_argument("--override", type=Path, help="per-device override file (default: $KIOSK_OVERRIDE, else "
                   "/run/kiosk/kiosk.toml, else /boot/firmware/kiosk.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the kiosk window (--headless: no window, JSON lines on stdout)")
    r.add_argument("--headless", action="store_true", help="no window; print each decision as a JSON line")
    r.add_argument("--windowed", action="store_true", help="a normal window instead of fullscreen")
    r.add_argument("--screenshot", help="with --max-seconds: save the window to this PNG before quitting")
    r.add_argument("--loop", action="store_true", help="replay: start again at the end")
    r.add_argument("--camera", help="camera source (overrides [camera] source)")
    r.add_argument("--fps", type=float, help="replay frame rate (overrides [camera] fps)")
    r.add_argument("--hold", type=float, default=1.0, help="replay: seconds each still image is shown")
    r.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    r.add_argument("--no-realtime", action="store_true",
                   help="replay every frame in order as fast as possible (tests)")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("identify", help="identify the face in each image; one JSON line per image")
    i.add_argument("images", nargs="+", type=Path)
    i.set_defaults(func=cmd_identify)

    add_commands(sub)
    from kiosk.upload import add_commands as add_sync

    add_sync(sub)

    rp = sub.add_parser("report", help="attendance reports: daily list or monthly recap (CSV or XLSX)")
    rsub = rp.add_subparsers(dest="kind", required=True)
    rd = rsub.add_parser("daily", help="every employee's day: masuk, pulang, TL/PSW, status, cut")
    rd.add_argument("--date", help="YYYY-MM-DD (default: today)")
    rm = rsub.add_parser("monthly", help="recap per employee and per unit")
    rm.add_argument("--month", help="YYYY-MM (default: this month)")
    rm.add_argument("--by", choices=("employee", "unit"), default="employee", help="CSV: which recap")
    for x in (rd, rm):
        x.add_argument("--format", choices=("csv", "xlsx"), default="csv")
        x.add_argument("-o", "--output", type=Path, help="file to write (required for xlsx)")
        x.set_defaults(func=cmd_report)

    h = sub.add_parser("holidays", help="the holiday calendar (national holidays, cuti bersama)")
    hsub = h.add_subparsers(dest="action", required=True)
    hi = hsub.add_parser("import", help="add or update dates from a CSV: date,name[,kind]")
    hi.add_argument("file", type=Path)
    hi.set_defaults(func=cmd_holidays)
    hl = hsub.add_parser("list", help="list the calendar")
    hl.set_defaults(func=cmd_holidays)

    ad = sub.add_parser("admin", help="admin PIN tools for technicians")
    adsub = ad.add_subparsers(dest="action", required=True)
    hp = adsub.add_parser("hash-pin", help="read a PIN (twice) and print its hash for [admin] pin_hash")
    hp.set_defaults(func=cmd_hash_pin)
    rs = adsub.add_parser("reset-pin", help="remove an HR account's PIN (all with --all); audited. "
                          "The next time admin mode opens, HR chooses a new one")
    who = rs.add_mutually_exclusive_group(required=True)
    who.add_argument("--account", help="the account's name (see `kiosk admin accounts`)")
    who.add_argument("--all", action="store_true", help="every account, and the wrong-PIN lock")
    rs.set_defaults(func=cmd_reset_pin)
    ac = adsub.add_parser("accounts", help="list the HR accounts of this kiosk")
    ac.set_defaults(func=cmd_accounts)

    s = sub.add_parser("self-test", help="check models, database and recognition; exit 0 if all pass")
    s.add_argument("--photo", type=Path, help="a photo with one face, to run a real recognition")
    s.set_defaults(func=cmd_self_test)

    c = sub.add_parser("config", help="validate the configuration or print the documented defaults")
    c.add_argument("--print-defaults", action="store_true", help="print config.toml with every default")
    c.set_defaults(func=cmd_config)
    return p


def resolve_config_path(arg: Path | None) -> Path | None:
    if arg is not None:
        return arg
    env = os.environ.get("KIOSK_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path("config.toml"), IMAGE_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "config" and args.print_defaults:
        sys.stdout.write(render_defaults())
        return 0
    from enroll.photos import EnrollInputError
    from attendance.holidays import HolidayFileError
    from attendance.schedule import ScheduleError

    try:
        cfg = load_config(resolve_config_path(args.config), args.override)

        def open_store(create: bool = True) -> Store:
            return Store(cfg.db_path, device_id=cfg.device.id, create=create)

        return args.func(args, cfg, open_store)
    except (*INPUT_ERRORS, EnrollInputError, HolidayFileError, ScheduleError) as e:
        print(f"kiosk: error: {e}", file=sys.stderr)
        return 2
    except (ModelError, StoreError, CameraError) as e:
        print(f"kiosk: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _print_json(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def cmd_run(args, cfg, open_store) -> int:
    from kiosk.camera import open_source

    spec = args.camera or cfg.camera.source

    def make_source():
        source = open_source(spec, cfg.camera.width, cfg.camera.height, int(args.fps or cfg.camera.fps),
                             realtime=not args.no_realtime, hold_s=args.hold, loop=args.loop)
        if args.fps:
            source.fps = args.fps
        return source

    if not args.headless:
        from kiosk.ui.app import run_window

        return run_window(cfg, make_source, windowed=args.windowed or not cfg.display.fullscreen,
                          max_seconds=args.max_seconds, screenshot=args.screenshot)
    return run_headless(cfg, make_source, spec, args.max_seconds, lossless=args.no_realtime)


HEADLESS_TYPES = ("attendance", "unknown", "spoof", "unverified", "liveness", "error", "gallery", "correction")


def run_headless(cfg, make_source, spec: str, max_seconds: float | None, lossless: bool = False) -> int:
    """The kiosk without a window: the same App as the window; each decision, liveness prompt,
    gallery reload and problem as one JSON line on stdout."""
    import time

    from kiosk import systemd
    from kiosk.app import App

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    printed_ready = threading.Event()

    def emit(msg: dict) -> None:
        kind = msg.get("type")
        if kind == "ready":
            _print_json({"type": "ready", "device": cfg.device.id, "employees": msg.get("employees"),
                         "templates": msg.get("templates"), "camera": spec, "pid": msg.get("pid")})
            if not printed_ready.is_set():
                printed_ready.set()
                systemd.ready(f"{cfg.device.id}: headless, {msg.get('templates')} templates")
        elif kind == "state":
            if msg.get("camera") == "error":
                _print_json({"type": "error", "error": "camera", "message": app.state["camera_message"]})
            elif msg.get("camera") == "ended":
                _print_json({"type": "camera", "state": "ended", "message": app.state["camera_message"]})
            if msg.get("recognition") in ("restarting", "fatal"):
                _print_json({"type": "error", "error": "recognition", "state": msg["recognition"],
                             "message": app.state["recognition_message"]})
        elif kind in HEADLESS_TYPES:
            _print_json(msg)

    app = App(cfg, make_source, on_message=emit, lossless=lossless)
    app.on_tick = systemd.watchdog
    started = time.monotonic()
    app.start()
    ended_at = None
    try:
        while not stop.is_set():
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
            if app.state["camera"] == "ended":
                ended_at = ended_at or time.monotonic()
                # every frame analysed (or the worker gone), or 60 s for the last answers
                if app.drained() or time.monotonic() - ended_at > 60:
                    break
            stop.wait(0.05)
    finally:
        systemd.stopping()
        pending = app.store.pending_uploads() if app.store is not None else None
        upload = app.uploader.status()["state"] if app.uploader is not None else None
        frames, encodings, restarts = app.frames, app.encodings, app.restarts
        pace = app.liveness_pace.median()  # frames a second of the last liveness checks (None: none)
        app.stop()
    _print_json({"type": "stopped", "frames": frames, "encodings": encodings, "pending_upload": pending,
                 "upload": upload, "worker_restarts": restarts, "liveness_fps": pace})
    return 0


def cmd_identify(args, cfg, open_store) -> int:
    from kiosk.imageio import load_rgb
    from kiosk.loop import load_gallery
    from kiosk.recognition.pipeline import FaceAnalyzer

    rc = cfg.recognition
    with open_store(create=False) as store:
        gallery = load_gallery(store, rc)
    analyzer = FaceAnalyzer(rc)
    failures = 0
    for path in args.images:
        out = {"path": str(path), "employee_id": None, "distance": None, "margin": None, "reason": None}
        try:
            rgb = load_rgb(path)
        except ImageReadError as e:
            out["reason"] = "unreadable"
            out["detail"] = str(e)
            failures += 1
            _print_json(out)
            continue
        a = analyzer.analyze(rgb)
        out["faces"] = len(a.faces)
        if a.face is not None:
            out["box"] = a.face.as_list()
        if a.quality is not None:
            out["quality"] = a.quality.as_dict()  # the gates' measures (docs/gates.md)
        if a.encoding is None:
            out["reason"] = a.reason
        else:
            m = gallery.match(a.encoding)
            # `distance` is what the threshold is compared with (the employee's own threshold
            # folded in: docs/gates.md, "Matching"); `raw_distance` the templates' distance
            # (none when the nearest is a look-alike hold: no threshold would accept it)
            out["distance"] = round(m.score, 4) if m.employee_id and not m.held else None
            out["raw_distance"] = round(m.distance, 4) if m.employee_id else None
            out["margin"] = round(m.margin, 4) if m.runner_up else None
            out["reason"] = m.reason(rc.threshold, rc.margin)
            if out["reason"] is None:
                out["employee_id"] = m.employee_id
            else:
                out["nearest"] = m.employee_id
        _print_json(out)
    return 1 if failures else 0


def cmd_report(args, cfg, open_store) -> int:
    import datetime as dt

    from kiosk import report
    from kiosk.fileio import write_atomic

    now = dt.datetime.now(cfg.tz)
    if args.format == "xlsx" and not args.output:
        raise UsageError("--format xlsx needs --output FILE")
    try:
        day = dt.date.fromisoformat(args.date) if getattr(args, "date", None) else now.date()
        month = getattr(args, "month", None) or f"{now:%Y-%m}"
        first, last = report.month_bounds(month)
    except ValueError as e:
        raise UsageError(f"--date/--month: {e}") from None
    with open_store(create=False) as store:
        if args.kind == "daily":
            rows = report.daily_rows(report.compute_days(store, cfg, day, day, now))
            title = f"Daftar hadir {day:%d-%m-%Y} - {cfg.device.unit}"
            sheets = [("Harian", title, rows, report.DAILY_COLUMNS)]
        else:
            employees, units = report.monthly_rows(report.compute_days(store, cfg, first, last, now), month)
            title = f"Rekap kehadiran {month} - {cfg.device.unit}"
            sheets = [("Rekap pegawai", title, employees, report.MONTHLY_COLUMNS),
                      ("Rekap unit", title, units, report.UNIT_COLUMNS)]
            if args.by == "unit":
                sheets.reverse()
    footer = (f"Perangkat {cfg.device.id}, dibuat {now:%Y-%m-%d %H:%M %Z}. "
              "'jam tidak sinkron': dicatat saat jam perangkat belum tersinkron; periksa sebelum dipakai.")
    if args.format == "xlsx":
        write_atomic(args.output, report.to_xlsx(sheets, footer), mode=0o640)
        print(f"wrote {args.output}")
    else:
        _, _, rows, columns = sheets[0]
        text = report.to_csv(rows, columns)
        if args.output:
            write_atomic(args.output, text.encode(), mode=0o640)
        else:
            sys.stdout.write(text)
    return 0


def cmd_holidays(args, cfg, open_store) -> int:
    from attendance.holidays import read_holidays_csv

    if args.action == "import":
        rows = read_holidays_csv(args.file)
        with open_store() as store:
            store.replace_holidays(rows, str(args.file))
        print(f"imported {len(rows)} date(s) from {args.file}")
        return 0
    with open_store(create=False) as store:
        for r in store.holiday_rows():
            print(f"{r['date']}  {r['kind']:<12}  {r['name']}")
    return 0


def cmd_hash_pin(args, cfg, open_store) -> int:
    import getpass

    from kiosk.admin import PinError, hash_pin

    if sys.stdin.isatty():
        pin, again = getpass.getpass("New admin PIN: "), getpass.getpass("Again: ")
    else:  # piped: two lines
        pin, again = (sys.stdin.readline().strip(), sys.stdin.readline().strip())
    if pin != again:
        raise UsageError("the two PINs differ")
    try:
        print(hash_pin(pin))
    except PinError as e:
        raise UsageError(str(e)) from None
    return 0


def cmd_reset_pin(args, cfg, open_store) -> int:
    import getpass

    from kiosk.admin import AccountError, AdminAuth

    with open_store(create=False) as store:
        auth = AdminAuth(store, cfg.admin.pin_hash)
        try:
            gone = auth.reset(f"technician:{getpass.getuser()}", None if args.all else args.account)
        except AccountError as e:
            raise UsageError(str(e)) from None
        left = auth.accounts()
    print(f"removed: {', '.join(gone) or 'no account'}; the wrong-PIN lock is cleared")
    if not left:
        print("no PIN left: admin mode asks for a new account and PIN when it opens"
              + (" (the [admin] pin_hash preset applies until then)" if cfg.admin.pin_hash else ""))
    return 0


def cmd_accounts(args, cfg, open_store) -> int:
    from kiosk.admin import AdminAuth

    with open_store(create=False) as store:
        for name in AdminAuth(store, cfg.admin.pin_hash).accounts():
            print(name)
    return 0


def cmd_self_test(args, cfg, open_store) -> int:
    import tempfile

    from kiosk.store.migrations import migrations
    from kiosk_models import verify_models

    checks: list[tuple[str, bool, str]] = []

    def check(name, fn):
        try:
            checks.append((name, True, fn() or "ok"))
        except Exception as e:  # report every failure, not just the first
            checks.append((name, False, f"{type(e).__name__}: {e}"))

    check("config", lambda: f"{', '.join(map(str, cfg.files)) or 'built-in defaults'}")
    check("models", lambda: f"{len(verify_models())} files verified")
    with tempfile.TemporaryDirectory() as tmp:
        def db_check():
            with Store(Path(tmp) / "selftest.db") as s:
                applied = [m.name for m in migrations.applied(s.db)]
                return f"migrations applied: {', '.join(applied)}"
        check("database", db_check)
    check("data dir", lambda: _writable(cfg.data_dir))

    def recognition():
        from kiosk.imageio import load_rgb
        from kiosk.recognition.gallery import Gallery
        from kiosk.recognition.pipeline import FaceAnalyzer

        analyzer = FaceAnalyzer(cfg.recognition)
        analyzer.m.load_all()
        encoder = f"encoder {analyzer.m.encoder.describe()}"
        if analyzer.m.encoder.runtime != cfg.recognition.encoder:
            encoder += f" (instead of {cfg.recognition.encoder}: see the log)"
        if args.photo is None:
            import numpy as np

            a = analyzer.analyze(np.zeros((480, 640, 3), np.uint8))
            assert not a.faces, "a black frame produced a face"
            return f"models load, {encoder}; no photo given (--photo) for a real recognition"
        import time

        rgb = load_rgb(args.photo)
        a = analyzer.analyze(rgb, single=True)
        if a.encoding is None:
            raise AssertionError(f"{args.photo}: {a.reason}")
        probe = analyzer.analyze(rgb).encoding
        m = Gallery(a.encoding[None, :], ["self"]).match(probe)
        # the gallery's float32 |a|^2 + |b|^2 - 2ab leaves about 1e-3 at distance zero
        assert m.distance < 0.01, f"the same photo encoded twice differs by {m.distance}"
        # what enrollment stores (jittered: `template_jitter`), and the face found again by it
        t = time.perf_counter()
        tpl = analyzer.analyze(rgb, single=True, template=True).encoding
        t = time.perf_counter() - t
        mt = Gallery(tpl[None, :], ["self"]).match(probe)
        assert mt.distance <= cfg.recognition.threshold, \
            f"the photo's face is {mt.distance:.3f} from its own enrollment template (threshold {cfg.recognition.threshold})"
        return f"{args.photo}: 1 face, encoded, re-identified (distance {m.distance:.4f}), " \
               f"{sum(a.timings.values()) * 1000:.0f} ms; enrollment template (jitter " \
               f"{cfg.recognition.template_jitter}) in {t * 1000:.0f} ms, the face {mt.distance:.3f} from it; {encoder}"
    check("recognition", recognition)
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def _writable(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / ".selftest"
    probe.write_text("ok")
    probe.unlink()
    return f"{path} writable"


def cmd_config(args, cfg, open_store) -> int:
    print(f"configuration valid: {', '.join(map(str, cfg.files)) or 'built-in defaults'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
