"""Liveness benchmark: genuine acceptance on real clips, acceptance of simulated attacks, added CPU.

Run from the repository root (it needs the real clips and photos outside the repository):

    python bench/liveness.py [--videos ../shared/videos] [--faces ../shared/faces] [--quick]

Not a test. It prints plain-text tables (docs/liveness.md has the output and what it means):

  a) genuine: every clip, face tracks starting every 0.5 s (each track runs until the clip ends),
     frames fed at `--fps` (default 15, the camera default; try 7.5 for an estimate of a
     Raspberry Pi 4's recognition rate) in the clip's own time, or at the clip's rate when lower,
     as `kiosk run --camera CLIP` plays it (due_frames); acceptance within 2 s and, of the tracks with 5 s of clip left, within
     5 s, per clip and mode (passive, passive_then_challenge, challenge); how many landmark
     blinks the eyes' appearance confirmed.
     A challenge is answered only by what the clip really contains after it is asked (the
     clip's own blinks and turns): nothing is faked;
  b) attacks: a printed photo held by hand (random perspective tilts, scale, roll, translation,
     hand tremor, blur, noise, lighting), from the photos in --faces and from still frames of the
     clips; and screen replays of each clip on a phone, tablet or monitor (bench/screen_replay.py:
     bezel, fingers, hand motion, screen brightness, gamma, tint, moire, glare, compression; the
     set of --seed, as bench/screen_sweep.py makes it); each track runs through the real detector
     and 68 landmarks; acceptance as "live", refusal by reason ("screen", "flat_motion");
  e) the real phone replay (--attacks: a phone in a hand replaying a video of man M, who is
     enrolled from crops of him in front of a real camera), or any other replay attack recorded
     by a camera (--replay CLIP [--enroll PHOTOS]): --runs runs through the real kiosk loop
     (detection, gates, encoding, vote, liveness in its default mode, decision), each from
     another start frame, the clip looping, up to 20 s; what each run ended with;
  d) challenges answered by real actions: blinks and head turns found by eye in the clips
     (REAL_ACTIONS), each asked 1 s before it starts, at every sampling phase of the frame rate;
     turns also asked the other way round;
  f) a person who blinks when the screen asks (--only f): the screen asks for a blink as soon as
     the face is recognised, so a person who reads it blinks about a second into the track.
     Tracks that start 0.7, 1.0 and 1.3 s before each blink found by eye (ASKED_BLINKS), at every
     sampling phase, in the default mode: when each track is "live". The response time is an
     assumption (recognition about 0.2 s, reading and blinking 0.5-1.1 s); the blinks are real;
  c) CPU per frame: LivenessTracker.update, and within it the screen cues (ScreenCues.update),
     against detect + 68 landmarks + encode of the same frames, measured in the same run (the
     kiosk already computes the landmarks for its gates).

The simulators (`print_frames` here, bench/screen_replay.py) are also used by the tests.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- attack simulators -------------------------------------------------------------------------

def _plane_homography(w: float, h: float, rx: float, ry: float, rz: float, scale: float,
                      tx: float, ty: float, out_w: int, out_h: int, base: float) -> np.ndarray:
    """Homography mapping a flat w x h picture, rotated in 3D (degrees) and moved, to the frame.
    `base`: how many frame pixels one picture pixel covers when the plane faces the camera."""
    import cv2

    f = 1.1 * out_w  # a webcam-like focal length (about 50 degrees horizontal field of view)
    ax, ay, az = map(math.radians, (rx, ry, rz))
    Rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    Ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    Rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    R = Rz @ Ry @ Rx
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]]) * base
    z0 = f / scale
    p = corners @ R.T + np.array([tx, ty, z0])
    dst = np.stack([f * p[:, 0] / p[:, 2] + out_w / 2, f * p[:, 1] / p[:, 2] + out_h / 2], axis=1)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def _smooth_path(rng: random.Random, seconds: float, n_keys: int, draw) -> callable:
    """A smooth random path through keyframes (cosine interpolation)."""
    keys = [draw() for _ in range(n_keys + 1)]
    step = seconds / n_keys

    def at(t: float):
        i = min(int(t / step), n_keys - 1)
        u = (t - i * step) / step
        u = (1 - math.cos(math.pi * min(max(u, 0.0), 1.0))) / 2
        return [a + (b - a) * u for a, b in zip(keys[i], keys[i + 1])]

    return at


def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    nr = np.random.default_rng(rng.randrange(2 ** 32))
    c0, c1 = nr.uniform(30, 220, 3), nr.uniform(30, 220, 3)
    g = np.linspace(0, 1, w)[None, :, None]
    bg = c0 * (1 - g) + c1 * g + nr.normal(0, 6, (h, w, 3))
    return np.clip(np.broadcast_to(bg, (h, w, 3)), 0, 255).astype(np.uint8)


def _photometric(rng: random.Random, nr, img: np.ndarray, gain: float, offset: float, gamma: float,
                 blur: float, noise: float) -> np.ndarray:
    import cv2

    x = img.astype(np.float32)
    x = 255.0 * np.clip((x * gain + offset) / 255.0, 0, 1) ** gamma
    if blur > 0.3:
        x = cv2.GaussianBlur(x, (0, 0), blur)
    if noise > 0:
        x = x + nr.normal(0, noise, x.shape).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)


def print_frames(rng: random.Random, photo: np.ndarray, face: tuple[int, int, int, int],
                 seconds: float = 2.0, fps: float = 10.0, size: tuple[int, int] = (320, 240),
                 face_px: tuple[float, float] = (110, 150), max_tilt: float = 35.0):
    """Frames of a printed photo held up by hand: yields (ts, RGB frame).

    `face` = (left, top, right, bottom) of the face in `photo`. The print is the photo cropped
    with a margin around the face; it is tilted in 3D (up to `max_tilt` degrees about both
    axes), rolled, scaled, moved along a smooth random path with hand tremor, and seen with a
    random gain/offset/gamma, blur and sensor noise. The background is a random gradient."""
    import cv2

    W, H = size
    nr = np.random.default_rng(rng.randrange(2 ** 32))
    l, t, r, b = face
    fw = r - l
    m = 0.9 * fw
    x0, y0 = max(0, int(l - m)), max(0, int(t - m))
    x1, y1 = min(photo.shape[1], int(r + m)), min(photo.shape[0], int(b + m))
    crop = np.ascontiguousarray(photo[y0:y1, x0:x1])
    ch, cw = crop.shape[:2]
    base = rng.uniform(*face_px) / fw
    # keep the face near the middle: offset of the face centre within the crop
    fcx, fcy = (l + r) / 2 - x0 - cw / 2, (t + b) / 2 - y0 - ch / 2
    n_keys = max(1, round(seconds / rng.uniform(0.5, 1.0)))
    path = _smooth_path(rng, seconds, n_keys, lambda: (
        rng.uniform(-max_tilt, max_tilt), rng.uniform(-max_tilt, max_tilt), rng.uniform(-12, 12),
        rng.uniform(0.85, 1.15), rng.uniform(-0.08, 0.08) * W, rng.uniform(-0.08, 0.08) * H))
    bg = _background(rng, W, H)
    gain, offset, gamma = rng.uniform(0.6, 1.3), rng.uniform(-25, 25), rng.uniform(0.8, 1.25)
    blur, noise = rng.uniform(0.0, 1.3), rng.uniform(1.0, 7.0)
    n = max(1, int(seconds * fps))
    for i in range(n):
        ts = i / fps
        rx, ry, rz, s, tx, ty = path(ts)
        rx, ry, rz = rx + rng.gauss(0, 0.7), ry + rng.gauss(0, 0.7), rz + rng.gauss(0, 0.4)
        tx, ty = tx + rng.gauss(0, 1.0) - fcx * base, ty + rng.gauss(0, 1.0) - fcy * base
        Hm = _plane_homography(cw, ch, rx, ry, rz, s, tx, ty, W, H, base)
        warped = cv2.warpPerspective(crop, Hm, (W, H), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), Hm, (W, H)) > 127
        frame = bg.copy()
        frame[mask] = warped[mask]
        g = gain * (1 + rng.gauss(0, 0.02))
        yield ts, _photometric(rng, nr, frame, g, offset, gamma, blur + rng.uniform(0, 0.3), noise)


# --- benchmark ---------------------------------------------------------------------------------

MODES = ("passive", "passive_then_challenge", "challenge")


def _landmarks_of(m, frame, detect_width):
    from kiosk.recognition.pipeline import choose_face

    box = choose_face(m.detect(frame, detect_width, 0), frame.shape[1], frame.shape[0])
    if box is None:
        return None, None
    return box, m.shape68(frame, box)


def grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def run_modes(track: list, seed: int, horizon: float, cfg_over: dict | None = None, modes=MODES) -> dict:
    """Feed one track's (ts, landmarks, grey frame) to a LivenessTracker per mode;
    mode -> (state, reason, seconds, challenge, scores)."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    out = {}
    for mode in modes:
        tr = LivenessTracker(LivenessConfig(mode=mode, **(cfg_over or {})), random.Random(seed))
        v, t0 = None, track[0][0] if track else 0.0
        for ts, lm, image in track:
            if ts - t0 > horizon:
                break
            v = tr.update(ts, lm, None, image)
            if v.state != "pending":
                break
        out[mode] = (v.state if v else "pending", v.reason if v else None, v.elapsed if v else 0.0,
                     v.challenge if v else None, v.scores if v else {})
    return out


