"""The cyclic garbage collector paused while a report is built.

A regency's month is a few hundred thousand short-lived objects (punches, employee-days, XLSX
cells) that hold no reference cycles; while they pile up, Python's collector keeps walking all of
them again, which measured 42 % of the recap's CPU (bench/recap.py, docs/benchmarks.md).
Reference counting still frees everything as usual; cycles made meanwhile wait for the next
collection. Requests run in threads of one process, so the pause is counted: the collector comes
back when the last report being built is done, and only if it was running before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAUSE = True  # bench/recap.py turns it off to measure the same reports with the collector running
_lock = threading.Lock()
_users = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _users, _was_enabled
    if not PAUSE:
        yield
        return
    with _lock:
        if _users == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _was_enabled:
                gc.enable()
