"""The kiosk application, without Qt: the long-lived parts, started and stopped in order.

``App`` owns the store (the UI process's connection), the frame ring (shared memory), the
recognition worker (a spawned process), the uploader (a thread) and the camera reader (a
thread), and one stop event. The window (kiosk/ui/window.py) and ``kiosk run --headless`` both
run an ``App`` and only differ in what they do with its callbacks:

* ``on_message(msg)``: everything the worker says (decisions, face boxes, liveness prompts,
  gallery reloads) and the app's own state changes (``{"type": "state", ...}``);
* ``on_frame(image, seq, ts)``: each camera frame, for the preview.

Both are called from the app's threads (the supervisor, the camera reader): the window hands
them to its Qt thread through signals; headless mode prints them.

The supervisor thread reads the worker's pipe and watches it: the worker speaks at least once a
second (a face message per frame, else a heartbeat). A worker that is dead, or silent for
``[recognition] worker_timeout_s`` (hung: a deadlock, a stuck camera driver call, SIGSTOP), is
killed and started again after a pause that grows 1, 2, 4 ... 30 s and starts over once a
worker has run for a minute. The worker's log records come to this process's log: a
QueueHandler in the worker whose "queue" is its pipe, and the supervisor, as the listener,
hands each record to the logger of the same name here. (An mp.Queue shared across restarts was
tried first: a worker killed in the middle of a write left it unreadable and stop() hung.)

Start order: store, ring, worker, uploader, camera (a replayed recording waits for the worker to
be ready, a live camera does not), supervisor; stop is the reverse, each part given a bounded
time.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from kiosk.camera import CameraError
from kiosk.camera.exposure import FacePriority
from kiosk.store import Store, StoreError
from kiosk.worker import FrameRing, RecognitionProcess

log = logging.getLogger(__name__)

HEALTHY_AFTER_S = 60.0  # a worker that ran this long resets the restart pause to 1 s


def fit(rgb: np.ndarray, max_h: int, max_w: int) -> np.ndarray:
    """Shrink a frame that is larger than the ring's slots (a replayed photo, say)."""
    h, w = rgb.shape[:2]
    f = min(max_h / h, max_w / w)
    if f >= 1:
        return rgb
    import cv2

    return cv2.resize(rgb, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)


def _log_here(record) -> None:
    """A record from the worker, handed to the logger of the same name in this process."""
    if isinstance(record, logging.LogRecord):
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


