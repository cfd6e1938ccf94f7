"""The technician's one file on the boot partition: check it, move its secrets, apply it.

``/boot/firmware/kiosk.toml`` (FAT, readable by anyone holding the card) holds the kiosk's own
settings (``[device]``, ``[server]`` … as in config.toml) plus two things the kiosk program does
not read itself: ``[server] token`` (the device token) and a ``[wifi]`` table (ssid, password,
country). At every boot ``kiosk-firstboot.service`` (root) runs ``apply``:

1. the server token goes to ``/data/secrets/server-token`` (mode 0600, owner kiosk) and the FAT
   file says ``token_file = "/data/secrets/server-token"`` instead; the Wi-Fi password goes into
   a NetworkManager profile under ``/data/network`` (0600, root) and leaves the FAT file. Each
   file is written atomically (temporary file, fsync, rename), secrets first, so a power cut
   at any point leaves either the old or the new state, never a lost token;
2. the rest is validated with the kiosk's own configuration checks (file:line messages);
3. the settings for the kiosk program are written to ``/run/kiosk/kiosk.toml`` (the FAT file
   with the image-only lines blanked, so line numbers stay the same), or the problem to
   ``/run/kiosk/config-error.txt``, which ``show-error`` puts on the kiosk's screen.

Secrets never appear in messages or logs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import device_file_text, section_spans as _section_spans
from kiosk import network
from kiosk.fileio import write_atomic

BOOT_FILE = Path("/boot/firmware/kiosk.toml")
RUN_DIR = Path("/run/kiosk")
MAIN_CONFIG = Path("/etc/kiosk/config.toml")
TOKEN_NAME = "server-token"
PLACEHOLDER = re.compile(r"PASTE|CHANGE|XXXX|^<.*>$", re.I)


class FirstbootError(ValueError):
    """The boot file cannot be used; the message is for a technician and holds no secret."""


@dataclass
class Result:
    app_text: str = ""  # the override for the kiosk program
    errors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def _key_line(lines: list[str], spans, section: str, key: str) -> int | None:
    for name, a, b in spans:
        if name == section:
            for i in range(a + 1, b):
                if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
                    return i
    return None


def split(text: str) -> tuple[dict, str]:
    """Parse the boot file: (its values, the text for the kiosk program).

    The kiosk program's text has the image's lines (`[server] token`, `[admin] pin`, the `[wifi]`
    table) commented out, line for line (kiosk.config.device_file_text, which the `kiosk` CLI uses
    too), so its messages name the same lines as the technician's file.
    """
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FirstbootError(f"not valid TOML: {e}") from None
    return values, device_file_text(text)


def _rewrite_boot(text: str, token_file: Path, moved_token: bool, moved_password: bool,
                  pin_hash: str | None = None) -> str:
    lines = text.splitlines(keepends=True)
    spans = _section_spans(lines)
    if pin_hash:
        i = _key_line(lines, spans, "admin", "pin")
        j = _key_line(lines, spans, "admin", "pin_hash")
        nl = "\n" if lines[i].endswith("\n") else ""
        lines[i] = f'pin_hash = "{pin_hash}"  # the PIN was replaced by its hash' + nl
        if j is not None:
            lines[j] = "# pin_hash: replaced by the PIN's hash above" + ("\n" if lines[j].endswith("\n") else "")
    if moved_token:
        i = _key_line(lines, spans, "server", "token")
        has_file = _key_line(lines, spans, "server", "token_file") is not None
        nl = "\n" if lines[i].endswith("\n") else ""
        lines[i] = ("# token: moved to the kiosk's data partition" + nl) if has_file else \
            (f'token_file = "{token_file}"  # the token was moved to the data partition' + nl)
    if moved_password:
        i = _key_line(lines, spans, "wifi", "password")
        nl = "\n" if lines[i].endswith("\n") else ""
        lines[i] = 'password = ""  # moved to the kiosk\'s data partition; write a new one here to change it' + nl
    return "".join(lines)


def apply(boot_file: Path, data: Path, run_dir: Path, main_config: Path | None,
          etc: Path | None = None, owner: tuple[int, int] | None = None) -> Result:
    """Do everything at boot; collect problems in ``Result.errors`` instead of raising."""
    res = Result()
    if not boot_file.is_file():
        res.errors.append(f"{boot_file}: missing. Copy kiosk.toml.example to kiosk.toml on the SD "
                          "card's boot partition and fill it in.")
        return _finish(res, run_dir)
    raw = boot_file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        res.errors.append(f"{boot_file}: not UTF-8 text (save it as UTF-8)")
        return _finish(res, run_dir)
    try:
        values, app_text = split(text)
    except FirstbootError as e:
        res.errors.append(f"{boot_file}: {e}")
        return _finish(res, run_dir)

    server = values.get("server", {}) if isinstance(values.get("server"), dict) else {}
    secrets = data / "secrets"
    token_file = secrets / TOKEN_NAME
    token = server.get("token")
    moved_token = moved_password = False
    if token is not None:
        if not isinstance(token, str) or not token.strip() or PLACEHOLDER.search(token):
            res.errors.append(f"{boot_file}: [server] token is empty or still the example; paste the "
                              "device token from the server")
        else:
            write_atomic(token_file, token.strip().encode() + b"\n", 0o600, owner)
            moved_token = True
            res.actions.append(f"server token moved to {token_file}")
            # The kiosk program reads the token from this file (same line as the token's).
            lines = app_text.splitlines(keepends=True)
            orig = text.splitlines(keepends=True)
            if _key_line(lines, _section_spans(lines), "server", "token_file") is None:
                lines[_key_line(orig, _section_spans(orig), "server", "token")] = f'token_file = "{token_file}"\n'
                app_text = "".join(lines)
    elif server.get("url") and not server.get("token_file"):
        res.errors.append(f"{boot_file}: [server] url is set but there is no token: add "
                          "token = \"...\" under [server]")

    wifi, net = values.get("wifi"), values.get("network")
    problems = network.check(wifi, net)
    if problems:
        res.errors.extend(f"{boot_file}: {p}" for p in problems)
    elif wifi is not None or net is not None:
        problem, moved_password = _apply_network(wifi, net, data / "network", res)
        if problem:
            res.errors.append(f"{boot_file}: {problem}")
        if etc is not None and isinstance(wifi, dict) and wifi.get("country"):
            res.actions.append(f"Wi-Fi country {wifi['country']}")

    admin = values.get("admin", {}) if isinstance(values.get("admin"), dict) else {}
    pin_hash = None
    if "pin" in admin:
        from kiosk.admin import PinError, hash_pin

        try:
            pin_hash = hash_pin(str(admin["pin"]) if isinstance(admin["pin"], (str, int)) else "")
        except PinError:
            res.errors.append(f"{boot_file}: [admin] pin must be 6 to 12 digits in double quotes")
        else:
            # the kiosk program reads the hash, on the PIN's line; the boot file keeps only the hash
            lines = app_text.splitlines(keepends=True)
            orig = text.splitlines(keepends=True)
            i = _key_line(orig, _section_spans(orig), "admin", "pin")
            j = _key_line(orig, _section_spans(orig), "admin", "pin_hash")
            if j is not None:
                lines[j] = "# (kiosk-firstboot: line used by the image)\n"
            lines[i] = f'pin_hash = "{pin_hash}"\n'
            app_text = "".join(lines)
            res.actions.append("admin PIN preset (stored as a hash)")

    if moved_token or moved_password or pin_hash:
        write_atomic(boot_file, _rewrite_boot(text, token_file, moved_token, moved_password, pin_hash).encode(), 0o644)
        res.actions.append(f"secrets removed from {boot_file}")

    res.app_text = app_text
    problem = validate(app_text, boot_file, main_config)
    if problem:
        res.errors.append(problem)
    elif etc is not None:
        tz = values.get("device", {}).get("timezone", "Asia/Jakarta")
        zone = Path("/usr/share/zoneinfo") / tz
        if zone.exists():
            link = etc / "localtime"
            tmp = etc / ".localtime.kiosk"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(zone)
            os.replace(tmp, link)
            (etc / "timezone").write_text(tz + "\n")
            res.actions.append(f"time zone {tz}")
    return _finish(res, run_dir)


def _apply_network(wifi, net, folder: Path, res: Result) -> tuple[str | None, bool]:
    """Write the NetworkManager profiles (owner-only: they hold the Wi-Fi secret). Returns (the
    problem, or None; whether the card held a Wi-Fi password that is now in a profile, so that it
    is blanked on the card)."""
    existing = {name: (folder / name).read_text() for name in (network.WIFI_FILE, network.WIRED_FILE)
                if (folder / name).is_file()}
    plan = network.plan(wifi, net, existing, folder)
    problem = network.missing_secret(wifi, plan)
    if problem:
        return problem, False
    if plan.ca_source is not None:
        write_atomic(folder / network.CA_FILE, plan.ca_source.read_bytes(), 0o644)
    for name, text in plan.files.items():
        if existing.get(name) != text:
            write_atomic(folder / name, text.encode(), 0o600)
            res.actions.append(f"network profile {name} written")
    for name in plan.remove:
        (folder / name).unlink(missing_ok=True)
        res.actions.append(f"network profile {name} removed")
    return None, plan.password_on_card


def validate(app_text: str, shown_as: Path, main_config: Path | None) -> str | None:
    """The kiosk's own checks on the override text; messages name `shown_as`."""
    from kiosk.config import ConfigError, load_config

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "kiosk.toml"
        p.write_text(app_text)
        try:
            load_config(main_config if main_config and main_config.is_file() else None, p)
        except ConfigError as e:
            return str(e).replace(str(p), str(shown_as))
    return None


