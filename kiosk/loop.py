"""The kiosk loop without a screen: camera -> recognition -> decision -> store, one JSON line each.

`KioskLoop.process(frame)` is one step and returns what happened (tests and the benchmark call
it directly); `run()` drives it from a camera source until the source ends or `stop` is set.
The camera source already drops stale frames, so a slow step never builds a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kiosk.camera import CameraError, Frame, FrameSource
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.decision import decide
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.pipeline import FaceAnalyzer
from kiosk.recognition.tracker import Tracker
from kiosk.rules.schedule import Calendar, ScheduleError, schedule_for, schedules_from_config
from kiosk.store import Store, StoreError
from kiosk_models import ENCODER_VERSION

log = logging.getLogger(__name__)


def load_gallery(store: Store) -> Gallery:
    enc, nips = store.templates(ENCODER_VERSION)
    return Gallery(enc, nips)


class KioskLoop:
    def __init__(self, cfg: Config, store: Store, analyzer: FaceAnalyzer | None = None,
                 clock: Clock | None = None, gallery: Gallery | None = None):
        self.cfg, self.store = cfg, store
        self.rc = cfg.recognition
        self.analyzer = analyzer or FaceAnalyzer(self.rc)
        self.clock = clock or Clock(cfg.tz)
        self.gallery = gallery or load_gallery(store)
        self.employees = {e["nip"]: e for e in store.employees()}
        self.schedules = schedules_from_config(cfg)
        self.rules = cfg.values["attendance"]
        self.tracker = Tracker(self.rc.votes_needed, self.rc.vote_window, self.rc.track_gap_s)
        self.frames = 0
        self.encodings = 0
        self.last_box = None  # the chosen face of the last frame (for the screen's face box)
        self.last_reason: str | None = None  # why it was not encoded (the screen's hint)

    def reload(self) -> None:
        """Re-read templates and employees (after an enrollment)."""
        self.gallery = load_gallery(self.store)
        self.employees = {e["nip"]: e for e in self.store.employees()}

    def process(self, frame: Frame) -> list[dict]:
        """One frame; returns the messages it produced (decisions, unknown faces, errors)."""
        self.frames += 1
        a = self.analyzer.detect(frame.image)
        self.last_box, self.last_reason = a.face, a.reason
        track = self.tracker.observe(a.face, frame.ts)
        if track is None:
            return []  # nobody there
        if track.done and frame.ts - track.checked_ts < self.rc.reverify_s:
            return []  # identified and recently re-checked: no encoding spent
        self.analyzer.finish(frame.image, a)
        self.last_reason = a.reason
        if a.encoding is None:
            return []  # a quality gate refused this frame; the UI shows the hint (a.reason)
        self.encodings += 1
        m = self.gallery.match(a.encoding)
        if track.done:
            track.checked_ts = frame.ts
            if m.employee_id == track.identified and m.distance <= self.rc.threshold:
                return []  # still the same person
            track = self.tracker.restart(a.face, frame.ts)  # someone else stepped in
        accepted = m.accepted(self.rc.threshold, self.rc.margin)
        winner = self.tracker.vote(track, m.employee_id if accepted else None, m.distance, m.margin)
        if winner is None:
            if self.tracker.unknown(track):
                return [{"type": "unknown", "track": track.id, "reason": m.reason(self.rc.threshold, self.rc.margin),
                         "distance": _r(m.distance), "frame": frame.label or frame.seq}]
            return []
        distance, margin = track.best[winner]
        return [self._record(winner, distance, margin, frame, track.id)]

    def _record(self, nip: str, distance: float, margin: float, frame: Frame, track_id: int) -> dict:
        stamp = self.clock.now()
        employee = self.employees.get(nip, {"nip": nip})
        base = {"employee_id": nip, "name": employee.get("name", ""), "distance": _r(distance),
                "margin": _r(margin), "track": track_id, "frame": frame.label or frame.seq}
        try:
            schedule = schedule_for(employee, self.schedules, self.rules)
            cal = Calendar.from_config(self.rules, self.store.holidays())
            work_date, _ = schedule.locate(stamp.local, cal)
            d = decide(nip, stamp, schedule, cal, self.store.day_events(nip, [work_date.isoformat()]),
                       self.rules, device_id=self.cfg.device.id, boot_id=self.clock.boot_id,
                       distance=distance, margin=margin)
            if d.event is not None:
                self.store.record_event(d.event)
        except StoreError as e:
            # The screen tells the employee to use the paper list; the loop keeps running.
            log.error("%s", e)
            return {"type": "error", "error": "store", "message": str(e), **base}
        except ScheduleError as e:
            log.error("%s", e)
            return {"type": "error", "error": "schedule", "message": str(e), **base}
        out = {"type": "attendance", "status": d.status, "kind": d.kind, **base,
               "late_minutes": d.late_minutes, "early_minutes": d.early_minutes, "category": d.category,
               "note": d.note, "latency_ms": round((time.monotonic() - frame.ts) * 1000, 1)}
        if d.event:
            out.update(event_id=d.event["id"], local_time=d.event["local_time"],
                       clock_synced=bool(d.event["clock_synced"]))
        else:
            out["recorded_at"] = d.previous_local_time
        return out

    def run(self, source: FrameSource, emit: Callable[[dict], None],
            stop: threading.Event | None = None, max_seconds: float | None = None,
            retry_s: float = 2.0) -> None:
        """Until the source ends, `stop` is set or `max_seconds` pass.

        A camera that fails to open or stops delivering is reported and re-opened with a
        growing pause (up to 30 s); recognition resumes by itself when it comes back.
        """
        stop = stop or threading.Event()
        started = time.monotonic()
        pause = retry_s

        def out_of_time() -> bool:
            return max_seconds is not None and time.monotonic() - started > max_seconds

        while not stop.is_set() and not out_of_time():
            try:
                source.open()
                pause = retry_s
                while not stop.is_set() and not out_of_time():
                    frame = source.read(timeout=1.0)
                    if frame is not None:
                        for msg in self._safe_process(frame):
                            emit(msg)
            except StopIteration:
                return
            except CameraError as e:
                emit({"type": "error", "error": "camera", "message": str(e), "retry_in_s": pause})
                stop.wait(pause)
                pause = min(30.0, pause * 2)
            finally:
                source.close()

    def _safe_process(self, frame: Frame) -> list[dict]:
        try:
            return self.process(frame)
        except Exception as e:  # a bad frame must never stop the kiosk
            log.exception("frame %s failed", frame.seq)
            return [{"type": "error", "error": "frame", "message": f"{type(e).__name__}: {e}"}]


def _r(x: float) -> float | None:
    return None if x == float("inf") else round(float(x), 4)
