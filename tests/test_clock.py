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