def observer():
    """A LivenessTracker that never concludes: it only measures (blinks, surface pairs)."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    cfg = LivenessConfig(mode="passive", blinks_needed=10 ** 6, parallax_pairs=10 ** 6, flat_pairs=10 ** 6,
                         max_seconds=1e9)
    return LivenessTracker(cfg, random.Random(0))


def blink_count(track: list) -> tuple[int, int]:
    """(confirmed, unconfirmed) landmark blinks over a whole track of (ts, landmarks, frame)."""
    tr = observer()
    for ts, lm, image in track:
        tr.update(ts, lm, None, image)
    return tr.blinks, tr.unconfirmed


# Real actions in the clips, found by eye on contact sheets of the faces (turns, every 0.2 s)
# and of the eyes (blinks, every frame): (clip, second the action starts, challenge it answers).
# Directions are the person's own: a head turned to the person's right shows the right cheek
# and points the nose to the image's left (the camera image is not mirrored).
REAL_ACTIONS = [
    ("person-a_capture4.mp4", 1.8, "turn_right"), ("person-a_capture4.mp4", 3.1, "turn_left"),
    ("person-a_capture4.mp4", 4.7, "turn_right"), ("person-a_capture4.mp4", 6.1, "turn_left"),
    ("person-a_capture4.mp4", 15.5, "turn_right"),
    ("person-a_cap12.mp4", 19.4, "turn_right"), ("person-a_cap12.mp4", 20.6, "turn_left"),
    ("person-a_cap12.mp4", 27.5, "turn_left"), ("person-a_cap12.mp4", 29.1, "turn_right"),
    ("person-a_cap12.mp4", 37.9, "turn_right"), ("person-a_cap12.mp4", 39.0, "turn_left"),
    ("liveportrait_d3.mp4", 0.2, "turn_right"), ("liveportrait_d3.mp4", 6.5, "turn_right"),
    ("liveportrait_d3.mp4", 8.0, "turn_left"), ("liveportrait_d3.mp4", 9.8, "turn_right"),
    ("liveportrait_d9.mp4", 0.3, "blink"), ("liveportrait_d9.mp4", 1.2, "blink"),
    ("liveportrait_d9.mp4", 6.45, "blink"), ("liveportrait_d9.mp4", 9.8, "blink"),
    ("liveportrait_d9.mp4", 12.95, "blink"), ("liveportrait_d9.mp4", 14.05, "blink"),
    ("liveportrait_d9.mp4", 15.0, "blink"), ("liveportrait_d9.mp4", 16.35, "blink"),
]
OPPOSITE = {"turn_left": "turn_right", "turn_right": "turn_left"}
# f)'s blinks: d9's above and the two of d18 (found by eye on its eyes every 2nd frame, then every
# frame; a man without glasses), as (clip, second the blink starts)
ASKED_BLINKS = [(c, s) for c, s, k in REAL_ACTIONS if k == "blink"] + [
    ("liveportrait_d18.mp4", 3.1), ("liveportrait_d18.mp4", 6.15)]


def challenge_answers(seqs: dict) -> list[tuple]:
    """Each real action, asked for 1 s before it starts (mode 'challenge', that kind only): met?
    And each turn asked the other way round: it must not be met by the same movement.
    `seqs`: clip -> one (ts, landmarks, frame) sequence per sampling phase (at 7.5 frames/s a
    short blink may fall between the frames of one phase and not of another)."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    out = []
    for clip, start, kind in REAL_ACTIONS:
        for seq in seqs.get(clip, ()):
            for asked in (kind, OPPOSITE.get(kind)):
                if asked is None:
                    continue
                cfg = LivenessConfig(mode="challenge", challenge_kinds=(asked,), challenge_tries=1)
                tr, v = LivenessTracker(cfg, random.Random(0)), None
                for ts, lm, image in seq:
                    if start - 1.0 <= ts <= start - 1.0 + cfg.challenge_s + 0.5:
                        v = tr.update(ts, lm, None, image)
                        if v.state != "pending":
                            break
                met = v is not None and v.state == "live"
                out.append((clip, start, kind, asked, met, (v.elapsed - 1.0) if met else None))
    return out


