"""The SD-card image's pieces that run without a Pi: sd_notify, first-boot configuration,
the database guard, the clock file, shell scripts and systemd units (issue 7).

The heavy part (the Debian image built from an arm64 root file system under qemu, the self-test
inside it, the image file checked and smoke-booted as a Pi 4) is image/ci/check.sh.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk import firstboot, systemd

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / "image" / "stage-kiosk" / "00-kiosk"
FILES = STAGE / "files"
EXAMPLE = FILES / "etc" / "kiosk.toml.example"
MAIN = FILES / "etc" / "config.toml"
TOKEN = "tok-0123456789-abcdef"
WIFI_PW = "wifi-password-9876"


# --- sd_notify ---------------------------------------------------------------------------------

@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield s
    s.close()


def test_sd_notify_messages_reach_the_socket(notify_socket):
    assert systemd.ready("window up")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=window up"
    assert systemd.watchdog()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    assert systemd.status("camera\nmissing  again")
    assert notify_socket.recv(4096) == b"STATUS=camera missing again"


def test_sd_notify_abstract_socket(monkeypatch):
    name = f"kiosk-test-{os.getpid()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        assert systemd.watchdog()
        assert s.recv(100) == b"WATCHDOG=1"
    finally:
        s.close()


def test_sd_notify_is_a_no_op_without_systemd(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not systemd.ready() and not systemd.watchdog() and not systemd.status("x")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))  # systemd went away: no exception
    assert not systemd.watchdog()


def test_watchdog_interval(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert systemd.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    assert systemd.watchdog_interval() == 60.0


# --- first boot --------------------------------------------------------------------------------

def _boot_file(tmp_path, token=TOKEN, ssid="Kantor", password=WIFI_PW, extra=None) -> Path:
    text = EXAMPLE.read_text().replace("PASTE-THE-DEVICE-TOKEN-HERE", token)
    text = text.replace('ssid = ""', f'ssid = "{ssid}"', 1)
    text = text.replace('password = ""', f'password = "{password}"', 1)
    for old, new in (extra or {}).items():
        assert old in text
        text = text.replace(old, new)
    boot = tmp_path / "boot"
    boot.mkdir(exist_ok=True)
    (boot / "kiosk.toml").write_text(text)
    return boot / "kiosk.toml"


def _apply(tmp_path, boot_file):
    return firstboot.apply(boot_file, tmp_path / "data", tmp_path / "run", MAIN)


def test_firstboot_moves_secrets_off_the_boot_partition(tmp_path):
    boot_file = _boot_file(tmp_path)
    original_lines = boot_file.read_text().count("\n")
    res = _apply(tmp_path, boot_file)
    assert res.errors == []
    token_file = tmp_path / "data" / "secrets" / "server-token"
    assert token_file.read_text() == TOKEN + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    profile = tmp_path / "data" / "network" / "kiosk-wifi.nmconnection"
    assert f"psk={WIFI_PW}" in profile.read_text() and "ssid=Kantor" in profile.read_text()
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    fat = boot_file.read_text()
    assert TOKEN not in fat and WIFI_PW not in fat
    assert f'token_file = "{token_file}"' in fat
    assert fat.count("\n") == original_lines  # line numbers in later messages stay right
    derived = (tmp_path / "run" / "kiosk.toml").read_text()
    assert TOKEN not in derived and "[wifi]" not in derived and f'token_file = "{token_file}"' in derived
    assert not (tmp_path / "run" / "config-error.txt").exists()
    # No secret in anything the run reported.
    assert all(TOKEN not in a and WIFI_PW not in a for a in res.actions)
    # The kiosk program accepts what was derived.
    from kiosk.config import load_config

    cfg = load_config(MAIN, tmp_path / "run" / "kiosk.toml")
    assert cfg.device.id == "kiosk-sragen-01" and cfg.server.token_file == str(token_file)


def test_firstboot_second_boot_keeps_everything(tmp_path):
    boot_file = _boot_file(tmp_path)
    _apply(tmp_path, boot_file)
    fat = boot_file.read_text()
    res = _apply(tmp_path, boot_file)
    assert res.errors == [] and boot_file.read_text() == fat
    assert (tmp_path / "data" / "secrets" / "server-token").read_text() == TOKEN + "\n"
    assert f"psk={WIFI_PW}" in (tmp_path / "data" / "network" / "kiosk-wifi.nmconnection").read_text()


def test_firstboot_new_token_replaces_the_old_one(tmp_path):
    boot_file = _boot_file(tmp_path)
    _apply(tmp_path, boot_file)
    text = boot_file.read_text().replace("# token: moved", "# old").replace(
        'token_file = "', 'token = "new-token-42"\n# was: token_file = "', 1)
    boot_file.write_text(text)
    assert _apply(tmp_path, boot_file).errors == []
    assert (tmp_path / "data" / "secrets" / "server-token").read_text() == "new-token-42\n"
    assert "new-token-42" not in boot_file.read_text()


@pytest.mark.parametrize("extra, expect", [
    ({'timezone = "Asia/Jakarta"': 'timezone = "Asia/Bangkok"'}, "kiosk.toml:13"),
    ({'id = "kiosk-sragen-01"': 'id = "kiosk sragen 01"'}, "kiosk.toml:10"),
    ({'url = "https://absensi.example.go.id"': 'url = "http://absensi.example.go.id"'}, "https://"),
    ({'country = "ID"': 'country = "Indonesia"'}, "two capital letters"),
    ({"[device]": "[device"}, "not valid TOML"),
])
def test_firstboot_errors_name_the_place_for_the_screen(tmp_path, extra, expect):
    res = _apply(tmp_path, _boot_file(tmp_path, extra=extra))
    assert res.errors and expect in res.errors[0], res.errors
    shown = (tmp_path / "run" / "config-error.txt").read_text()
    assert expect in shown and TOKEN not in shown and WIFI_PW not in shown
    assert firstboot.check(tmp_path / "run") == shown.strip()


def test_firstboot_rejects_the_example_token_and_short_wifi_password(tmp_path):
    res = _apply(tmp_path, _boot_file(tmp_path, token="PASTE-THE-DEVICE-TOKEN-HERE", password="short"))
    text = "\n".join(res.errors)
    assert "token is empty or still the example" in text and "8 to 63 characters" in text
    assert not (tmp_path / "data" / "secrets" / "server-token").exists()


def test_firstboot_missing_file(tmp_path):
    res = _apply(tmp_path, tmp_path / "nothing.toml")
    assert "missing" in res.errors[0] and (tmp_path / "run" / "config-error.txt").exists()


def test_firstboot_check_clears_after_a_fix(tmp_path, monkeypatch):
    boot_file = _boot_file(tmp_path, extra={'timezone = "Asia/Jakarta"': 'timezone = "UTC"'})
    _apply(tmp_path, boot_file)
    assert firstboot.check(tmp_path / "run")
    boot_file.write_text(boot_file.read_text().replace('"UTC"', '"Asia/Makassar"'))
    assert _apply(tmp_path, boot_file).errors == []
    monkeypatch.setenv("KIOSK_CONFIG", str(MAIN))
    monkeypatch.setenv("KIOSK_OVERRIDE", str(tmp_path / "run" / "kiosk.toml"))
    assert firstboot.check(tmp_path / "run") is None



def _profile(tmp_path, name):
    return (tmp_path / "data" / "network" / name).read_text()


def test_firstboot_fixed_address_on_the_cable(tmp_path):
    boot_file = _boot_file(tmp_path, ssid="", password="", extra={
        '# address = "10.20.30.40/24"': 'address = "10.20.30.40/24"',
        '# gateway = "10.20.30.1"': 'gateway = "10.20.30.1"',
        '# dns = ["10.20.30.1"]': 'dns = ["10.20.30.1", "8.8.8.8"]'})
    res = _apply(tmp_path, boot_file)
    assert res.errors == []
    wired = _profile(tmp_path, "kiosk-wired.nmconnection")
    assert "type=ethernet" in wired and "method=manual" in wired
    assert "address1=10.20.30.40/24,10.20.30.1" in wired and "dns=10.20.30.1;8.8.8.8;" in wired
    assert not (tmp_path / "data" / "network" / "kiosk-wifi.nmconnection").exists()
    # [network] belongs to the image: the kiosk program does not see it (and accepts the rest).
    derived = (tmp_path / "run" / "kiosk.toml").read_text()
    assert "10.20.30.40" not in derived and derived.count("\n") == boot_file.read_text().count("\n")
    # Back to DHCP: the fixed profile goes.
    boot_file.write_text(boot_file.read_text().replace('address = "10.20.30.40/24"', "")
                         .replace('gateway = "10.20.30.1"', "").replace('dns = ["10.20.30.1", "8.8.8.8"]', ""))
    assert _apply(tmp_path, boot_file).errors == []
    assert not (tmp_path / "data" / "network" / "kiosk-wired.nmconnection").exists()


def test_firstboot_wpa2_enterprise_with_the_networks_ca(tmp_path):
    ca = tmp_path / "boot-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    boot_file = _boot_file(tmp_path, ssid="Pemda-Staf", password="sandi;rahasia\\\\1", extra={
        '# identity = "kiosk-lobi@pemda.go.id"': 'identity = "kiosk-lobi@pemda.go.id"',
        '# eap = "peap"': 'eap = "ttls"',
        '# ca_file = "/boot/firmware/wifi-ca.pem"': f'ca_file = "{ca}"',
        '# address = "10.20.30.40/24"': 'address = "10.20.30.40/24"'})
    res = _apply(tmp_path, boot_file)
    assert res.errors == []
    wifi = _profile(tmp_path, "kiosk-wifi.nmconnection")
    assert "key-mgmt=wpa-eap" in wifi and "eap=ttls;" in wifi and "phase2-auth=pap" in wifi
    assert "identity=kiosk-lobi@pemda.go.id" in wifi and "password=sandi\\;rahasia\\\\1" in wifi
    assert f"ca-cert={tmp_path / 'data' / 'network' / 'wifi-ca.pem'}" in wifi
    assert (tmp_path / "data" / "network" / "wifi-ca.pem").read_text() == ca.read_text()
    assert "address1=10.20.30.40/24" in wifi  # the fixed address on the Wi-Fi
    assert stat.S_IMODE((tmp_path / "data" / "network" / "kiosk-wifi.nmconnection").stat().st_mode) == 0o600
    fat = boot_file.read_text()
    assert "sandi" not in fat and "identity = " in fat
    assert all("sandi" not in a for a in res.actions)
    # Next boot: the password is no longer on the card; the profile keeps it.
    assert _apply(tmp_path, boot_file).errors == []
    assert _profile(tmp_path, "kiosk-wifi.nmconnection") == wifi


@pytest.mark.parametrize("extra, expect", [
    ({'# address = "10.20.30.40/24"': 'address = "10.20.30.40"'}, "with its prefix"),
    ({'# address = "10.20.30.40/24"': 'address = "10.20.30.40/24"', '# gateway = "10.20.30.1"': 'gateway = "10.9.9.1"'},
     "is not in 10.20.30.0/24"),
    ({'# gateway = "10.20.30.1"': 'gateway = "10.20.30.1"'}, "need an address too"),
    ({'# address = "10.20.30.40/24"': 'address = "10.20.30.40/24"', '# dns = ["10.20.30.1"]': 'dns = "10.20.30.1"'},
     "dns must be a list"),
    ({'# identity = "kiosk-lobi@pemda.go.id"': 'identity = "kiosk"', '# eap = "peap"': 'eap = "tls"'}, "eap = 'tls'"),
    ({'# ca_file = "/boot/firmware/wifi-ca.pem"': 'ca_file = "/nowhere/ca.pem"'}, "set identity as well"),
    ({'# identity = "kiosk-lobi@pemda.go.id"': 'identity = "kiosk"',
      '# ca_file = "/boot/firmware/wifi-ca.pem"': 'ca_file = "/nowhere/ca.pem"'}, "not found"),
    ({'[network]': '[network]\nmask = "255.255.255.0"'}, "unknown key(s) mask"),
])
def test_firstboot_network_mistakes_are_named(tmp_path, extra, expect):
    res = _apply(tmp_path, _boot_file(tmp_path, extra=extra))
    assert any(expect in e for e in res.errors), res.errors
    assert WIFI_PW not in (tmp_path / "run" / "config-error.txt").read_text()


def test_firstboot_enterprise_needs_a_password(tmp_path):
    res = _apply(tmp_path, _boot_file(tmp_path, password="", extra={
        '# identity = "kiosk-lobi@pemda.go.id"': 'identity = "kiosk"'}))
    assert any("password is needed" in e for e in res.errors), res.errors
    assert not (tmp_path / "data" / "network" / "kiosk-wifi.nmconnection").exists()


def test_firstboot_time_zone_link(tmp_path):
    if not Path("/usr/share/zoneinfo/Asia/Makassar").exists():
        pytest.skip("no /usr/share/zoneinfo on this machine")
    etc = tmp_path / "etc"
    etc.mkdir()
    boot_file = _boot_file(tmp_path, extra={'timezone = "Asia/Jakarta"': 'timezone = "Asia/Makassar"'})
    res = firstboot.apply(boot_file, tmp_path / "data", tmp_path / "run", MAIN, etc)
    assert res.errors == []
    assert os.readlink(etc / "localtime") == "/usr/share/zoneinfo/Asia/Makassar"


def test_error_screen_renders_offscreen(tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config-error.txt").write_text("kiosk.toml:13: [device] timezone = 'UTC' is not one of ...")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("KIOSK_SHOW_ERROR_SECONDS", "0.2")
    out = subprocess.run([sys.executable, "-m", "kiosk.firstboot", "show-error", "--run-dir", str(run)],
                         capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert out.returncode == 0, out.stderr


# --- database guard and clock file -------------------------------------------------------------

GUARD = FILES / "bin" / "kiosk-db-guard"


def _guard(*args):
    return subprocess.run([sys.executable, str(GUARD), *map(str, args)], capture_output=True, text=True)


def test_db_guard_backup_then_restore_a_corrupt_database(tmp_path):
    db, backups = tmp_path / "kiosk.db", tmp_path / "backup"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, what TEXT)")
    con.executemany("INSERT INTO events(what) VALUES (?)", [("masuk",)] * 500)
    con.commit()
    con.close()
    assert _guard("backup", db, backups).returncode == 0
    copies = list(backups.glob("kiosk-*.db"))
    assert len(copies) == 1 and not list(backups.glob("*.tmp"))
    assert _guard("check", db, backups).stdout.strip().endswith("is intact")
    data = bytearray(db.read_bytes())
    data[100:4096 * 3] = b"\xff" * (4096 * 3 - 100)  # wreck the header and the first pages
    db.write_bytes(bytes(data))
    out = _guard("check", db, backups)
    assert out.returncode == 0 and "restored" in out.stderr
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone() == (500,)
    assert list(tmp_path.glob("kiosk.db.corrupt-*"))  # kept for recovery


def test_db_guard_no_database_yet(tmp_path):
    assert _guard("check", tmp_path / "kiosk.db", tmp_path / "b").returncode == 0
    assert _guard("backup", tmp_path / "kiosk.db", tmp_path / "b").returncode == 0


def test_clock_save_never_goes_backwards(tmp_path):
    clock = tmp_path / "clock"
    script = FILES / "bin" / "kiosk-clock-save"
    subprocess.run(["sh", str(script), str(clock)], check=True)
    assert abs(clock.stat().st_mtime - time.time()) < 5
    past = time.time() - 86400
    os.utime(clock, (past, past))
    subprocess.run(["sh", str(script), str(clock)], check=True)
    assert clock.stat().st_mtime > past + 86000
    future = time.time() + 10 * 86400  # saved by a clock that was ahead: keep it
    os.utime(clock, (future, future))
    subprocess.run(["sh", str(script), str(clock)], check=True)
    assert abs(clock.stat().st_mtime - future) < 2


# --- scripts and units -------------------------------------------------------------------------

def _shell_scripts() -> list[Path]:
    out = []
    for p in sorted((REPO / "image").rglob("*")):
        if p.is_file() and ".build" not in p.parts and "deploy" not in p.parts and "app" not in p.parts:
            head = p.read_bytes()[:40]
            if head.startswith(b"#!") and b"sh" in head.split(b"\n")[0] and b"python" not in head:
                out.append(p)
    return out


def test_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; CI installs it)")
    scripts = _shell_scripts()
    assert len(scripts) >= 7
    out = subprocess.run(["shellcheck", "-x", *map(str, scripts)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_systemd_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (package systemd)")
    root = tmp_path / "root"
    unit_dir = root / "etc" / "systemd" / "system"
    unit_dir.mkdir(parents=True)
    for u in (FILES / "units").iterdir():
        shutil.copy(u, unit_dir)
    # Stand-ins for the programs the units run, so `verify` checks everything else.
    for exe in ["usr/bin/cage", "opt/kiosk/venv/bin/python", *(f"usr/local/lib/kiosk/{p.name}"
                                                            for p in (FILES / "bin").iterdir())]:
        p = root / exe
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
    # systemd's own units (sysinit.target, systemd-fsck@.service …) from this machine.
    host_units = next((d for d in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                       if (d / "sysinit.target").exists()), None)
    if host_units is None:
        pytest.skip("no systemd unit directory on this machine")
    shutil.copytree(host_units, root / "usr" / "lib" / "systemd" / "system", symlinks=True,
                    ignore=shutil.ignore_patterns("*.wants", "*.requires"))
    units = sorted(str(unit_dir / u.name) for u in (FILES / "units").iterdir())
    out = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", *units],
                         capture_output=True, text=True, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if any(w in line for w in ("Unknown key", "Unknown section", "Failed to", "not found",
                                           "is not executable", "bad-setting", "Invalid"))]
    assert problems == [], "\n".join(problems)


def test_kiosk_unit_essentials():
    unit = (FILES / "units" / "kiosk.service").read_text()
    for line in ("Type=notify", "NotifyAccess=all", "WatchdogSec=", "Restart=always", "User=kiosk",
                 "TTYPath=/dev/tty1", "QT_QPA_PLATFORM=wayland", "ExecStart=/usr/bin/cage",
                 "Conflicts=getty@tty1.service"):
        assert line in unit
    # No PAM/logind session: logind would move cage and the app into a session scope, out of the
    # unit, and systemd would drop their READY=1 and watchdog pings (a restart every 3 minutes,
    # found by image/ci/boot.sh). seatd hands cage the screen and input instead.
    assert not [line for line in unit.splitlines() if line.strip().startswith("PAMName=")]
    assert "LIBSEAT_BACKEND=seatd" in unit and "seatd.service" in unit
    assert "seatd" in (STAGE / "00-packages").read_text().split()
    mount = (FILES / "units" / "data.mount").read_text()
    assert "nodev" in mount and "nosuid" in mount and "KIOSKDATA" in mount
    run = (STAGE / "01-run.sh").read_text()
    assert "overlayroot=tmpfs:recurse=0" in run and "consoleblank=0" in run
    chroot = (STAGE / "02-run-chroot.sh").read_text()
    assert "--system-site-packages" in chroot and "systemctl mask getty@tty1.service" in chroot


def test_kernel_options_reach_both_bases(tmp_path):
    """01-run.sh: the kiosk's kernel options (read-only root, no blanking, boot messages off the
    screen) go into pi-gen's cmdline.txt and into Debian's /etc/default/raspi-extra-cmdline, which
    raspi-firmware's hook appends to the cmdline.txt it rewrites at every kernel update."""
    if os.geteuid() != 0:
        pytest.skip("01-run.sh installs files with owners: run as root (CI does)")
    stage = tmp_path / "00-kiosk"
    shutil.copytree(STAGE, stage)
    (stage / "files" / "app").mkdir()
    (stage / "files" / "app" / "pyproject.toml").write_text("[project]\nname = 'kiosk'\n")
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    pigen = "console=serial0,115200 console=tty1 root=PARTUUID=1234abcd-02 rootfstype=ext4 rootwait\n"
    (root / "boot" / "firmware" / "cmdline.txt").write_text(pigen)
    subprocess.run(["bash", str(stage / "01-run.sh")], env={**os.environ, "ROOTFS_DIR": str(root)}, check=True)
    cmdline = (root / "boot" / "firmware" / "cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and "console=tty3" in cmdline and "console=tty1" not in cmdline
    extra = (root / "etc" / "default" / "raspi-extra-cmdline").read_text()
    assert extra.count("\n") == 1
    for opt in ("ro", "overlayroot=tmpfs:recurse=0", "consoleblank=0", "quiet"):
        assert opt in cmdline.split() and opt in extra.split()
    assert "root=PARTUUID=1234abcd-02" in cmdline  # pi-gen's own options are kept
    # Applied twice (a rebuild), nothing is repeated.
    subprocess.run(["bash", str(stage / "01-run.sh")], env={**os.environ, "ROOTFS_DIR": str(root)}, check=True)
    assert (root / "boot" / "firmware" / "cmdline.txt").read_text() == cmdline