class CameraReader(threading.Thread):
    """Reads the camera: each frame into the ring (for the worker) and to ``on_frame`` (the
    preview). A camera that fails is reported and re-opened with a growing pause; a source that
    ends (a replay) says why and stops. ``lossless``: wait until the worker has taken a frame
    before giving it the next (replays for tests and benchmarks: every frame analysed, in order)."""

    def __init__(self, app: "App", make_source, lossless: bool = False):
        super().__init__(name="camera", daemon=True)
        self.app, self.make_source, self.lossless = app, make_source, lossless
        self.halt = threading.Event()  # stops this reader only (the app's stop event stops all)
        self.last_seq: int | None = None  # the last frame put into the ring
        self.frames = 0
        self.labels: dict[int, str] = {}  # seq -> the replayed file (and frame), for the decisions
        # face-priority exposure, steered by the light the worker measures on the chosen face
        self.exposure = FacePriority() if app.cfg.camera.face_exposure else None

    RECORDING_WAIT_S = 180.0  # longest wait for the worker before a recording starts anyway

    def _wait_for_recogniser(self, source) -> None:
        """A recording (a replayed clip or photo folder) starts once the recognition worker is
        ready: its first seconds are the person's first seconds at the kiosk, and in real time a
        worker still loading its models (1-3 s) would drop them - the clip's visit would be
        timed from a later frame, a photo held for 1 s never seen. A live camera opens at once
        (the preview), its frames before that are nobody's loss."""
        app = self.app
        if not getattr(source, "recording", False) or not app.worker_enabled:
            return
        end = time.monotonic() + self.RECORDING_WAIT_S
        while (not app.ready and not self.stopped() and time.monotonic() < end
               and app.state.get("recognition") != "fatal"):
            self.halt.wait(0.05)

    def run(self) -> None:
        app = self.app
        pause = 1.0
        while not self.stopped():
            source = None
            try:
                source = self.make_source()
                self._wait_for_recogniser(source)
                if self.stopped():
                    return
                source.open()
                app.set_state(camera="ok")
                pause = 1.0
                if self.exposure is not None:
                    self.exposure.reset()
                while not self.stopped():
                    if self.exposure is not None:
                        self.exposure.apply(source)
                    f = source.read(timeout=0.5)
                    if f is None:
                        continue
                    image = fit(f.image, app.ring.max_h, app.ring.max_w)
                    if self.lossless:
                        while not self.stopped() and not app.ring.free():
                            time.sleep(0.002)
                    # the exposure compensation this frame may have been taken with (the glow cue's clipping)
                    ev = self.exposure.in_force(time.monotonic(), source) if self.exposure is not None else f.ev
                    app.ring.put(image, f.seq, f.ts, ev)
                    self.last_seq = f.seq
                    if f.label:
                        self.labels[f.seq] = f.label
                        if len(self.labels) > 512:
                            del self.labels[next(iter(self.labels))]
                    self.frames += 1
                    app.on_frame(image, f.seq, f.ts)
            except StopIteration as e:
                app.set_state(camera="ended", camera_message=str(e) or "the camera source ended")
                log.info("camera: %s", str(e) or "the source ended")
                return
            except CameraError as e:
                app.set_state(camera="error", camera_message=str(e))
                log.warning("camera: %s (retrying in %.0f s)", e, pause)
                self.halt.wait(pause)
                pause = min(30.0, pause * 2)
            except Exception as e:  # a source that breaks in an unforeseen way must not stop the kiosk
                app.set_state(camera="error", camera_message=f"{type(e).__name__}: {e}")
                log.exception("camera failed")
                self.halt.wait(pause)
                pause = min(30.0, pause * 2)
            finally:
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        log.exception("camera: close failed")


    def stopped(self) -> bool:
        return self.halt.is_set() or self.app.stop_event.is_set()


class LivenessPace:
    """How many frames a second the last liveness checks saw (each verdict's ``fps``): the
    technician's evidence that this kiosk is fast enough for liveness. Below
    ``kiosk.liveness.MIN_FPS`` blinks fall between frames and everyone is asked to try again
    (docs/liveness.md); the admin status page says so."""

    def __init__(self, keep: int = 20):
        self.recent: deque[float] = deque(maxlen=keep)

    def add(self, fps) -> None:
        if isinstance(fps, (int, float)) and fps > 0:  # None: liveness off; 0: a one-frame check
            self.recent.append(float(fps))

    def median(self) -> float | None:
        recent = list(self.recent)
        return statistics.median(recent) if recent else None