def print_challenge_answers(rows: list[tuple], phases: int, limit_s: float | None = None) -> None:
    from kiosk.liveness import LivenessConfig

    limit_s = limit_s or LivenessConfig().challenge_s
    print("d) challenges answered by real actions in the clips: each action (found by eye) asked 1 s")
    print(f"   before it starts; 'met' = the challenge passed within its {limit_s:g} s. Turns are also asked the")
    print("   other way round, which the same movement must not answer. Every action is asked at each")
    print(f"   sampling phase of its clip at this rate (up to {phases}: the due frames, then each shifted by one clip frame), since a")
    print("   blink can fall between the frames of one phase and not of another.")
    for kind in ("blink", "turn_left", "turn_right"):
        right = [r for r in rows if r[2] == kind and r[3] == kind]
        if not right:
            continue
        t = [r[5] for r in right if r[4]]
        when = f", median {statistics.median(t):.1f} s after the action starts" if t else ""
        line = f"   {kind:10s} asked and done: met {sum(r[4] for r in right):2d} of {len(right):2d}{when}"
        wrong = [r for r in rows if r[2] == kind and r[3] != kind]
        if wrong:
            line += f"; asked the other way: met {sum(r[4] for r in wrong)} of {len(wrong)}"
        print(line)
    missed = {}
    for c, s, k, a, met, _ in rows:
        if a == k and not met:
            key = f"{c} {s:g} s {k}"
            missed[key] = missed.get(key, 0) + 1
    print(f"   not met (phases): {', '.join(f'{k} ({n})' for k, n in missed.items()) or 'none'}")
    print()


