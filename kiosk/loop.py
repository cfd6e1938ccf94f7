"""The kiosk loop without a screen: camera -> recognition -> decision -> store, one JSON line each.

`KioskLoop.process(frame)` is one step and returns what happened (tests and the benchmark call
it directly); `run()` drives it from a camera source until the source ends or `stop` is set.
The camera source already drops stale frames, so a slow step never builds a backlog.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Callable

import numpy as np

from kiosk.camera import CameraError, Frame, FrameSource
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.decision import decide
from attendance.day import current
from kiosk.liveness import MIN_FPS, LivenessConfig, LivenessTracker
from kiosk.screen import Room
from kiosk.recognition.gallery import Gallery, gallery_options
from kiosk.recognition.pipeline import FaceAnalyzer
from kiosk.recognition.tracker import Tracker
from attendance.schedule import Calendar, ScheduleError, schedule_for, schedules_from_config
from kiosk.store import Store, StoreError
from kiosk_models import ENCODER_VERSION

log = logging.getLogger(__name__)

# A check that saw fewer than liveness.MIN_FPS frames a second asks everyone to try again: said in
# the log at most every SLOW_WARN_EVERY_S, where the technician looks (and on the status page).
SLOW_WARN_EVERY_S = 600.0


def liveness_config(cfg: Config) -> LivenessConfig:
    return LivenessConfig.from_config(cfg)


def load_gallery(store: Store, rc=None) -> Gallery:
    """The active employees' templates and the look-alike holds in force (never accepted);
    `rc` ([recognition]) gives the matching rule."""
    enc, nips = store.templates(ENCODER_VERSION)
    if rc is None or not rc.lookalike_holds:
        return Gallery(enc, nips, **(gallery_options(rc) if rc is not None else {}))
    henc, hnips = store.holds(ENCODER_VERSION)
    return Gallery(np.concatenate([enc, henc]), nips + hnips, **gallery_options(rc), held=set(hnips))


class KioskLoop:
    def __init__(self, cfg: Config, store: Store, analyzer: FaceAnalyzer | None = None,
                 clock: Clock | None = None, gallery: Gallery | None = None):
        self.cfg, self.store = cfg, store
        self.rc = cfg.recognition
        self.analyzer = analyzer or FaceAnalyzer(self.rc)
        self.clock = clock or Clock(cfg.tz)
        self.gallery = gallery or load_gallery(store, self.rc)
        self.employees = {e["nip"]: e for e in store.employees()}
        self.schedules = schedules_from_config(cfg)
        self.rules = cfg.values["attendance"]
        self.live_cfg = liveness_config(cfg)
        self.rng = random.Random()
        self.tracker = Tracker(self.rc.votes_needed, self.rc.vote_window, self.rc.track_gap_s)
        self.room = Room()  # the empty view, learnt between visits (liveness's screen cues use it)
        self.frames = 0
        self.encodings = 0
        self.on_frame = lambda: None  # called for every frame read (the headless kiosk feeds systemd's watchdog)
        self.last_box = None  # the chosen face of the last frame (for the screen's face box)
        self.last_reason: str | None = None  # why it was not encoded (the screen's hint)
        self.last_light: dict | None = None  # light on the chosen face (face-priority exposure)
        self.slow_warned = -float("inf")  # when the log last said liveness ran too slowly (monotonic s)

    def reload(self) -> None:
        """Re-read templates and employees (after an enrollment)."""
        self.gallery = load_gallery(self.store, self.rc)
        self.employees = {e["nip"]: e for e in self.store.employees()}

    def process(self, frame: Frame) -> list[dict]:
        """One frame; returns the messages it produced (decisions, unknown faces, liveness
        prompts and refusals, errors)."""
        self.frames += 1
        a = self.analyzer.detect(frame.image)
        self.last_box, self.last_reason, self.last_light = a.face, a.reason, None
        track = self.tracker.observe(a.face, frame.ts)
        if self.live_cfg.mode != "off":
            self.room.update(frame.ts, frame.image if a.face is None else None)
        if track is None:
            return []  # nobody there
        if track.closed:
            # recorded (or refused): only a re-check now and then, for the next person in a queue
            if frame.ts - track.checked_ts < self.rc.reverify_s:
                return []
            self.analyzer.finish(frame.image, a)
            self.last_reason, self.last_light = a.reason, a.quality.light if a.quality else None
            if a.encoding is None:
                return []
            self.encodings += 1
            track.checked_ts = frame.ts
            m = self.gallery.match(a.encoding)
            if m.employee_id == track.identified and m.distance <= self.rc.threshold:
                return []  # still the same person
            track = self.tracker.restart(a.face, frame.ts)  # someone else stepped in
            return self._step(track, frame, a, m)
        # identified but liveness still pending: landmarks only, no encoding; a face that matched
        # nobody for a full vote window is re-encoded only every unknown_reencode_s (an encoding
        # costs 10-20x the detection: encoding a stranger on every frame starved liveness and
        # the preview of a loaded machine), in case it was a bad angle of an employee or the next
        # person stepped in; once a re-encoding matches, every frame is encoded again
        encode = not track.done and (not track.unknown_reported or (track.votes and track.votes[-1] is not None)
                                     or frame.ts - track.encoded_ts >= self.rc.unknown_reencode_s)
        self.analyzer.finish(frame.image, a, encode=encode)
        self.last_reason, self.last_light = a.reason, a.quality.light if a.quality else None
        m = None
        if a.encoding is not None:
            self.encodings += 1
            track.encoded_ts = frame.ts
            m = self.gallery.match(a.encoding)
        return self._step(track, frame, a, m)

    def _step(self, track, frame: Frame, a, m) -> list[dict]:
        """Feed one analysed frame to the track's vote and liveness; record when both agree."""
        out: list[dict] = []
        if self.live_cfg.mode != "off" and a.landmarks is not None:
            if track.liveness is None:
                track.liveness = LivenessTracker(self.live_cfg, self.rng, self.room)
            track.verdict = track.liveness.update(frame.ts, a.landmarks, a.face, frame.image, frame.ev)
        if not track.done and m is not None:
            accepted = m.accepted(self.rc.threshold, self.rc.margin)
            self.tracker.vote(track, m.employee_id if accepted else None, m.distance, m.margin)
            if not track.done and self.tracker.unknown(track):
                out.append({"type": "unknown", "track": track.id, "reason": m.reason(self.rc.threshold, self.rc.margin),
                            "distance": _r(m.distance), "frame": frame.label or frame.seq})
        v = track.verdict
        if v is not None and v.final and not v.live and not track.done:
            # liveness acts only on a face that matched an employee: a stranger's (or a not yet
            # identified face's) failed check is no HR case; it starts over with fresh evidence
            track.liveness = track.verdict = v = None
        if v is not None and v.state == "spoof":
            out.append(self._refuse(track, frame, a, v))
        elif v is not None and v.state == "unverified":
            out.append(self._unverified(track, frame, v))
        elif track.done and (self.live_cfg.mode == "off" or (v is not None and v.live)):
            distance, margin = track.best[track.identified]
            out.append(self._record(track.identified, distance, margin, frame, track.id, v))
            track.closed, track.checked_ts = True, frame.ts
        elif v is not None and v.state == "pending" and (v.prompt or track.done) and v.prompt != track.prompt:
            track.prompt = v.prompt  # tell the screen what to do (blink, turn), or just "hold on"
            out.append({"type": "liveness", "prompt": v.prompt, "track": track.id,
                        "employee_id": track.identified, "frame": frame.label or frame.seq})
        return out

    def _refuse(self, track, frame: Frame, a, v) -> dict:
        """Positive evidence of an attack (a flat print; SUSPECT_REASONS): no event; the attempt
        goes to HR's audit log as suspected fraud, with who was held up."""
        track.closed, track.checked_ts = True, frame.ts
        detail = {"suspected_nip": track.identified, "track": track.id, **v.as_dict()}
        if self.cfg.liveness.snapshot and a.face is not None:
            detail["snapshot"] = self._snapshot(frame, a.face)
        try:
            self.store.audit("liveness_failed", detail, actor="kiosk")
        except StoreError as e:
            log.error("%s", e)
        return {"type": "spoof", "track": track.id, "employee_id": track.identified, "reason": v.reason,
                "liveness_fps": _fps(v), "frame": frame.label or frame.seq}

    def _unverified(self, track, frame: Frame, v) -> dict:
        """The challenge was not answered (or time ran out): not an accusation. Nothing is
        recorded; the screen asks the person to try again, and the same face gets a fresh check
        (once; then a new track - stepping back - starts over). HR's log keeps it as
        `liveness_unverified`, apart from suspected fraud."""
        track.unverified += 1
        fps = v.scores.get("fps", 0.0)
        if 0 < fps < MIN_FPS and time.monotonic() - self.slow_warned >= SLOW_WARN_EVERY_S:
            self.slow_warned = time.monotonic()
            log.warning("liveness saw only %.1f frames a second in a check that ended '%s' (it needs about %g): "
                        "blinks and head movement are missed, so employees are asked to try again. The kiosk "
                        "is too slow for its camera and models (docs/liveness.md, 'The per-frame cost again').",
                        fps, v.reason, MIN_FPS)
        try:
            self.store.audit("liveness_unverified", {"nip": track.identified, "track": track.id,
                                                     "attempt": track.unverified, **v.as_dict()}, actor="kiosk")
        except StoreError as e:
            log.error("%s", e)
        if track.unverified >= 2:
            track.closed, track.checked_ts = True, frame.ts
        else:
            track.liveness = track.verdict = None
            track.prompt = None
        return {"type": "unverified", "track": track.id, "employee_id": track.identified, "reason": v.reason,
                "retry": not track.closed, "liveness_fps": _fps(v), "frame": frame.label or frame.seq}

    def _snapshot(self, frame: Frame, box) -> str:
        """A small picture of the refused face for HR (owner-only file on the data partition)."""
        from kiosk.fileio import write_atomic
        from kiosk.imageio import face_jpeg

        jpg = face_jpeg(frame.image, box, 120, pad=1 / 3, quality=70)
        folder = self.cfg.data_dir / "liveness"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-track{frame.seq}.jpg"
        if jpg:
            write_atomic(path, jpg, mode=0o600)
        return str(path)

    def _record(self, nip: str, distance: float, margin: float, frame: Frame, track_id: int,
                verdict=None) -> dict:
        stamp = self.clock.now()
        employee = self.employees.get(nip, {"nip": nip})
        base = {"employee_id": nip, "name": employee.get("name", ""), "distance": _r(distance),
                "margin": _r(margin), "track": track_id, "frame": frame.label or frame.seq}
        try:
            schedule = schedule_for(employee, self.schedules, self.rules)
            cal = Calendar.from_config(self.rules, self.store.holidays())
            work_date, _ = schedule.locate(stamp.local, cal)
            d = decide(nip, stamp, schedule, cal, current(self.store.day_events(nip, [work_date.isoformat()])),
                       self.rules, device_id=self.cfg.device.id, boot_id=self.clock.boot_id,
                       distance=distance, margin=margin)
            if d.event is not None:
                d.event["liveness"] = json.dumps(verdict.as_dict()) if verdict is not None else None
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
               "note": d.note, "latency_ms": round((time.monotonic() - frame.ts) * 1000, 1),
               "liveness_fps": _fps(verdict)}
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
                    self.on_frame()
                    if frame is not None:
                        for msg in self._safe_process(frame):
                            emit(msg)
            except StopIteration as e:
                emit({"type": "camera", "state": "ended", "message": str(e) or "the camera source ended"})
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


def _fps(verdict) -> float | None:
    """The frames a second the liveness check saw (None: liveness off), for the status page."""
    return verdict.scores.get("fps") if verdict is not None else None


def _r(x: float) -> float | None:
    return None if x == float("inf") else round(float(x), 4)
