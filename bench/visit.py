"""Visit benchmark: how long a genuine visit takes to be recorded, and what an unknown face costs.

Run from the repository root (it reads the real clips outside the repository):

    python bench/visit.py [--videos ../shared/videos] [--seconds 20] [--lfw ../shared/lfw-dev]

Not a test. Two parts, each printed as a table:

a) time-to-record: every clip replayed as `kiosk run --camera CLIP` replays it (kiosk.camera's
   replay: in the clip's own time, at the camera's frame rate ([camera] fps, 15) or the clip's
   when lower, frames wider than 640 px scaled down; --camera-fps 0: every frame at the clip's
   own rate, enlarged to 640 px wide, as this benchmark fed clips before 2026-12-01), a visit
   starting every 4 s; each visit runs
   the real KioskLoop (detection, gates, encoding, vote, liveness in its DEFAULT mode,
   decision, SQLite) on a virtual clock: after a frame that took c seconds of CPU here, the
   next frame is the newest one due by then (a live camera drops the rest). Time-to-record =
   from the first frame in which the face was found to the end of the frame whose processing
   recorded the event. The person is enrolled from 3 frames of another clip of the same person
   (person A) or from the last part of the same clip (the others). A recorded clip cannot
   answer "Kedipkan mata": a visit that liveness does not pass passively ends unrecorded
   (counted, not timed). CPU is this machine's (a 2-core x86); a Pi 4 is slower.
   With --lfw, every visit runs twice in the same run: with the clip person alone in the SQLite
   gallery, and with every lfw-dev person (2,879, bench/lfw_gallery.py, cached in .cache/)
   enrolled into the same gallery as well (through `kiosk enroll`'s duplicate check: the people it
   refuses entirely are look-alike holds); "wrong" counts visits identified or recorded as
   somebody else, and time-to-identify (first face -> the vote decided) is printed beside
   time-to-record (which also waits for liveness).
b) an unknown face in front of the kiosk: the real window (offscreen) with its App (camera
   reader thread, recognition worker process) replaying a clip of someone not enrolled at 30
   frames/s for --seconds, with `unknown_reencode_s = 0` (encode every frame: before issue 15)
   and with the default: frames per second painted by the preview, and analysed by the worker
   (each analysed frame also feeds liveness), measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("KIOSK_OVERRIDE", os.devnull)

# the person in each clip, and where their templates come from (another clip of the same person
# when there is one: a kiosk never enrolls from the visit it then recognises)
ENROLL_FROM = {
    "person-a_cap12.mp4": ("person-a_capture4.mp4", (0.3, 0.6, 0.9)),
    "person-a_capture4.mp4": ("person-a_cap12.mp4", (0.2, 0.5, 0.8)),
    "liveportrait_d3.mp4": ("liveportrait_d3.mp4", (0.85, 0.9, 0.95)),
    "liveportrait_d9.mp4": ("liveportrait_d9.mp4", (0.85, 0.9, 0.95)),
    "liveportrait_d18.mp4": ("liveportrait_d18.mp4", (0.85, 0.9, 0.95)),
    "person-i_testvideo.avi": ("person-i_testvideo.avi", (0.6, 0.8, 0.95)),
}
NIP = "199001012015031001"
WIDTH = 640


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    """The clip's frames scaled to the kiosk camera's width, and its frame rate."""
    import cv2

    from liveness import read_clip as read_all

    frames, fps = read_all(path)
    return [np.ascontiguousarray(cv2.resize(f, (WIDTH, round(f.shape[0] * WIDTH / f.shape[1])),
                                            interpolation=cv2.INTER_LINEAR)) for f in frames], fps


def config(tmp: Path, extra: str = ""):
    from kiosk.config import load_config

    (tmp / "config.toml").write_text('[store]\ndata_dir = "data"\n[display]\nsound = false\n' + extra)
    return load_config(tmp / "config.toml")


def enroll_others(store, enc: np.ndarray, ids: list[str], rc) -> tuple[int, int]:
    """lfw-dev's people (bench/lfw_gallery.py) as other employees of the same gallery, through
    `kiosk enroll`'s duplicate check as one batch: a photo that identification would take for
    another of them is refused, and the people left with no photo are look-alike holds, as
    `kiosk enroll` leaves them. Returns (people enrolled, people held)."""
    from enroll.batch import PhotoResult, find_duplicates
    from kiosk.store.db import TemplateRow
    from kiosk_models import ENCODER_VERSION

    nips = {p: f"lfw{i:05d}" for i, p in enumerate(dict.fromkeys(ids))}
    batch = [PhotoResult(nips[p], p, e, None) for p, e in zip(ids, enc)]
    find_duplicates(batch, (np.zeros((0, 128), np.float32), []), rc)
    kept = {r.nip for r in batch if r.reason is None}
    holds = [(r.nip, r.resembles, r.encoding, r.path) for r in batch if r.reason == "duplicate" and r.nip not in kept]
    with store.transaction("enroll lfw-dev for the benchmark") as db:
        store.upsert_employees([{"nip": n, "name": p.removeprefix("lfw:")[:60], "unit": "Dinas"}
                                for p, n in nips.items() if n in kept], db=db)
        store.add_templates([TemplateRow(r.nip, r.encoding, 0.0, r.path, ENCODER_VERSION)
                             for r in batch if r.reason is None], db)
        store.add_holds(holds, ENCODER_VERSION, db)
    return len(kept), len({h[0] for h in holds})


def enroll(store, cfg, analyzer, videos: Path, clip: str) -> int:
    from kiosk.store.db import TemplateRow
    from kiosk_models import ENCODER_VERSION

    source, where = ENROLL_FROM[clip]
    frames, _ = read_clip(videos / source)
    rows = []
    for f in where:
        a = analyzer.analyze(frames[min(len(frames) - 1, int(f * len(frames)))], single=True, template=True)
        if a.encoding is not None:
            rows.append(TemplateRow(NIP, a.encoding, a.quality.sharpness, f"{source}@{f}", ENCODER_VERSION))
    with store.transaction("enroll for the benchmark") as db:
        db.execute("delete from face_templates where nip = ?", [NIP])
        store.upsert_employees([{"nip": NIP, "name": "Pegawai Uji", "unit": "Dinas"}], db=db)
        store.add_templates(rows, db)
    return len(rows)


def camera_frames(path: Path, fps: float) -> tuple[list[np.ndarray], float]:
    """The clip as the kiosk sees it with `kiosk run --camera CLIP`: kiosk.camera's own replay,
    every due frame in order (in the clip's own time, at `fps` or the clip's rate when lower,
    scaled down to the camera's width), and the rate the frames come at."""
    from kiosk.camera.replay import ReplaySource

    src = ReplaySource(path, fps=fps, realtime=False, width=WIDTH)
    src.open()
    frames = []
    try:
        while True:
            frames.append(src.read().image)
    except StopIteration:
        pass
    finally:
        src.close()
    return frames, src.rate


def visit(cfg, store, analyzer, frames, fps: float, start: int, limit_s: float,
          face_exposure: str | None = None) -> dict:
    """One visit on a virtual clock; returns what happened and when. `face_exposure`: the frames
    re-exposed by a simulated face-priority exposure (kiosk.camera.exposure, as kiosk.app runs
    it), each passed on with the EV that may be in force ("ev", as the kiosk does) or with 0
    ("ignored": the kiosk before the glow cue took the EV into account)."""
    from kiosk.camera.base import Frame
    from kiosk.camera.exposure import FacePriority
    from kiosk.camera.fake import ReExposed
    from kiosk.loop import KioskLoop

    with store.transaction("forget the previous visit") as db:
        db.execute("delete from outbox")
        db.execute("delete from attendance_events")
        db.execute("delete from audit_log")
    loop = KioskLoop(cfg, store, analyzer=analyzer)
    i, t0 = start, start / fps
    face_t = None
    out = {"recorded": False, "ttr": None, "frames": 0, "outcome": "pending", "who": None, "identified": None,
           "tti": None, "min_ev": 0.0}
    priority, camera = (FacePriority(), ReExposed()) if face_exposure else (None, None)
    while i < len(frames):
        ts = i / fps
        if ts - t0 > limit_s:
            break
        image, ev = frames[i], 0.0
        if priority is not None:
            priority.apply(camera, now=ts)
            image = camera(image)
            ev = priority.in_force(ts) if face_exposure == "ev" else 0.0
            out["min_ev"] = min(out["min_ev"], camera.ev)
        c0 = time.perf_counter()
        msgs = loop._safe_process(Frame(image, ts, i, ev=ev))
        cost = time.perf_counter() - c0
        if priority is not None:
            priority.observe(loop.last_light, ts)
        out["frames"] += 1
        if face_t is None and loop.last_box is not None:
            face_t = ts
        track = loop.tracker.track
        if out["identified"] is None and track is not None and track.identified is not None:
            out.update(identified=track.identified, tti=ts + cost - face_t)
        for m in msgs:
            if m["type"] == "attendance" and m["status"] == "recorded":
                out.update(recorded=True, ttr=ts + cost - face_t, outcome="recorded", who=m["employee_id"])
            elif m["type"] in ("unverified", "spoof", "unknown"):
                out["outcome"] = f"{m['type']}:{m['reason']}" if m.get("reason") and m["type"] != "unknown" else m["type"]
        if out["recorded"]:
            break
        # the newest frame due once this one is done (a live camera drops the ones in between)
        i = max(i + 1, math.floor((ts + max(cost, 1 / fps)) * fps + 1e-9))
    out["analysed_fps"] = out["frames"] / max(1e-9, (i - start) / fps)
    # what HR's audit log shows as a suspected attack (liveness_failed) after this genuine visit
    import json

    audit = store.audit_rows()
    cases = [json.loads(r["detail"]) for r in audit if r["action"] == "liveness_failed"]
    out["fraud_cases"] = len(cases)
    out["cases"] = cases  # what HR's log holds: reason, scores ...
    out["fraud_at"] = [c.get("elapsed") for c in cases]  # seconds into the face's track
    # the checks that ended "try again" (liveness_unverified), with their scores
    out["holds"] = [json.loads(r["detail"]) for r in audit if r["action"] == "liveness_unverified"]
    return out


def part_a(videos: Path, step_s: float, limit_s: float, clips: list[str] | None = None,
           lfw: Path | None = None, jobs: int = 1, camera_fps: float | None = None,
           face_exposure: str | None = None) -> None:
    from kiosk.recognition.pipeline import FaceAnalyzer
    from kiosk.store import Store

    cfg = config(Path(tempfile.mkdtemp(prefix="kiosk-visit-")))
    analyzer = FaceAnalyzer(cfg.recognition)
    analyzer.m.load_all()
    galleries = {"clip person only": cfg}
    if lfw is not None:
        from lfw_gallery import lfw_gallery

        enc, ids = lfw_gallery(lfw, cfg.recognition, cfg.enroll.background_face_ratio, jobs=jobs)
        big = config(Path(tempfile.mkdtemp(prefix="kiosk-visit-lfw-")))
        with Store(big.db_path) as store:
            n, held = enroll_others(store, enc, ids, big.recognition)
            t = len(store.template_rows())
        galleries[f"+ {n} lfw-dev people ({t} templates, {held} held)"] = big
    camera_fps = cfg.camera.fps if camera_fps is None else camera_fps
    print("a) time-to-record, clips replayed " + (f"as the kiosk's replay does at a {camera_fps:g}-fps camera"
                                                   if camera_fps else "at their own rates, enlarged to 640 px")
          + f"; liveness mode {cfg.liveness.mode!r} (passive {cfg.liveness.passive_s:g} s, "
          f"then {cfg.liveness.challenge_tries} x {cfg.liveness.challenge_s:g} s challenges, max "
          f"{cfg.liveness.max_seconds:g} s); a visit every {step_s:g} s of each clip, up to {limit_s:g} s each"
          + (f"; re-exposed by a simulated face-priority exposure, the glow judged at {face_exposure!r}"
             if face_exposure else ""))
    print(f"   {'gallery':<38} {'clip':<24} {'fps':>5} {'tmpl':>4} {'visits':>6} {'recorded':>8} {'wrong':>5} "
          f"{'median s':>8} {'p90 s':>6} {'<=2 s':>5} {'identify median s':>17} {'p90 s':>6} {'<=2 s':>5} "
          f"{'analysed/s':>10} {'HR fraud':>8} {'EV min':>6}  not recorded")
    totals = {}
    for clip in clips or ENROLL_FROM:
        frames, fps = camera_frames(videos / clip, camera_fps) if camera_fps else read_clip(videos / clip)
        starts = [round(s * fps) for s in np.arange(0.0, max(0.01, len(frames) / fps - 6.0), step_s)]
        for gname, gcfg in galleries.items():
            with Store(gcfg.db_path) as store:
                n_tmpl = enroll(store, gcfg, analyzer, videos, clip)
                results = [visit(gcfg, store, analyzer, frames, fps, s, limit_s, face_exposure) for s in starts]
            t = totals.setdefault(gname, {"visits": 0, "ttr": [], "tti": [], "wrong": 0, "fraud": 0, "fraud_at": []})
            ttr = [r["ttr"] for r in results if r["recorded"]]
            tti = [r["tti"] for r in results if r["identified"] == NIP]
            wrong = sum(1 for r in results if (r["who"] or NIP) != NIP or (r["identified"] or NIP) != NIP)
            cases = sum(r["fraud_cases"] for r in results)
            t["fraud_at"] += [x for r in results for x in r["fraud_at"]]
            t["visits"] += len(results)
            t["ttr"] += ttr
            t["tti"] += tti
            t["wrong"] += wrong
            t["fraud"] += cases
            others = {}
            for r in results:
                if not r["recorded"]:
                    others[r["outcome"]] = others.get(r["outcome"], 0) + 1
            print(f"   {gname:<38} {clip:<24} {fps:>5.1f} {n_tmpl:>4} {len(results):>6} {len(ttr):>8} {wrong:>5} "
                  f"{_q(ttr, 50):>8} {_q(ttr, 90):>6} {_within(ttr, 2.0):>5} {_q(tti, 50):>17} {_q(tti, 90):>6} "
                  f"{_within(tti, 2.0):>5} {statistics.median(r['analysed_fps'] for r in results):>10.1f} "
                  f"{cases:>8} {min(r['min_ev'] for r in results):>+6.2f}  {others or ''}")
    for gname, t in totals.items():
        print(f"   {gname:<38} {'ALL':<24} {'':>5} {'':>4} {t['visits']:>6} {len(t['ttr']):>8} {t['wrong']:>5} "
              f"{_q(t['ttr'], 50):>8} {_q(t['ttr'], 90):>6} {_within(t['ttr'], 2.0):>5} {_q(t['tti'], 50):>17} "
              f"{_q(t['tti'], 90):>6} {_within(t['tti'], 2.0):>5} {'':>10} {t['fraud']:>8}")
        print(f"   HR fraud cases at (s into the track), {gname}: {sorted(t['fraud_at'])}")
    print("   time-to-record: first frame with the face -> the event stored; identify: -> the vote decided\n"
          "   (the genuine person); '<=2 s' = visits recorded (identified) within 2 s; 'wrong' = visits\n"
          "   identified or recorded as someone else; 'HR fraud' = liveness_failed rows the genuine visits\n"
          "   left in HR's audit log; 'not recorded' by the last message of the visit\n"
          "   (unverified = liveness asked for a blink the clip did not give in time, a retry hint;\n"
          "   spoof:reason = refused; pending = the clip ended first; unknown = not matched)")


def _within(xs: list[float], limit: float) -> int:
    return sum(1 for x in xs if x <= limit)


def _q(xs: list[float], q: int) -> str:
    if not xs:
        return "-"
    return f"{float(np.percentile(xs, q)):.2f}"


VARIANTS = {"before": ("encode every frame (before)", "[recognition]\nunknown_reencode_s = 0.0\n"),
            "after": ("re-encode every 1 s (default)", "")}


def run_variant(variant: str, videos: Path, clip: str, seconds: float) -> dict:
    """In its own process: the real kiosk window (offscreen) with the real App, one variant."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from kiosk.camera.replay import ReplaySource
    from kiosk.ui.window import KioskWindow

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-visit-b-"))
    cfg = config(tmp, VARIANTS[variant][1])
    qt = QApplication.instance() or QApplication([])
    # every frame of the clip one frame at 30 fps (own_time=False): a load at an exact rate, not a visit
    win = KioskWindow(cfg, lambda: ReplaySource(videos / clip, fps=30, realtime=True, loop=True, own_time=False))
    win.resize(1024, 600)
    win.show()

    def pump(until: float) -> None:
        while time.monotonic() < until:
            qt.processEvents()
            time.sleep(0.001)

    end = time.monotonic() + 90
    while not win.app.ready and time.monotonic() < end:
        pump(time.monotonic() + 0.1)
    pump(time.monotonic() + 2.0)  # warm
    s0, f0, e0, t0 = win.view.shown, win.app.frames, win.app.encodings, time.monotonic()
    pump(t0 + seconds)
    el = time.monotonic() - t0
    out = {"variant": variant, "shown": (win.view.shown - s0) / el, "analysed": (win.app.frames - f0) / el,
           "encodings": (win.app.encodings - e0) / el}
    win.request_quit()
    return out


def part_b(videos: Path, clip: str, seconds: float) -> None:
    import json
    import subprocess

    print(f"\nb) an unknown face in front of the kiosk: {clip} replayed at 30 frames/s (each of its frames one "
          f"camera frame) for {seconds:g} s per "
          f"variant, nobody enrolled, the real window (offscreen) and worker; {os.cpu_count()} cores")
    print(f"   {'variant':<34} {'preview frames/s':>16} {'analysed (liveness) frames/s':>28} {'encodings/s':>11}")
    rows = []
    for variant in VARIANTS:
        r = subprocess.run([sys.executable, __file__, "--variant", variant, "--videos", str(videos),
                            "--unknown-clip", clip, "--seconds", str(seconds)],
                           capture_output=True, text=True, timeout=600)
        line = [x for x in r.stdout.splitlines() if x.startswith("{")]
        if r.returncode or not line:
            sys.exit(f"{variant} failed:\n{r.stderr[-3000:]}")
        row = json.loads(line[-1])
        rows.append(row)
        print(f"   {VARIANTS[variant][0]:<34} {row['shown']:>16.1f} {row['analysed']:>28.1f} {row['encodings']:>11.1f}")
    b, a = rows
    print(f"   after / before: preview {a['shown'] / b['shown']:.2f}x, analysed {a['analysed'] / b['analysed']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--seconds", type=float, default=20.0, help="b): seconds measured per variant")
    ap.add_argument("--step", type=float, default=4.0, help="a): seconds between visit starts")
    ap.add_argument("--limit", type=float, default=14.0, help="a): longest visit (s)")
    ap.add_argument("--unknown-clip", default="person-a_cap12.mp4")
    ap.add_argument("--only", choices=("a", "b"))
    ap.add_argument("--clips", nargs="+", choices=tuple(ENROLL_FROM), help="a): only these clips")
    ap.add_argument("--code", type=Path, help="a): run another checkout's kiosk package (e.g. main, for a "
                    "before/after comparison); this script's own parts stay the same")
    ap.add_argument("--lfw", type=Path, help="a): also run every visit with all of lfw-dev's people enrolled "
                    "(e.g. ../shared/lfw-dev; their templates are cached in .cache/lfw-gallery.npz)")
    ap.add_argument("--jobs", type=int, default=1, help="processes for the first lfw-dev enrollment")
    ap.add_argument("--camera-fps", type=float, help="a): the camera's frame rate (default: [camera] fps); 0: "
                    "every frame of each clip at its own rate, enlarged to 640 px (this benchmark before 2026-12-01)")
    ap.add_argument("--face-exposure", choices=("ev", "ignored"),
                    help="a): the clips re-exposed by a simulated face-priority exposure ([camera] face_exposure), "
                         "the glow cue judging each frame at its EV (ev, as the kiosk does) or at 0 (ignored, before)")
    ap.add_argument("--variant", choices=tuple(VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        import json

        print(json.dumps(run_variant(args.variant, args.videos, args.unknown_clip, args.seconds)), flush=True)
        os._exit(0)  # skip interpreter teardown (PySide6 can crash there, after the work is done)
    os.environ.setdefault("KIOSK_CLOCK_START", "2026-11-24T07:20:00+07:00")  # a working morning
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
        import kiosk

        print(f"kiosk package: {Path(kiosk.__file__).parent}")
    if args.only != "b":
        part_a(args.videos, args.step, args.limit, args.clips, args.lfw, args.jobs, args.camera_fps,
               args.face_exposure)
    if args.only != "a":
        part_b(args.videos, args.unknown_clip, args.seconds)


if __name__ == "__main__":
    main()