def _finish(res: Result, run_dir: Path) -> Result:
    run_dir.mkdir(parents=True, exist_ok=True)
    err = run_dir / "config-error.txt"
    if res.errors:
        write_atomic(err, ("\n".join(res.errors) + "\n").encode(), 0o644)
    else:
        err.unlink(missing_ok=True)
        write_atomic(run_dir / "kiosk.toml", res.app_text.encode(), 0o644)  # the kiosk user reads it
    return res


def check(run_dir: Path) -> str | None:
    """Called by the kiosk session: the problem to show, or None when the kiosk can start."""
    err = run_dir / "config-error.txt"
    if err.is_file():
        return err.read_text().strip() or "configuration error"
    if not (run_dir / "kiosk.toml").is_file() and not os.environ.get("KIOSK_OVERRIDE"):
        return "kiosk-firstboot did not run (no /run/kiosk/kiosk.toml)"
    from kiosk.config import ConfigError, load_config

    main = os.environ.get("KIOSK_CONFIG")
    try:
        load_config(Path(main) if main else None, None)
    except ConfigError as e:
        return str(e)
    return None


ERROR_TEXT = ("Konfigurasi kiosk salah — kiosk belum dapat dipakai.\n"
              "Perbaiki berkas kiosk.toml di partisi boot kartu SD, lalu nyalakan ulang.\n"
              "Sementara itu, gunakan daftar hadir kertas.\n\n"
              "The kiosk configuration is wrong. Fix kiosk.toml on the SD card's boot partition "
              "and restart.\n\n")