class App:
    def __init__(self, cfg, make_source: Callable, *, on_message: Callable[[dict], None] | None = None,
                 on_frame: Callable[[np.ndarray, int, float], None] | None = None,
                 lossless: bool = False, start_worker: bool = True, uploader=None):
        self.cfg = cfg
        self.make_source = make_source
        self.on_message = on_message if on_message is not None else (lambda msg: None)
        self.on_frame = on_frame if on_frame is not None else (lambda image, seq, ts: None)
        self.lossless = lossless
        self.worker_enabled = start_worker
        self.stop_event = threading.Event()
        self.state = {"camera": "starting", "camera_message": "", "recognition": "starting",
                      "recognition_message": "", "store": "ok"}
        self._lock = threading.Lock()
        self.store: Store | None = None
        self.ring: FrameRing | None = None
        self.worker: RecognitionProcess | None = None
        self.uploader = uploader
        self.camera: CameraReader | None = None
        self._supervisor: threading.Thread | None = None
        self.worker_timeout_s = float(cfg.recognition.worker_timeout_s)
        self.last_heard = 0.0
        self.worker_started = 0.0
        self.ready = False
        self.processed_seq: int | None = None  # seq of the last frame the worker answered for
        self.frames = 0  # frames the worker analysed (all its lives)
        self.encodings = 0
        self._counts_base = (0, 0)  # totals of the previous workers
        self.restarts = 0  # workers restarted (killed dead or hung) since start
        self.hangs = 0
        self.liveness_pace = LivenessPace()
        self.on_tick: Callable[[], None] = lambda: None  # called by the supervisor each round (headless: systemd watchdog)

    # --- state ---------------------------------------------------------------------------

    def set_state(self, **kw) -> None:
        with self._lock:
            changed = {k: v for k, v in kw.items() if self.state.get(k) != v}
            self.state.update(kw)
        if changed:
            self.on_message({"type": "state", **changed})

    # --- start and stop --------------------------------------------------------------------

    def start(self) -> "App":
        cfg = self.cfg
        try:
            self.store = Store(cfg.db_path, device_id=cfg.device.id)
        except StoreError as e:  # corrupt, locked, unwritable: say so, keep the preview
            log.error("%s", e)
            self.set_state(store="error")
        self.ring = FrameRing(max_h=max(cfg.camera.height, 1080), max_w=max(cfg.camera.width, 1920))
        self.worker = RecognitionProcess(cfg, self.ring)
        if self.worker_enabled:
            self._start_worker()
        if self.uploader is None:
            from kiosk.upload import Uploader

            self.uploader = Uploader(cfg)
        self.uploader.start()
        self.camera = CameraReader(self, self.make_source, self.lossless)
        self.camera.start()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        """Everything in reverse order; safe to call twice."""
        self.stop_event.set()
        self.stop_camera()
        if self._supervisor is not None:
            self._supervisor.join(3)
            self._supervisor = None
        if self.uploader is not None:
            self.uploader.stop(timeout=3)
        if self.worker is not None:
            self.worker.stop()
        if self.ring is not None:
            self.ring.close(unlink=True)
            self.ring = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def restart_camera(self, make_source=None) -> None:
        """Stop the camera reader and start a new one (another source, e.g. for screenshots)."""
        self.stop_camera()
        if make_source is not None:
            self.make_source = make_source
        self.camera = CameraReader(self, self.make_source, self.lossless)
        self.camera.start()

    def stop_camera(self) -> None:
        if self.camera is not None:
            self.camera.halt.set()
            self.camera.join(3)

    def correct(self, event_id: str, source: str = "employee") -> dict:
        """The employee pressed "switch to PULANG/MASUK" on the card: a correction event (the
        original stays), uploaded like any event; returns the card's new message."""
        import datetime as dt

        from kiosk.decision import shown_minutes
        from attendance.schedule import Calendar, schedule_for, schedules_from_config

        if self.store is None:
            raise StoreError("the database is not available; nothing was corrected")
        ev = self.store.record_correction(event_id, source)  # audited as "employee:<NIP>"
        self.notify_upload()
        employee = self.store.employee(ev["nip"]) or {"nip": ev["nip"]}
        rules = self.cfg.values["attendance"]
        at = dt.datetime.fromisoformat(ev["local_time"])
        try:
            schedule = schedule_for(employee, schedules_from_config(self.cfg), rules)
            shift = schedule.locate(at, Calendar.from_config(rules, self.store.holidays()))[1]
        except Exception:  # a schedule problem must not hide the corrected card
            log.exception("correction: no schedule for %s", ev["nip"])
            shift = None
        log.info("event %s corrected to %s by the %s (%s)", event_id, ev["kind"], source, ev["id"])
        return {"type": "attendance", "status": "recorded", "kind": ev["kind"], "employee_id": ev["nip"],
                "name": employee.get("name", ""), "local_time": ev["local_time"], "event_id": ev["id"],
                "corrects": event_id, "note": "" if ev["in_window"] else "outside_window",
                **shown_minutes(ev["kind"], at, shift, rules)}

    def send(self, cmd) -> None:
        if self.worker is not None:
            self.worker.send(cmd)

    def notify_upload(self) -> None:
        if self.uploader is not None:
            self.uploader.notify()

    def drained(self) -> bool:
        """The camera ended and the worker answered for its last frame (or nothing was left)."""
        cam = self.camera
        if cam is None or cam.is_alive():
            return False
        return cam.last_seq is None or self.processed_seq == cam.last_seq or not self.worker.alive()

    # --- the worker ------------------------------------------------------------------------

    def _start_worker(self) -> None:
        self.ready = False
        self.worker.start()
        self.worker_started = self.last_heard = time.monotonic()
        self._counts_base = (self.frames, self.encodings)
        if self.state["recognition"] not in ("restarting", "fatal"):
            self.set_state(recognition="starting")

    def _restart_later(self, why: str) -> None:
        if time.monotonic() - self.worker_started > HEALTHY_AFTER_S:
            self.worker.restarts = 0
        self.worker.stop(timeout=0.5)
        pause = self.worker.schedule_restart()
        self.restarts += 1
        self.ready = False
        log.error("recognition process %s; restarting in %.0f s", why, pause)
        if self.state["recognition"] != "fatal":
            self.set_state(recognition="restarting")
        self.on_message({"type": "face", "box": None, "identified": False, "reason": None, "liveness": None})

    def _handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "log":
            _log_here(msg.get("record"))
            return
        if kind in ("face", "heartbeat"):
            base_f, base_e = self._counts_base
            if "frames" in msg:
                self.frames, self.encodings = base_f + msg["frames"], base_e + msg["encodings"]
            if kind == "face":
                self.processed_seq = msg.get("seq")
                if self.camera is not None and self.camera.exposure is not None:
                    self.camera.exposure.observe(msg.get("light"), time.monotonic())
        if kind == "ready":
            self.ready = True
            self.set_state(recognition="ok", recognition_message="")
        elif kind == "fatal":
            self.set_state(recognition="fatal", recognition_message=msg.get("message", ""))
        elif kind == "error" and msg.get("error") == "store":
            self.set_state(store="error")
        elif kind in ("attendance", "unknown", "spoof", "unverified"):
            self.liveness_pace.add(msg.get("liveness_fps"))
            if self.state["store"] != "ok" and kind == "attendance" and msg.get("status") == "recorded":
                self.set_state(store="ok")
            if msg.get("status") == "recorded":
                self.notify_upload()
        if kind != "heartbeat":
            frame = msg.get("frame")
            if isinstance(frame, int) and self.camera is not None and frame in self.camera.labels:
                msg["frame"] = self.camera.labels[frame]
            self.on_message(msg)

    def _supervise(self) -> None:
        """Read the worker's pipe; restart it when dead or silent; feed on_tick."""
        last_tick = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now - last_tick >= 1.0:
                last_tick = now
                self.on_tick()
            w = self.worker
            if not self.worker_enabled:
                self.stop_event.wait(0.2)
                continue
            if w.proc is None:
                if now >= w.next_start:
                    self._start_worker()
                else:
                    self.stop_event.wait(min(0.2, w.next_start - now))
                continue
            try:
                if w.conn.poll(0.2):
                    while w.conn.poll():
                        msg = w.conn.recv()
                        self.last_heard = time.monotonic()
                        self._handle(msg)
                    continue
            except (EOFError, OSError):
                self._restart_later("stopped (its pipe closed)")
                continue
            except Exception:
                log.exception("supervisor: a message from the worker could not be handled")
                continue
            if not w.alive():
                code = w.proc.exitcode
                self._restart_later(f"died (exit code {code})")
                continue
            silent = time.monotonic() - self.last_heard
            limit = self.worker_timeout_s if self.ready else max(120.0, 4 * self.worker_timeout_s)
            if silent > limit:
                self.hangs += 1
                self._restart_later(f"did not answer for {silent:.0f} s (hung)")
