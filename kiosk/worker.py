"""Recognition in its own process, fed through shared memory: the newest frame always wins.

dlib holds Python's GIL for a whole encoding (about 130 ms on a laptop core, several hundred
on a Pi 4), so recognition in a thread of the UI process would freeze the preview. The window
process writes each camera frame into a `FrameRing` (three shared-memory slots); the worker
takes the newest one, runs the same `KioskLoop` as `kiosk run --headless`, and sends back small
dicts over a pipe: the face box and quality hint of each analysed frame, and the attendance
decisions. Frames the worker had no time for are simply overwritten, never queued.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from multiprocessing import shared_memory

import numpy as np

from kiosk.camera.base import Frame

log = logging.getLogger(__name__)

SLOTS = 3
# metadata array layout (int64): latest slot, latest seq, h, w, reading slot, ts (microseconds),
# exposure compensation (thousandths of a stop)
LATEST, SEQ, H, W, READING, TS, EV = range(7)


class FrameRing:
    """Three frame slots in shared memory; a writer never touches the slot being read or the
    newest one (which the reader may take next), so nothing is copied twice or torn."""

    def __init__(self, max_h: int = 1080, max_w: int = 1920, name: str | None = None, create: bool = True):
        self.max_h, self.max_w = max_h, max_w
        size = SLOTS * max_h * max_w * 3
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=size if create else 0)
        # each slot holds one frame packed from its start, so a frame is a contiguous array
        self.slots = np.ndarray((SLOTS, max_h * max_w * 3), dtype=np.uint8, buffer=self.shm.buf)
        ctx = mp.get_context("spawn")  # the worker is spawned: its locks must be spawn-made
        self.meta = ctx.Array("q", 7) if create else None
        self.ready = ctx.Event() if create else None
        if create:
            self.meta[LATEST] = self.meta[READING] = -1

    def attach_args(self):
        return (self.max_h, self.max_w, self.shm.name, self.meta, self.ready)

    @classmethod
    def attach(cls, max_h, max_w, name, meta, ready) -> "FrameRing":
        ring = cls(max_h, max_w, name=name, create=False)
        ring.meta, ring.ready = meta, ready
        return ring

    def put(self, image: np.ndarray, seq: int, ts: float, ev: float = 0.0) -> bool:
        """Publish a frame (called by the camera thread), with the exposure compensation it was
        taken with. False if it does not fit."""
        h, w = image.shape[:2]
        if h > self.max_h or w > self.max_w:
            return False
        with self.meta.get_lock():
            busy = {self.meta[LATEST], self.meta[READING]}
        slot = next(s for s in range(SLOTS) if s not in busy)
        self.slots[slot, : h * w * 3] = np.ascontiguousarray(image).reshape(-1)
        with self.meta.get_lock():
            self.meta[LATEST], self.meta[SEQ], self.meta[H], self.meta[W] = slot, seq, h, w
            self.meta[TS], self.meta[EV] = int(ts * 1e6), round(ev * 1000)
        self.ready.set()
        return True

    def take(self, timeout: float) -> Frame | None:
        """The newest frame, held until release() (called by the worker)."""
        if not self.ready.wait(timeout):
            return None
        self.ready.clear()
        with self.meta.get_lock():
            slot, seq, h, w, ts, ev = (self.meta[LATEST], self.meta[SEQ], self.meta[H], self.meta[W],
                                       self.meta[TS] / 1e6, self.meta[EV] / 1000)
            if slot < 0:
                return None
            self.meta[READING] = slot
            self.meta[LATEST] = -1  # taken: the writer may not reuse it until released
        return Frame(self.slots[slot, : h * w * 3].reshape(h, w, 3), ts, seq, ev=ev)

    def free(self) -> bool:
        """The last frame put has been taken by the reader (or none is waiting)."""
        with self.meta.get_lock():
            return self.meta[LATEST] < 0

    def release(self) -> None:
        with self.meta.get_lock():
            self.meta[READING] = -1

    def close(self, unlink: bool = False) -> None:
        del self.slots
        self.shm.close()
        if unlink:
            self.shm.unlink()


HEARTBEAT_S = 1.0  # the worker says something at least this often (the app's watchdog listens)
GALLERY_CHECK_S = 1.0  # how often the worker looks at the gallery version in the database


class _Sender:
    """The worker's end of the pipe, shared by its main loop and its log handler: one message at
    a time. Log records travel on the same pipe as everything else (``put_nowait`` makes it a
    queue for logging's QueueHandler): a worker killed or stopped mid-write can only break its
    own pipe, which the app replaces with the worker, never a queue shared across restarts."""

    def __init__(self, conn):
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, obj) -> None:
        with self.lock:
            self.conn.send(obj)

    def put_nowait(self, record: logging.LogRecord) -> None:
        try:
            self.send({"type": "log", "record": record})
        except (OSError, EOFError, ValueError):
            pass  # the app is gone: nobody to tell


def _worker_logging(out: _Sender, level: int) -> None:
    """Send this process's log records to the app (QueueHandler over the pipe)."""
    from logging.handlers import QueueHandler

    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(out)]
    root.setLevel(level)


