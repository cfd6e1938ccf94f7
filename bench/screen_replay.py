"""Simulated screen replays: a video of a person played on a phone, tablet or monitor in front of
the kiosk's camera. Used by bench/liveness.py (the screen attack set) and tests/test_liveness.py.

Modelled on the real attack in ../shared/videos/attacks/person-m_phone-replay.mp4 (a phone held
up to a webcam): a device with a dark bezel around a bright screen, held by fingers that overlap
its edge and moved by the hand (a slow drift and a tremor), the clip letterboxed or cropped to
the screen, the screen several times brighter than the room (the camera exposes for the room,
so the face's skin clips to white), a screen gamma and colour tint, moire, a glare spot that
stays where the room's light is while the device moves, and the camera's blur, noise and
compression. Devices: a phone (portrait or landscape, in a hand or on a stand), a tablet (in a
hand or on a stand) and a monitor on a desk (the camera fixed: no motion at all), at random
sizes (the face 120-240 px wide in a 640 x 480 frame) and 3D angles (up to 25 degrees).

Every random choice comes from the `random.Random` passed in: a seed gives the same attack set.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from liveness import _plane_homography, _smooth_path

DEVICES = ("phone_hand", "phone_stand", "tablet_hand", "tablet_stand", "monitor")


@dataclass
class Device:
    kind: str
    aspect: float      # screen width / height
    bezel: float       # bezel width / screen's shorter side
    body: tuple        # RGB of the bezel
    handheld: bool
    fingers: int


def _draw_device(rng: random.Random, kind: str, portrait: bool | None = None) -> Device:
    if kind.startswith("phone"):
        long_side = rng.uniform(16 / 9, 20 / 9)
        upright = rng.random() < 0.7 if portrait is None else portrait  # mostly portrait
        aspect = 1 / long_side if upright else long_side
        bezel = rng.uniform(0.03, 0.09)
    elif kind.startswith("tablet"):
        long_side = rng.choice((4 / 3, 16 / 10))
        aspect = long_side if rng.random() < 0.6 else 1 / long_side
        bezel = rng.uniform(0.04, 0.10)
    else:
        aspect, bezel = rng.choice((16 / 9, 16 / 10)), rng.uniform(0.01, 0.04)
    v = rng.uniform(5, 45)
    body = (v, v, v * rng.uniform(0.95, 1.1))
    hand = kind.endswith("hand")
    return Device(kind, aspect, bezel, body, hand, rng.randint(1, 3) if hand else 0)


def _room(rng: random.Random, w: int, h: int) -> np.ndarray:
    """A plain room behind the device: a wall with a gradient, a door or a poster, the attacker's
    shirt on one side; dimmer than the screen."""
    import cv2

    nr = np.random.default_rng(rng.randrange(2 ** 32))
    base = np.array([rng.uniform(60, 170)] * 3) * np.array([rng.uniform(0.9, 1.1) for _ in range(3)])
    g = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.2), w)[None, :, None]
    room = np.broadcast_to(base * g, (h, w, 3)).copy()
    for _ in range(rng.randint(0, 2)):  # a door frame, a poster, a window
        x0, y0 = rng.uniform(-0.2, 0.9) * w, rng.uniform(-0.3, 0.6) * h
        rw, rh = rng.uniform(0.1, 0.4) * w, rng.uniform(0.3, 1.2) * h
        cv2.rectangle(room, (int(x0), int(y0)), (int(x0 + rw), int(y0 + rh)),
                      [rng.uniform(20, 230) for _ in range(3)], -1)
    if rng.random() < 0.6:  # the attacker's shirt, below and beside the device
        side = rng.choice((-1, 1))
        cx = w / 2 + side * rng.uniform(0.2, 0.45) * w
        cv2.ellipse(room, (int(cx), int(h * 1.1)), (int(0.35 * w), int(0.6 * h)), 0, 0, 360,
                    [rng.uniform(10, 120) for _ in range(3)], -1)
    room += nr.normal(0, 4, room.shape)
    return np.clip(room, 0, 255).astype(np.float32)


def replay_frames(rng: random.Random, frames: list[np.ndarray], fps_in: float, start: int, seconds: float,
                  face: tuple[float, float, float] | None = None, fps: float = 15.0,
                  size: tuple[int, int] = (640, 480), kind: str | None = None, face_px: tuple = (120, 240),
                  face_level: tuple = (140, 250), portrait: bool | None = None):
    """A clip played on a device held up to the camera: yields (ts, RGB frame).

    `frames`: the clip (RGB); `face`: (x centre, y centre, width) of the face in the clip's
    first frame shown (pixels of the clip), used to size and place the device so that the face
    is `face_px` wide near the middle of the view, with its skin at a mean grey level drawn from
    `face_level` (over 230 the skin clips, as in the real attack); `kind`: one of DEVICES (random
    if None); `portrait`: a phone held upright (True) or sideways (False), random if None."""
    import cv2

    W, H = size
    nr = np.random.default_rng(rng.randrange(2 ** 32))
    dev = _draw_device(rng, kind or rng.choice(DEVICES), portrait)
    fh, fw = frames[0].shape[:2]
    fx, fy, fwid = face if face is not None else (fw / 2, fh * 0.45, fw * 0.3)
    # the screen, in screen pixels: the clip letterboxed into it (black bars) or cropped to fill it
    sw = 600.0
    sh = sw / dev.aspect
    fit = rng.random() < 0.5
    k = min(sw / fw, sh / fh) if fit else max(sw / fw, sh / fh)
    ox, oy = (sw - fw * k) / 2, (sh - fh * k) / 2
    if not fit:  # keep the face on the screen when cropping
        ox = float(np.clip(sw / 2 - fx * k, sw - fw * k, 0.0))
        oy = float(np.clip(sh * 0.45 - fy * k, sh - fh * k, 0.0))
    place = np.array([[k, 0, ox], [0, k, oy], [0, 0, 1]])
    b = dev.bezel * min(sw, sh)
    tw, th = sw + 2 * b, sh + 2 * b  # the device with its bezel
    to_dev = np.array([[1, 0, b], [0, 1, b], [0, 0, 1]]) @ place  # clip pixels -> device pixels
    face_dev = (to_dev @ [fx, fy, 1])[:2]
    scale = rng.uniform(*face_px) / (fwid * k)  # device pixels -> frame pixels
    # where the face should be in the frame, and the device's angles
    target = np.array([W / 2 + rng.uniform(-0.12, 0.12) * W, H * rng.uniform(0.38, 0.55)])
    rx0, ry0, rz0 = rng.uniform(-25, 25), rng.uniform(-25, 25), rng.uniform(-12, 12)
    amp = (4.0, 5.0, 3.0, 0.025 * W, 0.02 * H) if dev.handheld else (0, 0, 0, 0, 0)
    path = _smooth_path(rng, seconds, max(1, round(seconds / rng.uniform(0.7, 1.5))),
                        lambda: [rng.uniform(-x, x) for x in amp])
    tremor = rng.uniform(0.3, 1.5) if dev.handheld else 0.0
    room = _room(rng, W, H)
    # the screen's light: its gamma, tint and black level, and a brightness that puts the face's
    # skin at `level` (a screen at full brightness clips it to white, a dimmed one does not)
    gamma = rng.uniform(0.75, 1.25)
    tint = np.array([rng.uniform(0.88, 1.05), rng.uniform(0.95, 1.05), rng.uniform(0.95, 1.15)], np.float32)
    black = rng.uniform(5, 30)
    level = rng.uniform(*face_level)
    x0, y0 = int(max(0, fx - fwid / 3)), int(max(0, fy - fwid / 3))
    skin_in = float(np.mean(frames[start][y0:int(fy + fwid / 3), x0:int(fx + fwid / 3)])) or 128.0
    gain = max(0.3, (level - black) / (255.0 * (skin_in / 255.0) ** gamma))
    # moire (in the screen's own coordinates) and a glare spot (fixed in the room)
    yy, xx = np.mgrid[0:int(th), 0:int(tw)].astype(np.float32)
    moire = np.ones_like(xx)
    for _ in range(rng.randint(1, 2)):
        a, f_ = rng.uniform(0, math.pi), rng.uniform(0.05, 0.4)
        moire *= 1 + rng.uniform(0.01, 0.05) * np.sin(f_ * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 6.3))
    gx, gy, gr = rng.uniform(0.2, 0.8) * W, rng.uniform(0.1, 0.7) * H, rng.uniform(0.05, 0.2) * W
    fyy, fxx = np.mgrid[0:H, 0:W].astype(np.float32)
    glare = rng.uniform(0, 90) * np.exp(-((fxx - gx) ** 2 + (fyy - gy) ** 2) / (2 * gr * gr))
    skin = np.array(rng.choice(((95, 60, 45), (140, 95, 70), (190, 140, 110), (225, 185, 160))), np.float32)
    fingers = [(rng.choice(("left", "right", "bottom")), rng.uniform(0.2, 0.85), rng.uniform(0.9, 1.3),
                tuple(float(v) for v in skin * rng.uniform(0.85, 1.1))) for _ in range(dev.fingers)]
    blur, noise, quality = rng.uniform(0.4, 1.2), rng.uniform(1.5, 5.0), rng.randint(45, 90)
    n = max(1, int(seconds * fps))
    for i in range(n):
        ts = i / fps
        j = start + int(round(ts * fps_in))
        if j >= len(frames):
            break
        drx, dry, drz, dx, dy = path(ts)
        rx, ry, rz = rx0 + drx, ry0 + dry, rz0 + drz
        # place the device so that its face lands on the target (computed flat, then tilted)
        Hd = _plane_homography(tw, th, rx, ry, rz, scale, 0.0, 0.0, W, H, 1.0)
        p = Hd @ [face_dev[0], face_dev[1], 1]
        shift = target + (dx, dy) - p[:2] / p[2] + nr.normal(0, tremor, 2)
        Hd = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ Hd
        # the screen's picture: bezel, then the clip
        screen = np.empty((int(th), int(tw), 3), np.float32)
        screen[:] = dev.body
        content = cv2.warpPerspective(frames[j], to_dev, (int(tw), int(th)), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)).astype(np.float32)
        lit = black + gain * 255.0 * (content / 255.0) ** gamma * tint
        inner = (slice(int(b), int(b + sh)), slice(int(b), int(b + sw)))
        screen[inner] = (lit * moire[..., None])[inner]
        warped = cv2.warpPerspective(screen, Hd, (W, H), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.ones(screen.shape[:2], np.float32), Hd, (W, H), flags=cv2.INTER_LINEAR)
        scr_mask = np.zeros(screen.shape[:2], np.float32)
        scr_mask[inner] = 1.0
        on_screen = cv2.warpPerspective(scr_mask, Hd, (W, H), flags=cv2.INTER_LINEAR)
        x = room * (1 - mask[..., None]) + warped * mask[..., None] + (glare * on_screen)[..., None]
        for side, where, size_, colour in fingers:  # fingers over the device's edge, moving with it
            if side == "bottom":
                pt = [where * tw, th + 0.2 * b]
                axes = (0.05 * tw * size_, 0.09 * th * size_)
            else:
                pt = [(-0.3 * b if side == "left" else tw + 0.3 * b), where * th]
                axes = (0.09 * tw * size_, 0.045 * th * size_)
            q = Hd @ [pt[0], pt[1], 1]
            sc = abs(np.linalg.det(Hd[:2, :2])) ** 0.5 / max(abs(q[2]), 1e-6)
            c = (int(q[0] / q[2]), int(q[1] / q[2]))
            ax_ = (max(2, int(axes[0] * sc)), max(2, int(axes[1] * sc)))
            cv2.ellipse(x, c, ax_, rz, 0, 360, colour, -1)
        x = cv2.GaussianBlur(x, (0, 0), blur) + nr.normal(0, noise, x.shape).astype(np.float32)
        out = np.clip(x, 0, 255).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        yield ts, np.ascontiguousarray(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1])


def attack_set(rng: random.Random, clips: dict, locate, seconds: float, fps: float, per_clip: int = 5):
    """The screen attack set of one seed: each clip replayed `per_clip` times, from starts spread
    over it, on each kind of device in turn (DEVICES). `clips`: name -> (RGB frames, fps);
    `locate(frame)` -> (x centre, y centre, width) of the face in a clip frame, or None. Yields
    (clip name, device kind, start frame, frame generator); a clip shorter than `seconds` loops."""
    for name, (frames, fps_in) in clips.items():
        for k in range(per_clip):
            start = int(k * len(frames) / per_clip)
            face = None
            for j in range(start, min(len(frames), start + int(fps_in))):  # the face near the start
                face = locate(frames[j])
                if face is not None:
                    start = j
                    break
            if face is None:
                continue
            looped = frames[start:] + frames * max(0, math.ceil(seconds * fps_in / len(frames)))
            own = random.Random(rng.randrange(2 ** 32))  # each attack its own draws, whatever is consumed
            yield name, DEVICES[k % len(DEVICES)], start, replay_frames(own, looped, fps_in, 0, seconds, face, fps,
                                                                       kind=DEVICES[k % len(DEVICES)])
