"""The collector's configuration (server/collector.toml) and its packaging: the attendance rules
are the kiosks' own sections, bad values are named with file, line and key, and the server runs
without the kiosk's device packages or the kiosk's configuration module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from attendance.config import ATTENDANCE, SCHEDULES
from server.config import SettingsError, load, render_defaults

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PACKAGES = {"dlib-bin", "face-recognition-models", "face-recognition", "numpy", "opencv-python-headless",
                   "pyside6-essentials", "shiboken6", "pillow", "sqlite-utils", "onnxruntime", "onnx", "protobuf"}

NIGHT = """
[attendance]
ramadan = [["2026-02-18", "2026-03-19"]]
unit_schedules = { "Puskesmas Sragen" = "malam" }

[schedules.malam]
week = ["21:00-07:00", "21:00-07:00", "21:00-07:00", "21:00-07:00", "21:00-07:00", "", ""]
punch_from = "19:30"
punch_until = "09:00"
"""


def test_collector_toml_lists_every_setting_with_its_default():
    assert (ROOT / "server" / "collector.toml").read_text(encoding="utf-8") == render_defaults(), \
        "run: kiosk-collector config --print-defaults > server/collector.toml"
    cfg = load(ROOT / "server" / "collector.toml")
    assert cfg.rules.values["leave_types"]["CT"]["name"] == "Cuti tahunan"
    assert cfg.rules.leave_columns == ("C", "S", "I", "DL")


def test_the_rules_sections_are_the_kiosks_own():
    """The kiosk's schema holds the rules' sections themselves, not a copy that could drift."""
    from kiosk.config import SCHEMA

    assert SCHEMA["attendance"] is ATTENDANCE and SCHEMA["schedules"] is SCHEDULES


def test_the_kiosks_sections_copied_give_the_same_rules(tmp_path):
    from kiosk.config import load_config

    kiosk_file = tmp_path / "config.toml"
    kiosk_file.write_text('[device]\ntimezone = "Asia/Makassar"\n' + NIGHT, encoding="utf-8")
    server_file = tmp_path / "collector.toml"
    server_file.write_text('[collector]\ntimezone = "Asia/Makassar"\n' + NIGHT, encoding="utf-8")
    kiosk, server = load_config(kiosk_file, override=Path(os.devnull)), load(server_file)
    assert server.rules.values["attendance"] == kiosk.values["attendance"]
    assert server.rules.values["schedules"] == kiosk.values["schedules"]
    assert server.rules.tz == kiosk.tz


BAD = [
    ("band order", "[collector]\ncity = 'Sragen'\n[attendance]\ntl_bands = [30, 20, 90]\n",
     r"collector\.toml:4: \[attendance\] tl_bands .*ascending"),
    ("unknown section", "[camera]\nfps = 15\n", r"collector\.toml:1: unknown section \[camera\]"),
    ("unknown key", "[collector]\nworkers = 4\n", r"collector\.toml:2: unknown key 'workers' in \[collector\]"),
    ("time zone", "[collector]\ntimezone = 'Europe/Berlin'\n", r":2: \[collector\] timezone = 'Europe/Berlin' is not one of"),
    ("leave column", "[leave_types.TB]\nname = 'Tugas belajar'\ncolumn = 'TB'\n",
     r"\[leave_types\.TB\] column 'TB' is not one of the \[leave\] columns \(C, S, I, DL\)"),
    ("half day in a column", "[leave_types.IKL]\nname = 'Izin keluar'\npart = 'masuk'\n",
     r"half-day permit .* set column = \"\""),
    ("schedule missing", "[attendance]\ndefault_schedule = 'pagi'\n", r"names schedule 'pagi', which is not defined"),
    ("shift outside its window", "[schedules.kantor]\npunch_until = '15:00'\n", r"outside the punch window"),
    ("signer", "[signature]\nunits = { BKPSDM = ['Kepala'] }\n", r"\[signature\] units .*'BKPSDM': needs"),
    ("not TOML", "[collector\n", r"not valid TOML"),
]


@pytest.mark.parametrize("case,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_named_with_file_line_and_key(tmp_path, case, text, message):
    path = tmp_path / "collector.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load(path)


def test_the_command_checks_the_file_and_says_where(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text("[attendance]\ncut_alpha = 300\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "server", "--config", str(path), "config"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and f"{path}:2: [attendance] cut_alpha = 300.0 is out of range" in r.stderr, r.stderr
    path.write_text(NIGHT, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "server", "--config", str(path), "config"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout


BLOCKER = """
import importlib.abc, sys
BLOCK = {"PySide6", "shiboken6", "cv2", "dlib", "numpy", "face_recognition_models", "face_recognition",
         "sqlite_utils", "PIL"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCK:
            raise ImportError(f"{name} is a kiosk device package")
sys.meta_path.insert(0, Blocker())
import server.__main__, server.app, server.web
app = server.app.create_app("sqlite:///:memory:")
print(" ".join(sorted(m for m in sys.modules if m.startswith("kiosk"))))
"""


def test_the_server_runs_without_the_kiosks_device_packages():
    r = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert "kiosk.config" not in loaded  # the rules come from attendance.config
    assert loaded <= {"kiosk", "kiosk.fields", "kiosk.fileio"}, loaded


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[=<>\[ ]", line)[0].lower().replace("_", "-"))
    return names


def test_the_server_install_holds_no_device_package():
    assert not requirement_names(ROOT / "requirements-server.txt") & DEVICE_PACKAGES
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    server = {re.split(r"[=<>\[ ]", d)[0].lower() for d in project["optional-dependencies"]["server"]}
    base = {re.split(r"[=<>\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert not (server | base) & DEVICE_PACKAGES
    assert project["scripts"]["kiosk-collector"] == "server.__main__:main"
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    server_branch = setup.split('if [ "${1:-}" = "--server" ]; then', 1)[1].split("fi", 1)[0]
    assert "requirements-server.txt" in server_branch and "requirements.txt" not in server_branch.replace(
        "requirements-server.txt", "")