def worker_main(cfg, ring_args, conn, stop, log_level: int = logging.INFO) -> None:
    """Entry point of the spawned recognition process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the window process decides when to stop
    pipe = conn
    conn = _Sender(pipe)
    _worker_logging(conn, log_level)
    from kiosk.loop import KioskLoop
    from kiosk.store import Store, StoreError

    ring = FrameRing.attach(*ring_args)
    try:
        store = Store(cfg.db_path, device_id=cfg.device.id)
        loop = KioskLoop(cfg, store)
        loop.analyzer.m.load_all()
        gallery_version = store.gallery_version()
    except Exception as e:  # models missing, database unusable: tell the window, then stop
        log.error("recognition cannot start: %s: %s", type(e).__name__, e)
        conn.send({"type": "fatal", "message": f"{type(e).__name__}: {e}"})
        return
    log.info("recognition worker %d ready: %d employee(s), %d template(s)", os.getpid(),
             loop.gallery.employee_count, len(loop.gallery))
    conn.send({"type": "ready", "pid": os.getpid(), "employees": loop.gallery.employee_count,
               "templates": len(loop.gallery), "gallery_version": gallery_version})
    mode: dict = {"mode": "attendance"}
    last_sent = last_check = time.monotonic()
    try:
        while not stop.is_set():
            while pipe.poll():
                cmd = pipe.recv()
                if cmd == "reload" or (isinstance(cmd, dict) and cmd.get("cmd") == "reload"):
                    loop.reload()
                elif isinstance(cmd, dict) and cmd.get("cmd") == "mode":
                    mode = cmd
                    loop.tracker.track = None  # a new mode starts with a fresh face track
            now = time.monotonic()
            if now - last_check >= GALLERY_CHECK_S:
                # the roster changed (a sync pulled someone enrolled elsewhere or deactivated at the
                # server, HR enrolled here, a CLI import): use the new gallery from now on
                last_check = now
                try:
                    v = store.gallery_version()
                except StoreError as e:
                    log.warning("%s", e)
                    v = gallery_version
                if v != gallery_version:
                    gallery_version = v
                    loop.reload()
                    log.info("gallery reloaded (version %d): %d employee(s), %d template(s)", v,
                             loop.gallery.employee_count, len(loop.gallery))
                    conn.send({"type": "gallery", "version": v, "employees": loop.gallery.employee_count,
                               "templates": len(loop.gallery)})
                    last_sent = now
            if now - last_sent >= HEARTBEAT_S:
                conn.send({"type": "heartbeat", "frames": loop.frames, "encodings": loop.encodings})
                last_sent = now
            frame = ring.take(timeout=0.5)
            if frame is None:
                continue
            started = time.monotonic()
            try:
                if mode["mode"] == "idle":
                    continue
                if mode["mode"] != "attendance":
                    conn.send(analyse_for_admin(loop, frame, mode))
                    continue
                messages = loop._safe_process(frame)
                t = loop.tracker.track
                waiting = bool(t and t.done and not t.closed and t.verdict is not None
                               and t.verdict.state == "pending")
                for m in messages:
                    conn.send(m)
                # last: the frame's answer is complete once its face message arrives
                conn.send({"type": "face", "seq": frame.seq, "ts": frame.ts,
                           "box": loop.last_box.as_list() if loop.last_box else None,
                           "reason": loop.last_reason, "light": loop.last_light,
                           "identified": bool(t and t.closed),
                           "liveness": (t.verdict.prompt or "wait") if waiting else None,
                           "busy_ms": round((time.monotonic() - started) * 1000, 1),
                           "frames": loop.frames, "encodings": loop.encodings})
            except StoreError as e:
                conn.send({"type": "error", "error": "store", "message": str(e)})
            finally:
                last_sent = time.monotonic()
                ring.release()
    except (BrokenPipeError, EOFError, OSError):
        pass  # the app went away: nothing left to tell
    finally:
        store.close()
        ring.close()


def analyse_for_admin(loop, frame: Frame, mode: dict) -> dict:
    """Enrollment capture or a test recognition ("coba") for one employee: no attendance is
    recorded. Capture returns the template with a small face thumbnail for HR's review (kept
    in memory only) and whether the face matches a *different* employee."""
    from kiosk.imageio import face_jpeg

    rc = loop.rc
    out = {"type": mode["mode"], "session": mode.get("session"), "seq": frame.seq, "box": None, "reason": None}
    try:
        a = loop.analyzer.detect(frame.image)
        if a.face is not None:
            out["box"] = a.face.as_list()
            loop.analyzer.finish(frame.image, a, template=mode["mode"] == "capture")
        out["reason"] = a.reason
        if a.quality is not None:
            out["yaw"] = round(a.quality.yaw, 3)
        if a.encoding is None:
            return out
        nip = mode.get("nip")
        if mode["mode"] == "capture":
            m = loop.gallery.match(a.encoding, exclude=nip, employees_only=True)
            dup = None
            if m.employee_id is not None and m.score <= rc.threshold:  # as enroll.batch.find_duplicates
                dup = {"employee_id": m.employee_id, "name": loop.employees.get(m.employee_id, {}).get("name", ""),
                       "distance": round(m.distance, 3)}
            out.update(encoding=a.encoding.astype("<f4").tobytes(),
                       thumb=face_jpeg(frame.image, a.face, 160, pad=0.25, quality=85),
                       sharpness=round(a.quality.sharpness, 1), duplicate=dup)
        else:  # test
            if nip in loop.gallery.index:
                mine = loop.gallery.match_employee(a.encoding, nip)
                out.update(distance=round(mine.distance, 3),
                           margin=round(mine.margin, 3) if mine.runner_up else None,
                           recognised=mine.accepted(rc.threshold, rc.margin))
            m = loop.gallery.match(a.encoding)
            out["best"] = m.employee_id if m.accepted(rc.threshold, rc.margin) else None
    except Exception as e:  # a bad frame must not stop the worker
        out["reason"] = f"error: {type(e).__name__}"
    return out


class RecognitionProcess:
    """The worker process: start, send, is it alive, stop (kill if it does not stop). The policy -
    when a silent or dead worker is restarted, with which pause - is kiosk.app.App's."""

    def __init__(self, cfg, ring: FrameRing):
        self.cfg, self.ring = cfg, ring
        self.ctx = mp.get_context("spawn")
        self.proc = None
        self.conn = None
        self.stop_event = self.ctx.Event()
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        # One BLAS thread for the 1:N match: with two, a busy second core (the UI) stalled the
        # match to 8-12 ms; with one it stays at 0.26 ms for 10k templates (docs/benchmarks.md).
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        parent, child = self.ctx.Pipe(duplex=True)
        self.stop_event.clear()
        level = logging.getLogger().getEffectiveLevel()
        self.proc = self.ctx.Process(target=worker_main, name="kiosk-recognition",
                                     args=(self.cfg, self.ring.attach_args(), child, self.stop_event,
                                           min(level, logging.INFO)),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def send(self, cmd) -> None:
        """A command for the worker (mode change, reload); dropped if it is not running."""
        if self.conn is not None:
            try:
                self.conn.send(cmd)
            except (BrokenPipeError, OSError):
                pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def schedule_restart(self) -> float:
        """Pause before the next start: 1, 2, 4 ... 30 s."""
        self.restarts += 1
        pause = min(30.0, 2.0 ** (self.restarts - 1))
        self.next_start = time.monotonic() + pause
        return pause

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        if self.proc is not None:
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.proc.kill()  # also a stopped (SIGSTOP) or hung one
                self.proc.join(2)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None