def show_error(message: str) -> int:  # pragma: no cover - needs a screen (tested offscreen)
    """A full-screen page with the problem; feeds systemd's watchdog so it stays up."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    from kiosk import systemd

    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel(ERROR_TEXT + message)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background:#8b0000;color:white;font-size:22px;padding:40px;")
    label.showFullScreen()
    feed = QTimer()
    feed.timeout.connect(systemd.watchdog)
    feed.start(10_000)
    systemd.ready("configuration error shown on screen")
    if os.environ.get("KIOSK_SHOW_ERROR_SECONDS"):
        QTimer.singleShot(int(float(os.environ["KIOSK_SHOW_ERROR_SECONDS"]) * 1000), app.quit)
    return app.exec()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk.firstboot", description=__doc__.split("\n")[0])
    p.add_argument("action", choices=("apply", "check", "show-error"))
    p.add_argument("--boot-file", type=Path, default=BOOT_FILE)
    p.add_argument("--data", type=Path, default=Path("/data"))
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p.add_argument("--main-config", type=Path, default=MAIN_CONFIG)
    p.add_argument("--user", default="kiosk", help="owner of the moved token (apply, as root)")
    p.add_argument("--etc", type=Path, default=None,
                   help="apply: set the time zone in this folder's localtime (the service: /etc)")
    a = p.parse_args(argv)
    if a.action == "apply":
        owner = None
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam(a.user)
                owner = (pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        res = apply(a.boot_file, a.data, a.run_dir, a.main_config, a.etc, owner)
        for line in res.actions:
            print(f"kiosk-firstboot: {line}")
        for line in res.errors:
            print(f"kiosk-firstboot: ERROR {line}", file=sys.stderr)
        return 1 if res.errors else 0
    if a.action == "check":
        problem = check(a.run_dir)
        if problem:
            print(f"kiosk: configuration error: {problem}", file=sys.stderr)
            return 1
        return 0
    err = a.run_dir / "config-error.txt"
    return show_error(err.read_text() if err.is_file() else (check(a.run_dir) or "unknown problem"))


if __name__ == "__main__":
    sys.exit(main())