def asked_blinks(a, m, offsets=(0.7, 1.0, 1.3)) -> None:
    """f) (the module doc): each blink of REAL_ACTIONS met `offset` seconds into a fresh track."""
    from kiosk.liveness import LivenessConfig, LivenessTracker

    print("f) a person who blinks when asked: tracks starting 0.7-1.3 s before each real blink found by eye,")
    print(f"   every sampling phase, default mode ({LivenessConfig().mode}), fed at {a.fps:g} frames/s")
    for clip in sorted({c for c, _ in ASKED_BLINKS}):
        frames, fps_in = read_clip(a.videos / clip)
        seqs = [phase_track(m, frames, fps_in, a.fps, phase)
                for phase in range(math.ceil(fps_in / min(a.fps, fps_in) - 1e-6))]
        starts = [s for c, s in ASKED_BLINKS if c == clip]
        for offset in offsets:
            done = []  # (state, reason, elapsed) per track
            for b in starts:
                if b < offset:
                    continue  # the track would start before the clip
                for k, seq in enumerate(seqs):
                    tr, v = LivenessTracker(LivenessConfig(), random.Random(k)), None
                    for ts, lm, g in seq:
                        if ts >= b - offset:
                            v = tr.update(ts, lm, None, g)
                            if v.final:
                                break
                    done.append((v.state, v.reason, v.elapsed, b) if v else (None, None, None, b))
            live = sorted(e for st, _, e, _ in done if st == "live")
            why = sorted({r for st, r, _, _ in done if st == "live"})
            early = sum(e < offset for e in live)
            missed = ", ".join(sorted(f"{b:g} s {st} {r or ''}".strip() for st, r, _, b in done if st != "live"))
            med = f"{statistics.median(live):.2f} s" if live else "-"
            print(f"   {clip} blink {offset:.1f} s in: live {len(live)} of {len(done)} ({', '.join(why)}; "
                  f"{early} before the blink), within 2 s {sum(e <= 2.0 for e in live)}, median {med}; "
                  f"not live: {missed or 'none'} ('pending': the clip ended first)")
    print()


def attack_photos(m, faces: Path) -> list[tuple[str, np.ndarray, tuple]]:
    """(name, RGB image, face box) of each photo under `faces` with exactly one face at least 80 px
    wide: the sources of the simulated prints (the large deepface portraits at most 1600 px)."""
    import cv2

    from kiosk.imageio import load_rgb

    out = []
    for p in sorted(faces.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".jpeg", ".png") or "_extras" in p.parts:
            continue
        try:
            im = load_rgb(p)
        except Exception:
            continue
        if max(im.shape[:2]) > 1600:
            f = 1600 / max(im.shape[:2])
            im = cv2.resize(im, (round(im.shape[1] * f), round(im.shape[0] * f)), interpolation=cv2.INTER_AREA)
        found = m.detect(im, 1024, 0)
        if len(found) == 1 and found[0].width >= 80:
            out.append((p.relative_to(faces).as_posix(), im, tuple(found[0].as_list())))
    return out


def clip_stills(m, clips: dict) -> list[tuple[str, np.ndarray, tuple]]:
    """8 frames spread over each clip ({name: (frames, fps)}) with exactly one face: the
    pictures the 'clip still' prints are made of (name#frame, frame, face box)."""
    out = []
    for name, (frames, _) in clips.items():
        for k in np.linspace(0, len(frames) - 1, 8).astype(int):
            faces = m.detect(frames[k], 640, 0)
            if len(faces) == 1:
                out.append((f"{name}#{k}", frames[k], tuple(faces[0].as_list())))
    return out


def due_frames(n: int, fps_in: float, fps: float, phase: int = 0) -> list[int]:
    """The frames of an n-frame clip recorded at `fps_in` that the kiosk's replay shows at `fps`
    (kiosk.camera.replay.video_frame; every frame when the clip is slower), shifted by `phase`
    clip frames (the other sampling phases)."""
    from kiosk.camera.replay import video_frame

    rate = min(fps, fps_in)
    due = (video_frame(k, fps_in, rate) + phase for k in range(int(n * rate / fps_in) + 2))
    return [i for i in due if i < n]


def phase_track(m, frames: list[np.ndarray], fps_in: float, fps: float, phase: int) -> list[tuple]:
    """(ts, landmarks, grey frame) of the frames of one sampling phase (due_frames) with a face."""
    out = []
    for i in due_frames(len(frames), fps_in, fps, phase):
        _, lm = _landmarks_of(m, frames[i], 320)
        if lm is not None:
            out.append((i / fps_in, lm, grey(frames[i])))
    return out


