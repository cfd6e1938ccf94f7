"""Tell systemd how the kiosk is doing (sd_notify), without a dependency.

The kiosk runs as ``Type=notify`` with ``WatchdogSec``: systemd waits for ``ready()`` before it
counts the service as started, and restarts it when ``watchdog()`` has not been called for
``WatchdogSec``. Call ``watchdog()`` from the window's event loop (a QTimer), so a frozen UI
thread stops the pings. Everything is a no-op when ``$NOTIFY_SOCKET`` is unset (a laptop,
tests, ``kiosk run`` from a shell), and never raises: telling systemd must not stop the kiosk.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify", "ready", "watchdog", "status", "stopping", "watchdog_interval"]


def notify(message: str) -> bool:
    """Send one sd_notify datagram; True if it was sent."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr[0] == "@":  # abstract namespace socket
        addr = "\0" + addr[1:]
    elif addr[0] != "/":
        return False  # vsock and other kinds are not used on a kiosk
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            # never block the UI thread: a receiver that does not read (a full queue) costs a
            # dropped ping, not a frozen kiosk
            s.send(message.encode("utf-8", "replace"), socket.MSG_DONTWAIT)
        return True
    except OSError:
        return False


def ready(text: str | None = None) -> bool:
    """The kiosk is up: the window is shown and the camera/worker are started."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(text)}" if text else ""))


def watchdog() -> bool:
    """Still alive: call at least twice per ``watchdog_interval()``."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """A one-line state shown by ``systemctl status kiosk`` (never put a secret here)."""
    return notify(f"STATUS={_one_line(text)}")


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Seconds after which systemd gives up on us ($WATCHDOG_USEC), or None when not watched."""
    # WATCHDOG_PID is not checked: under cage the main PID is cage's and the app is its child
    # (the unit says NotifyAccess=all).
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    try:
        return int(usec) / 1e6 or None
    except ValueError:
        return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:200]
