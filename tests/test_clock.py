"""Whether the clock is believed: timesyncd's flag, else the kernel's own state."""

import subprocess
import sys

from conftest import ROOT


def run(code: str, env: dict) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=ROOT, check=True).stdout.strip()


def test_timesyncd_flag_file_means_synchronised(tmp_path):
    flag = tmp_path / "synchronized"
    code = "from kiosk.clock import clock_synchronised; print(clock_synchronised())"
    assert run(code, {"KIOSK_TIMESYNC_FLAG": str(flag), "PATH": ""}) == "False"
    flag.touch()
    assert run(code, {"KIOSK_TIMESYNC_FLAG": str(flag), "PATH": ""}) == "True"


def test_kernel_clock_state_is_read_without_a_subprocess():
    from kiosk.clock import _kernel_clock_state

    state = _kernel_clock_state()
    assert isinstance(state, int) and 0 <= state <= 5  # TIME_OK .. TIME_ERROR


def test_a_staged_clock_starts_where_asked_runs_on_and_is_never_synchronised(tmp_path, monkeypatch):
    """$KIOSK_CLOCK_START (tests, rehearsals): a punch must not depend on the hour CI runs at."""
    import time
    import zoneinfo

    import pytest

    from kiosk.clock import Clock

    flag = tmp_path / "synchronized"
    flag.touch()  # even with timesyncd's flag present
    monkeypatch.setenv("KIOSK_TIMESYNC_FLAG", str(flag))
    monkeypatch.setenv("KIOSK_CLOCK_START", "2026-11-24T13:59:59+07:00")
    clock = Clock(zoneinfo.ZoneInfo("Asia/Makassar"))
    a = clock.now()
    time.sleep(1.1)
    b = clock.now()
    assert a.local.isoformat().startswith("2026-11-24T14:59:59") and a.local.utcoffset().seconds == 8 * 3600
    assert 1.0 <= (b.utc - a.utc).total_seconds() < 3.0 and b.local_date == "2026-11-24"
    assert not a.synced and not clock.synced()
    monkeypatch.setenv("KIOSK_CLOCK_START", "24/11/2026 07:20")
    with pytest.raises(ValueError, match="KIOSK_CLOCK_START"):
        Clock(zoneinfo.ZoneInfo("Asia/Jakarta"))
    monkeypatch.setenv("KIOSK_CLOCK_START", "2026-11-24T07:20:00")
    with pytest.raises(ValueError, match="UTC offset"):
        Clock(zoneinfo.ZoneInfo("Asia/Jakarta"))