def read_clip(path: Path, width: int | None = None) -> tuple[list[np.ndarray], float]:
    """The clip's RGB frames and rate; with `width`, frames wider than it scaled down to it, as
    the kiosk's replay delivers a video to a camera of that width (kiosk/camera/replay.py)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if width and rgb.shape[1] > width:
            rgb = cv2.resize(rgb, (width, max(1, round(rgb.shape[0] * width / rgb.shape[1]))), interpolation=cv2.INTER_AREA)
        frames.append(rgb)
    return frames, fps


def enrollment_photos(folder: Path | None, frames: list[np.ndarray]) -> tuple[list[tuple[str, np.ndarray]], str]:
    """e) The photos the replayed person is enrolled from, and a phrase saying which: the
    --enroll folder's images (padded: tight crops that touch the picture's edge, as the attacks
    README says of man M's, are found then), or, without one, frames spread over the clip itself - the
    replayed face as the camera sees it, so that recognition cannot be what refuses it and the
    runs measure liveness alone."""
    import cv2

    if folder is None:
        picks = np.linspace(0, len(frames) - 1, 14).astype(int)[1:-1]  # the first 4 with a face are enrolled
        return [(f"frame {i}", frames[i]) for i in picks], "enrolled from frames spread over the clip itself"
    photos = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")):
        bgr = cv2.imread(str(path))
        if bgr is None:
            print(f"   {path}: not an image - skipped")
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        photos.append((path.name, cv2.copyMakeBorder(rgb, 80, 80, 80, 80, cv2.BORDER_REPLICATE)))
    return photos, f"enrolled from {folder}"


def real_replay(a, label: str) -> None:
    """e) A real replay attack through the real kiosk loop - by default the phone replay of man M
    in --attacks, M enrolled from crops of him in front of a real camera; with --replay CLIP,
    that clip, the person enrolled from --enroll DIR (or from the clip's own frames) - then
    --runs runs of the clip from start frames spread over it, the clip looping (an attacker
    replays it again), frames at the camera's width and fed at min(--fps, the clip's rate), up
    to 20 s each; with the screen check (the defaults), without its wait for a cue that has
    begun (screen_wait_s = 0) and without it (screen_cues = 0)."""
    import os
    import tempfile

    os.environ.setdefault("KIOSK_CLOCK_START", "2026-11-24T07:20:00+07:00")  # a working morning
    import visit as V

    from kiosk.recognition.pipeline import FaceAnalyzer
    from kiosk.store import Store
    from kiosk.store.db import TemplateRow
    from kiosk_models import ENCODER_VERSION

    clip, enroll = getattr(a, "replay", None), getattr(a, "enroll", None)  # scratch callers pass neither
    if clip is None:
        clip, enroll = a.attacks / "person-m_phone-replay.mp4", a.attacks / "person-m-real-crops"
    if not clip.exists() or (enroll is not None and not enroll.is_dir()):
        print(f"{label} the real replay: {clip} or {enroll} is missing - skipped\n")
        return
    # at the camera's width at most, as `kiosk run --camera CLIP` replays it; never enlarged (the
    # real replay keeps its own 556 px)
    frames, fps_in = read_clip(clip, width=640)
    if not frames:
        print(f"{label} the real replay: {clip} has no frame that OpenCV can decode - skipped\n")
        return
    photos, enrolled = enrollment_photos(enroll, frames)
    feed = min(a.fps, fps_in)
    # name -> (config, face-priority exposure simulated: the glow judged at the frame's EV, or at 0)
    variants = {"default (screen check on)": ("", None),
                "screen_wait_s = 0 (no wait for a cue begun)": ("[liveness]\nscreen_wait_s = 0\n", None),
                "screen_cues = 0 (before issue 20)": ("[liveness]\nscreen_cues = 0\n", None)}
    face_exposure = getattr(a, "face_exposure", False)  # scratch callers pass a Namespace without it
    if face_exposure:
        variants = {"default, face-priority exposure": ("", "ev"),
                    "the same, glow blind to the EV (before)": ("", "ignored"),
                    "screen_cues = 0, face-priority exposure": ("[liveness]\nscreen_cues = 0\n", "ev")}
    rows = {}
    # the variants differ in [liveness] only: one analyzer and one enrollment serve them all
    from kiosk.config import load_config

    analyzer = FaceAnalyzer(load_config(None).recognition)
    analyzer.m.load_all()
    templates = []
    for source, im in photos:
        if len(templates) == 4:
            break
        an = analyzer.analyze(im, single=True, template=True)
        if an.encoding is not None:
            templates.append(TemplateRow(V.NIP, an.encoding, an.quality.sharpness, source, ENCODER_VERSION))
    if not templates:
        print(f"{label} the real replay: no face to enroll ({enrolled}) - skipped\n")
        return
    for name, (extra, exposure) in variants.items():
        tmp = Path(tempfile.mkdtemp(prefix="kiosk-replay-"))
        cfg = V.config(tmp, extra)
        with Store(cfg.db_path) as store:
            with store.transaction("enroll the replayed person for the benchmark") as db:
                store.upsert_employees([{"nip": V.NIP, "name": "replayed person", "unit": "Dinas"}], db=db)
                store.add_templates(templates, db)
            rows[name] = []
            for start in np.linspace(0, len(frames) - 1, a.runs).astype(int):
                t0 = start / fps_in
                fed = [frames[int(round((t0 + t) * fps_in)) % len(frames)] for t in np.arange(0.0, 20.0, 1 / feed)]
                r = V.visit(cfg, store, analyzer, fed, feed, 0, 20.0, face_exposure=exposure)
                rows[name].append((int(start), r))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{label} the real replay {clip.name} ({len(frames)} frames at {fps_in:.1f}/s, {frames[0].shape[1]} x {frames[0].shape[0]} px), "
          f"the person {enrolled} ({len(templates)} with a face); {a.runs} runs from start frames spread over the clip,")
    print(f"   looping, fed at {feed:g} frames/s, up to 20 s each, through the real kiosk loop (default liveness mode)"
          + (": re-exposed by a simulated face-priority exposure (EV down to "
             f"{min(r['min_ev'] for rs in rows.values() for _, r in rs):+g})" if face_exposure else ""))
    for name, rs in rows.items():
        outcomes = {}
        for _, r in rs:
            outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        print(f"   {name:43s} recorded {sum(r['recorded'] for _, r in rs):2d} of {len(rs)}   outcomes {outcomes}")
    print("   per run (default): start frame, outcome, seconds (into the visit when recorded, else into the check),")
    print("   screen cues fired (scores) of the refusal, else of the last check that ended 'try again'")
    for start, r in rows[next(iter(variants))]:
        check = r["cases"][0] if r["cases"] else (r["holds"][-1] if r["holds"] else {})
        sc = check.get("scores", {})
        cues = ", ".join(sc.get("screen_cues", [])) if sc else ""
        at = r["ttr"] if r["recorded"] else check.get("elapsed")
        detail = (f"frame {sc.get('screen_frame')} (box {sc.get('screen_frame_box')}, corner "
                  f"{sc.get('screen_frame_corner')}; {sc.get('screen_frame_hits')} hits), context "
                  f"{sc.get('screen_context')} ({sc.get('screen_context_pairs')} pairs), glow "
                  f"{sc.get('screen_glow_clipped')}/{sc.get('screen_glow_ratio')} ({sc.get('screen_glow_hits')} hits)"
                  if sc else "")
        print(f"   {start:5d} {r['outcome']:28s} {'' if at is None else f'{at:5.1f} s':>8s}  {cues:22s} {detail}")
    print()


def print_cpu(t_det: list, t_lm: list, t_enc: list, t_live: list, t_live0: list, t_screen: list) -> None:
    """c) the CPU table: per-frame times (seconds) measured in the same run."""
    med = lambda xs: statistics.median(xs) * 1000 if xs else float("nan")
    p90 = lambda xs: float(np.percentile(xs, 90)) * 1000 if xs else float("nan")
    rec = med(t_det) + med(t_lm) + med(t_enc)
    print(f"c) CPU per frame, same run, {len(t_live)} genuine frames (encode timed on every 4th):")
    print(f"   detect (320 px) {med(t_det):7.2f} ms   68 landmarks {med(t_lm):6.2f} ms   encode {med(t_enc):7.2f} ms"
          f"   = recognition {rec:7.2f} ms")
    print(f"   LivenessTracker.update median {med(t_live):6.3f} ms, p90 {p90(t_live):6.3f} ms, mean "
          f"{statistics.mean(t_live) * 1000:6.3f} ms = {100 * statistics.mean(t_live) * 1000 / rec:5.2f} % "
          f"of recognition (target <= 10 %)")
    print(f"   the same without the screen cues (screen_cues = 0) median {med(t_live0):6.3f} ms, mean "
          f"{statistics.mean(t_live0) * 1000:6.3f} ms: with / without = {med(t_live) / med(t_live0):4.2f} (medians), "
          f"added {med(t_live) - med(t_live0):6.3f} ms median = {100 * (med(t_live) - med(t_live0)) / rec:5.2f} % of "
          f"recognition, {statistics.mean(t_live) * 1000 - statistics.mean(t_live0) * 1000:6.3f} ms mean = "
          f"{100 * (statistics.mean(t_live) - statistics.mean(t_live0)) * 1000 / rec:5.2f} %")
    print(f"   of which the screen cues (ScreenCues.update) median {med(t_screen):6.3f} ms, p90 {p90(t_screen):6.3f} ms, "
          f"mean {statistics.mean(t_screen) * 1000:6.3f} ms = {100 * statistics.mean(t_screen) * 1000 / rec:5.2f} % "
          f"of recognition (target <= 5 %)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--fps", type=float, default=15.0, help="frames per second fed to liveness (the camera default)")
    ap.add_argument("--prints", type=int, default=120, help="print-attack tracks from photos")
    ap.add_argument("--stills", type=int, default=48, help="print-attack tracks from clip frames")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each attack track")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--screens", type=int, default=5, help="screen replays per clip (one per kind of device in turn)")
    ap.add_argument("--attacks", type=Path, default=None,
                    help="the real attack clips (default: VIDEOS/attacks); e) needs person-m_phone-replay.mp4 "
                         "and person-m-real-crops/ there")
    ap.add_argument("--replay", type=Path, help="e): another real replay attack (a video file) instead of man M's")
    ap.add_argument("--enroll", type=Path,
                    help="e) with --replay: a folder of photos of the person the clip replays (the first 4 with a "
                         "face are enrolled); without it, frames spread over the clip itself (liveness alone is measured)")
    ap.add_argument("--runs", type=int, default=20, help="e): runs of the real replay")
    ap.add_argument("--face-exposure", action="store_true",
                    help="e): the replay re-exposed by a simulated face-priority exposure ([camera] face_exposure), "
                         "with the glow judged at each frame's EV and, for comparison, blind to it")
    ap.add_argument("--only", choices=("c", "e", "f"), help="only the CPU on the genuine clips (c), only the real "
                                                            "phone replay (e), or only f)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.attacks = a.attacks or a.videos / "attacks"
    if a.quick:
        a.prints, a.stills, a.seconds, a.screens, a.runs = 24, 12, 6.0, 1, 5

    from kiosk.liveness import LivenessConfig, LivenessTracker
    from kiosk.recognition.faces import models
    from kiosk.recognition.pipeline import choose_face
    from kiosk.screen import ScreenCues

    if a.only == "e":
        real_replay(a, "e)")
        return 0
    m = models()
    m.load_all()
    if a.only == "f":
        asked_blinks(a, m)
        return 0
    rng = random.Random(a.seed)
    cfg = LivenessConfig(mode="passive")  # the CPU column: every signal computed on every frame
    print(f"liveness benchmark: fps fed {a.fps:g}, seed {a.seed}, config (the mode varies per column) {cfg}")
    print()

    # a) genuine clips ------------------------------------------------------------------------
    clips = sorted(p for p in a.videos.iterdir() if p.suffix in (".mp4", ".avi"))
    t_det, t_lm, t_enc, t_live, t_live0, t_screen = [], [], [], [], [], []
    genuine_rows, all_frames, seqs = [], {}, {}
    for clip in clips:
        frames, fps_in = read_clip(clip)
        all_frames[clip.name] = (frames, fps_in)
        phases = math.ceil(fps_in / min(a.fps, fps_in) - 1e-6)  # 2 for a 25- or 30-fps clip at 15 fps
        seq = []  # (ts, landmarks) of the frames the kiosk would process
        tracker = LivenessTracker(cfg, random.Random(0))  # one tracker over the clip, for its cost
        plain = LivenessTracker(replace(cfg, screen_cues=0), random.Random(0))  # the same without the screen cues
        screen = ScreenCues(cfg)  # the screen cues alone, on the same frames: their share of the cost
        for i in due_frames(len(frames), fps_in, a.fps):
            fr = frames[i]
            t = time.perf_counter()
            box = choose_face(m.detect(fr, 320, 0), fr.shape[1], fr.shape[0])
            t_det.append(time.perf_counter() - t)
            if box is None:
                continue
            t = time.perf_counter()
            lm = m.shape68(fr, box)
            t_lm.append(time.perf_counter() - t)
            if len(t_lm) % 4 == 1:
                t = time.perf_counter()
                m.encode(fr, box)
                t_enc.append(time.perf_counter() - t)
            ts = i / fps_in
            # with and without the screen cues, in turns first and second (the first one reads
            # the frame into the cache: that cost must not all fall on one of them)
            for which in ((0, 1) if len(seq) % 2 else (1, 0)):
                t = time.perf_counter()
                if which == 0:
                    if tracker.update(ts, lm, box, fr).state != "pending":  # RGB, as the kiosk passes it
                        tracker = LivenessTracker(cfg, random.Random(len(seq)))
                    t_live.append(time.perf_counter() - t)
                else:
                    if plain.update(ts, lm, box, fr).state != "pending":
                        plain = LivenessTracker(replace(cfg, screen_cues=0), random.Random(len(seq)))
                    t_live0.append(time.perf_counter() - t)
            g = grey(fr)
            t = time.perf_counter()
            screen.update(ts, g, lm)
            t_screen.append(time.perf_counter() - t)
            seq.append((ts, lm, g))
        if a.only == "c":
            continue
        dur = len(frames) / fps_in
        starts = [s for s in np.arange(0.0, max(0.5, dur - 2.0), 0.5)]
        res = {mode: [] for mode in MODES}
        for k, s in enumerate(starts):
            track = [x for x in seq if x[0] >= s]
            if not track:
                continue
            for mode, (state, reason, el, ch, _) in run_modes(track, a.seed * 1000 + k, 12.0).items():
                res[mode].append((state, reason, el, dur - s))
        genuine_rows.append((clip.name, dur, res, blink_count(seq), len(seq) / dur))
        seqs[clip.name] = [seq]
        if any(c == clip.name for c, _, _ in REAL_ACTIONS):  # the other sampling phases, for d)
            for phase in range(1, phases):
                seqs[clip.name].append(phase_track(m, frames, fps_in, a.fps, phase))
    if a.only == "c":
        print_cpu(t_det, t_lm, t_enc, t_live, t_live0, t_screen)
        return 0

    print("a) genuine clips: tracks start every 0.5 s (until 2 s before the end); 'live' within 2 s (all")
    print("   tracks) and within 5 s (the tracks with at least 5 s of clip left: a clip's end is not a refusal)")
    print(f"   {'clip':26s} {'fps':>4s} {'tracks':>6s}  " + "  ".join(f"{m_:>26s}" for m_ in MODES)
          + "  landmark blinks confirmed/not")
    tot = {mode: [0, 0, 0, 0, 0] for mode in MODES}
    for name, dur, res, (b_ok, b_no), fps_fed in genuine_rows:
        cells = []
        for mode in MODES:
            r = res[mode]
            n, n5 = len(r), sum(left >= 5.0 for *_, left in r)
            w2 = sum(st == "live" and el <= 2.0 for st, _, el, _ in r)
            w5 = sum(st == "live" and el <= 5.0 for st, _, el, left in r if left >= 5.0)
            sp = sum(st == "spoof" and el <= 5.0 for st, _, el, _ in r)
            t = tot[mode]
            t[0] += n; t[1] += w2; t[2] += w5; t[3] += sp; t[4] += n5
            c5 = f"{100 * w5 / n5:4.0f}%" if n5 else "   - "
            cells.append(f"{100 * w2 / max(n, 1):4.0f}% {c5} of{n5:4d} spoof{sp:3d}")
        print(f"   {name:26s} {fps_fed:4.1f} {len(res[MODES[0]]):6d}  " + "  ".join(f"{c:>26s}" for c in cells)
              + f"  {b_ok:3d} / {b_no}")
    print(f"   {'ALL':26s} {'':4s} {tot[MODES[0]][0]:6d}  " + "  ".join(
        f"{f'{100 * t[1] / max(t[0], 1):4.0f}% {100 * t[2] / max(t[4], 1):4.0f}% of{t[4]:4d} spoof{t[3]:3d}':>26s}"
        for t in tot.values()))
    print("   columns per mode: within 2 s, within 5 s of N tracks, tracks declared 'spoof' within 5 s (false alarms)")
    for mode in MODES:
        refused = [(name, round(el, 1)) for name, _, res, _, _ in genuine_rows
                   for st, reason, el, _ in res[mode] if st == "spoof" and reason == "screen"]
        print(f"   refused as 'screen' at any time ({mode}): {len(refused)} of {tot[mode][0]} {refused or ''}")
    reasons = {mode: {} for mode in MODES}
    for _, _, res, _, _ in genuine_rows:
        for mode in MODES:
            for st, reason, el, left in res[mode]:
                if st == "live" and el <= 5.0 and left >= 5.0:
                    reasons[mode][reason] = reasons[mode].get(reason, 0) + 1
    for mode in MODES:
        print(f"   accepted within 5 s by ({mode}): {reasons[mode]}")
    print()

    # d) challenges answered by what the people in the clips really do -------------------------
    answered = challenge_answers(seqs)

    # b) attacks ------------------------------------------------------------------------------
    photos = attack_photos(m, a.faces)
    stills = clip_stills(m, all_frames)
    print(f"b) attacks: {len(photos)} photos with one face from {a.faces}, {len(stills)} clip stills; "
          f"tracks of {a.seconds:g} s at {a.fps:g} fps through the real detector and landmarks")

    def attack(kind, gen, seed, detect_width):
        track = []
        for ts, fr in gen:
            box, lm = _landmarks_of(m, fr, detect_width)
            if lm is not None:
                track.append((ts, lm, grey(fr)))
        return kind, len(track), run_modes(track, seed, a.seconds + 1) if track else None

    results = []
    for i in range(a.prints):
        _, im, box = photos[i % len(photos)]
        results.append(attack("print (photo)", print_frames(rng, im, box, a.seconds, a.fps), i, 320))
    for i in range(a.stills):
        _, im, box = stills[i % len(stills)]
        results.append(attack("print (clip still)", print_frames(rng, im, box, a.seconds, a.fps), 500 + i, 320))
    from screen_replay import DEVICES, attack_set

    def locate(fr):
        b = choose_face(m.detect(fr, 640, 0), fr.shape[1], fr.shape[0])
        return None if b is None else ((b.left + b.right) / 2, (b.top + b.bottom) / 2, b.width)

    screen_kinds = [f"screen: {d}" for d in DEVICES]
    for name, device, start, gen in attack_set(random.Random(a.seed), all_frames, locate, a.seconds, a.fps, a.screens):
        results.append(attack(f"screen: {device}", gen, 900 + len(results), 320))
    print(f"   screen replays: the set of seed {a.seed} (bench/screen_replay.py), {a.screens} per clip")
    kinds = ["print (photo)", "print (clip still)", *screen_kinds, "screen (all)"]
    print(f"   {'attack':20s} {'tracks':>6s} {'no face':>7s}  " + "  ".join(f"{m_:>34s}" for m_ in MODES))
    for kind in kinds:
        rs = [r for r in results if r[0] == kind or (kind == "screen (all)" and r[0] in screen_kinds)]
        seen = [r for r in rs if r[2]]
        cells = []
        for mode in MODES:
            live = sum(r[2][mode][0] == "live" for r in seen)
            screen = sum(r[2][mode][:2] == ("spoof", "screen") for r in seen)
            flat = sum(r[2][mode][:2] == ("spoof", "flat_motion") for r in seen)
            cells.append(f"live {live:3d} ({100 * live / max(len(seen), 1):4.1f}%) screen {screen:3d} flat {flat:3d}")
        print(f"   {kind:20s} {len(rs):6d} {len(rs) - len(seen):7d}  " + "  ".join(f"{c:>34s}" for c in cells))
    for kind in ("print (photo)", "print (clip still)", "screen (all)"):
        sc = [r[2]["passive"][4] for r in results if (r[0] == kind or kind == "screen (all)" and r[0] in screen_kinds)
              and r[2]]
        print(f"   {kind}: landmark blinks (passive) confirmed {sum(x.get('blinks', 0) for x in sc)}, "
              f"not confirmed by the eyes' appearance {sum(x.get('blinks_unconfirmed', 0) for x in sc)}")
    print("   live = accepted as a live person (the attack succeeded); screen, flat = refused (spoof) for that reason")
    print("   and audited; the rest ended 'pending' or 'unverified' (no attendance, no HR case). 'no face' = tracks")
    print("   where the detector never found the face")
    for mode in MODES:
        fired = {}
        for kind, _, r in results:
            if r and kind in screen_kinds and r[mode][0] != "spoof":
                key = "+".join(r[mode][4].get("screen_cues", [])) or "none"
                fired[key] = fired.get(key, 0) + 1
        print(f"   screen replays not refused ({mode}): the screen cues that had fired: {fired}")
    acc = {}
    for kind, _, r in results:
        if r:
            for mode in MODES:
                if r[mode][0] == "live":
                    acc.setdefault((kind, mode), {}).setdefault(r[mode][1], 0)
                    acc[(kind, mode)][r[mode][1]] += 1
    for k, v in acc.items():
        print(f"   accepted attacks {k}: by {v}")
    print()

    print_challenge_answers(answered, max(len(v) for v in seqs.values()))

    real_replay(a, "e)")

    print_cpu(t_det, t_lm, t_enc, t_live, t_live0, t_screen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
