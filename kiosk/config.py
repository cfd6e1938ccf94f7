"""Configuration: one schema, a documented defaults file, a per-device override, strict checks.

The schema below is the single source of truth. ``config.toml`` at the repository root is
generated from it (``kiosk config --print-defaults``; a test keeps the two identical), so every
setting has a documented default. At start the kiosk reads the main file, then a local override
file (on a Pi: ``/boot/firmware/kiosk.toml``, on the FAT partition a technician can edit), key by
key. An unknown key, a wrong type or an out-of-range value stops start-up with a message naming
the file, line and key.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from attendance.config import ATTENDANCE, SCHEDULES, ZONES
from attendance.settings import Section, Setting, SettingsError, merge_file, render
from attendance.settings import defaults as schema_defaults
from attendance.settings import section_defaults as _section_defaults

DEFAULT_OVERRIDE = Path("/boot/firmware/kiosk.toml")
# what kiosk-firstboot derived from it at this boot (checked, secrets moved): the service reads it
RUN_OVERRIDE = Path("/run/kiosk/kiosk.toml")
# Lines of the boot file that are for the image, not for the kiosk program: kiosk-firstboot moves
# or applies them (kiosk/firstboot.py). Read as an override they are blanked, line for line.
IMAGE_ONLY = {"wifi": None, "network": None, "server": ("token",), "admin": ("pin",)}


class ConfigError(SettingsError):
    """A configuration file is unreadable or holds a bad value; the message names where."""


def _poses(v: list) -> str | None:
    allowed = ("straight", "left", "right", "glasses", "no_glasses")
    if not v or any(p not in allowed for p in v) or len(set(v)) != len(v):
        return f"needs distinct names from {', '.join(allowed)}"
    return None


def _valid_pin_hash(v: str) -> bool:
    from kiosk.admin import valid_hash

    return valid_hash(v)


SCHEMA: dict[str, Section] = {
    "device": Section("The kiosk itself", [
        Setting("id", "kiosk-01", "Device id, unique per government; stored with every event.",
                pattern=r"[A-Za-z0-9._-]{1,64}"),
        Setting("name", "Lobi Utama", "Kiosk name shown on screen."),
        Setting("unit", "Unit Demo", "Unit (OPD) name shown on screen and in reports."),
        Setting("timezone", "Asia/Jakarta",
                "Asia/Jakarta (WIB, UTC+7), Asia/Makassar (WITA, UTC+8) or Asia/Jayapura (WIT, UTC+9).",
                choices=tuple(ZONES)),
        Setting("language", "id", "Screen language: id (Bahasa Indonesia) or en.", choices=("id", "en")),
    ]),
    "camera": Section("Where frames come from", [
        Setting("source", "picamera2",
                "picamera2 | opencv:INDEX (USB webcam) | a video file | rtsp://... | "
                "replay:PATH (folder of images or a video, replayed at `fps`)."),
        Setting("width", 640, "Capture width in pixels.", lo=160, hi=4096),
        Setting("height", 480, "Capture height in pixels.", lo=120, hi=4096),
        Setting("fps", 15, "Frames per second asked of the camera (and of a replay).", lo=1, hi=60),
        Setting("face_exposure", True,
                "Face-priority exposure: steer the camera's exposure compensation by the light on "
                "the detected face (a person in front of a bright door or window is exposed for, "
                "not the window). Pi camera: libcamera's ExposureValue; a webcam: its manual "
                "exposure, when it has one (kiosk/camera/exposure.py).",),
    ]),
    "display": Section("The kiosk window", [
        Setting("fullscreen", True, "Fill the screen without a frame (false: a normal window, for a laptop)."),
        Setting("mirror", True, "Show the camera mirrored, as people expect from a mirror."),
        Setting("card_seconds", 3.0, "How long a decision card stays on screen.", lo=0.5, hi=30.0),
        Setting("sound", True, "Play a short tone with each decision (needs aplay)."),
    ]),
    "recognition": Section("Detection, quality gates and matching (see docs/gates.md)", [
        Setting("detect_width", 320,
                "Frames are downscaled to this width before face detection (HOG finds faces "
                "from about 73 px wide at that scale: about 146 px in a 640 px frame) ...",
                lo=160, hi=1920),
        Setting("far_detect_width", 640,
                "... and a frame in which no face was found there is searched again at this width, "
                "for a person standing further back (0 = never). Costs about 4x a detection at "
                "detect_width (35-39 vs 9 ms here), only while nobody is found; docs/gates.md.", lo=0, hi=1920),
        Setting("photo_detect_width", 1024,
                "Detection width for still photos (enrollment, `kiosk identify`); a photo narrower "
                "than half of it is also upsampled once (faces of 40-80 px in a small portrait).",
                lo=160, hi=4096),
        Setting("upsample", 0, "HOG upsampling passes; each costs about 4x the time.", lo=0, hi=2),
        Setting("min_eye_px", 8.0,
                "Smallest distance between the eye centres (full-frame pixels) that is encoded; "
                "far below the faces HOG finds at the camera's widths (eyes 20 px or more apart), so it acts "
                "only on small upsampled photos (docs/gates.md). Measured on the "
                "landmarks, not on the detector's box, whose width comes in a few fixed sizes.",
                lo=4.0, hi=500.0),
        Setting("min_sharpness", 2.0,
                "Lowest share of fine detail in the face: 100 x the variance of its Laplacian over the "
                "variance of its grey levels, on the face shrunk to 64 px (independent of brightness "
                "and contrast: a darker face is not 'blurred'); below is 'blurred'.", lo=0.0, hi=1000.0),
        Setting("max_shadows", 0.8,
                "Largest share of the inner face (landmark hull without the jaw line) that is clipped "
                "black (<= 10): beyond it 'too_dark'. Judged from the face's histogram, not its mean "
                "grey level, so darker skin in ordinary light passes; faces with 3/4 of it black were "
                "still recognised, and 0.6 refused them, the darker-skinned person's most of all "
                "(docs/gates.md, 'The gates on the clips').", lo=0.0, hi=1.0),
        Setting("max_highlights", 0.6,
                "Largest share of the inner face that is clipped white (>= 245): beyond it "
                "'too_bright' (a burnt-out face 79 % white was no longer recognised, one 58 % white "
                "was; docs/gates.md).", lo=0.0, hi=1.0),
        Setting("min_contrast", 10.0,
                "Smallest spread of the inner face's grey levels (95th minus 5th percentile); below, "
                "an under- or overexposed face has lost its features.", lo=0.0, hi=255.0),
        Setting("max_yaw", 0.6,
                "Largest sideways turn, as the nose's offset from the eyes' midpoint divided by "
                "the eye distance (0 = frontal, about 0.5 at 45 degrees).", lo=0.05, hi=2.0),
        Setting("max_roll_deg", 25.0, "Largest head tilt (eye line angle) in degrees.", lo=1.0, hi=90.0),
        Setting("mirror", True,
                "Encode each face together with its mirror image and average the two descriptors "
                "(templates and probes alike; one more face chip per encoding, in the same batch).",),
        Setting("template_jitter", 8,
                "Enrollment templates only: the mean descriptor of the face chip and this many re-cuts "
                "of it (turned up to 3 degrees, shifted up to 2 %, scaled up to 3 %; each with its mirror "
                "when `mirror`), so a template is less tied to where the landmarks fell on that one "
                "photo. Fewer misses at the default point's false-match rate on lfw-dev, for about 8x "
                "a face's encoding time per enrollment photo; faces at the camera are encoded once "
                "(docs/gates.md, 'Jittered templates'). 0 = off.", lo=0, hi=32),
        Setting("threshold", 0.47,
                "Largest distance accepted as the same person, for an employee whose look-alikes in "
                "the gallery are as far as usual; `neighbour_weight` moves it per employee "
                "(face_recognition's 0.6 is far too lenient for 1:N; see docs/gates.md).", lo=0.2, hi=0.8),
        Setting("margin", 0.05,
                "The best employee must beat the best *different* employee by at least this.",
                lo=0.0, hi=0.5),
        Setting("neighbour_weight", 0.5,
                "Per-employee thresholds: an employee whose 5 nearest enrolled look-alikes are closer "
                "than usual (0.55) gets a threshold lower by this times the difference, one without "
                "near look-alikes a higher one, by at most `max_loosening` (0 = one threshold for "
                "everybody).", lo=0.0, hi=2.0),
        Setting("crowd_weight", 0.15,
                "A face close to several employees at once (the mean distance to the runner-up and the "
                "next is under the usual 0.62) must win more clearly: its threshold is lowered by this "
                "times the difference, and raised (by at most `max_loosening`) for a face far from "
                "everybody else (0 = off). The "
                "cohort is the gallery itself; measured on 8 person splits of lfw-dev (docs/gates.md).",
                lo=0.0, hi=2.0),
        Setting("max_loosening", 0.02,
                "`neighbour_weight` and `crowd_weight` may make a match stricter without limit, but "
                "more lenient than `threshold` by at most this. In a small office everybody's "
                "look-alikes are far, and uncapped the two rules took 1-2.5 % of strangers' photos "
                "for an employee with 10-50 employees, against 0.15-0.3 % with 148-296 "
                "(docs/gates.md, 'Small galleries').",
                lo=0.0, hi=0.5),
        Setting("lookalike_holds", True,
                "Photos that `kiosk enroll` refused as another employee's duplicate, of a person it "
                "did not enroll, are kept as look-alike holds: until that person is enrolled (--force) "
                "or the hold is removed (`kiosk templates unhold NIP`), a face nearer those photos than "
                "the employee they resemble is refused instead of recorded as that employee "
                "(docs/gates.md, 'Look-alike holds'). false = holds are kept but not used.",),
        Setting("votes_needed", 3, "Same employee must win this many frames of one face track ...",
                lo=1, hi=30),
        Setting("vote_window", 5, "... out of this many most recent frames.", lo=1, hi=30),
        Setting("track_gap_s", 1.0,
                "A face unseen for longer than this starts a new track (and a new vote).",
                lo=0.1, hi=30.0),
        Setting("unknown_reencode_s", 1.0,
                "A face that matched nobody for a full vote window is encoded again only this often "
                "(in case it was a bad angle of an employee): detection, liveness and the preview keep "
                "their frame rate meanwhile (bench/visit.py).", lo=0.0, hi=30.0),
        Setting("worker_timeout_s", 15.0,
                "The recognition process says something at least once a second; silent this long "
                "(hung), it is killed and started again (so is a dead one), after 1, 2, 4 ... 30 s.",
                lo=2.0, hi=600.0),
        Setting("reverify_s", 1.0,
                "An identified face that stays in front of the kiosk is re-checked this often; "
                "if it is now someone else (the next person in a queue), a new track starts.",
                lo=0.2, hi=30.0),
        Setting("encoder", "onnxruntime",
                "What runs the 128-d face encoder (the same dlib network and weights, the same "
                "templates: docs/encoder.md): onnxruntime (about 0.12x dlib's time) | opencv "
                "(OpenCV's DNN module, about 0.13x) | dlib (the reference). Falls back to dlib, "
                "with a warning in the log, if the converted graph or the runtime is missing.",
                choices=("onnxruntime", "opencv", "dlib")),
        Setting("encoder_threads", 0,
                "Threads of one encoding (onnxruntime, opencv); 0 = half the cores, at least 1, "
                "so the recognition worker leaves the window process a core (2 on a Pi 4).",
                lo=0, hi=16),
    ]),
    "liveness": Section("Liveness: refuse a photo or a screen held up to the kiosk (docs/liveness.md)", [
        Setting("mode", "passive_then_challenge",
                "off | passive (blinks, 3D motion of the face's surface) | passive_then_challenge (ask "
                "'Kedipkan mata' / 'Tengok ke kiri' when passive signs are not conclusive) | challenge "
                "(always ask). Measured on recorded clips and simulated attacks (docs/liveness.md): "
                "66 % of genuine tracks passed passively within 5 s at 15 frames/s (50 % at 7.5); "
                "simulated prints: 0 of 1,344 at 15 frames/s, 2 of 1,176 at 7.5; screens (screen_* "
                "below): a real phone replay 0 of 20 recorded, held-out simulated screen replays 4 of 30 "
                "accepted at 15 frames/s and 1 of 30 at 7.5 on the latest held-out seed (4-6 of about 30 "
                "on earlier ones). Re-measure with the kiosk's own camera in a pilot.",
                choices=("off", "passive", "passive_then_challenge", "challenge")),
        Setting("snapshot", False,
                "Keep a small picture of each refused face for HR (data partition, owner only)."),
        Setting("blink_dip", 0.45, "A blink: eye openness falls below (1 - this) x its open level ...",
                lo=0.1, hi=0.9),
        Setting("blink_max_s", 0.8,
                "... and recovers within this many seconds (a blink asked for is slower than a spontaneous one).",
                lo=0.1, hi=2.0),
        Setting("blink_baseline_s", 1.5, "Window of the eyes' open level.", lo=0.3, hi=10.0),
        Setting("blinks_needed", 1, "Blinks that prove a live face.", lo=1, hi=5),
        Setting("blink_max_shape", 0.045,
                "Most the rest of the face may change (/ eye distance) while the eyes close.", lo=0.0, hi=0.5),
        Setting("blink_eye_change", 0.10,
                "With frames, a blink counts only if both eyes' appearance changed this much (1 - NCC, "
                "the open frame aligned onto the closed one by the face's surface) ...", lo=0.0, hi=2.0),
        Setting("blink_eye_ratio", 2.0,
                "... and this many times more than the nose's: dlib's eyelid points can 'blink' on a "
                "blurred print, whose eyes never change.", lo=0.0, hi=20.0),
        Setting("planar_gap_s", 0.3, "Compare the face's tracked image points in frames this far apart.",
                lo=0.05, hi=2.0),
        Setting("parallax_live", 0.08,
                "A face region (nose, eyes, mouth, jaw) whose points leave the best homography by this "
                "much (/ eye distance) moved in 3D or on its own: a live pair ...", lo=0.0, hi=1.0),
        Setting("parallax_ratio", 2.0, "... if that is also this many times the face's out-of-plane motion.",
                lo=0.0, hi=20.0),
        Setting("parallax_pairs", 3, "Live pairs, not overlapping in time, needed for 'live' (a confirmed blink "
                "counts as all of them).",
                lo=1, hi=50),
        Setting("flat_min_motion", 0.03,
                "A pair whose points moved out of plane this much (/ eye distance) ...", lo=0.0, hi=1.0),
        Setting("flat_max", 0.015, "... with no region off the homography by more than this: a flat (print) pair.",
                lo=0.0, hi=1.0),
        Setting("flat_pairs", 8, "Flat pairs that mean 'spoof' ...", lo=1, hi=100),
        Setting("flat_live_share", 1.0,
                "... while live evidence is at most this share of them ('live' needs more than this share).",
                lo=0.0, hi=1.0),
        Setting("mixed_live_pairs", 2,
                "Flat motion that came with at least this much live evidence (live pairs; a confirmed blink "
                "counts as parallax_pairs) is refused as 'unverified' (mixed_motion: try again), not accused "
                "as flat_motion: real faces on soft or enlarged camera pictures gave 8 flat pairs with 2 live "
                "ones (3 of 624 genuine tracks), simulated prints 6-8 of 650 (docs/liveness.md).",
                lo=1, hi=50),
        Setting("passive_s", 3.0, "passive_then_challenge: ask after this long without a verdict.",
                lo=0.0, hi=30.0),
        Setting("challenge_kinds", ["blink"],
                "Challenges to draw from (random order): blink, turn_left, turn_right. Only the blink by "
                "default: real people met it 30 of 32 times at 7.5 frames/s and no simulated print did; the "
                "turns 19 of 49, and a few prints met them (docs/liveness.md).",
                validate=lambda v: None if v and all(k in ("blink", "turn_left", "turn_right") for k in v)
                else "needs names from blink, turn_left, turn_right"),
        Setting("challenge_count", 1, "Challenges to pass.", lo=1, hi=5),
        Setting("challenge_s", 4.0,
                "Time limit of each challenge (real blinks met it a median 0.1-0.3 s after they began, "
                "docs/liveness.md).", lo=1.0, hi=30.0),
        Setting("challenge_tries", 2,
                "Challenges a person gets (each failed one is followed by a new one) before the check "
                "ends as 'unverified' (a retry hint, never a fraud case).", lo=1, hi=10),
        Setting("turn_yaw", 0.15, "Yaw change a 'turn' challenge needs ([recognition] max_yaw units).",
                lo=0.05, hi=0.6),
        Setting("turn_nonplanar", 0.08,
                "... with this landmark homography residual against its start (3D, not a tilted print).",
                lo=0.0, hi=1.0),
        Setting("max_seconds", 12.0,
                "No pass by then: 'unverified' ('timeout'), not recorded, asked to try again. Must leave "
                "room for every try: at least passive_s + challenge_tries x challenge_s (checked).",
                lo=2.0, hi=120.0),
        Setting("screen_cues", 2,
                "A face on a phone, tablet or monitor (kiosk/screen.py): refused as 'screen' - suspected fraud, "
                "the cues' scores in HR's audit log - when this many of the three screen cues below have fired "
                "on its track (0 = no screen check). Each cue alone has a look-alike in some room "
                "(docs/liveness.md); 1 only where a pilot has checked its rooms.", lo=0, hi=3),
        Setting("screen_hold", True,
                "A face on which a screen cue has fired, but fewer than screen_cues, is not accepted as live: "
                "'unverified' ('screen_cue'), asked to try again, no HR case (the cue is in the log's scores). "
                "Off: such a face passes on its liveness signals alone."),
        Setting("screen_glow_holds", True,
                "With screen_hold: the glow alone holds a face too. It stops a phone that fills the picture (the "
                "real replay cropped close: 0 of 20 recorded, 6 without it), but real faces over-exposed by half a "
                "stop read as glow in 2.7 % of 6,876 photos: if a lobby's log shows employees held with only "
                "'glow' in screen_cues, set false (docs/liveness.md, 'The glow's margin')."),
        Setting("screen_wait_s", 1.0,
                "A face liveness would pass while a screen cue has begun to gather evidence (a border look, "
                "a glowing look, a moving pair: fewer than the cue needs) waits up to this many seconds more "
                "for that cue to fire or not; a face no cue has touched is not delayed (0 = no wait).",
                lo=0.0, hi=5.0),
        Setting("screen_frame_min", 3.5,
                "Cue 'frame', the device's border: straight edges on opposite sides of the face (outside it, "
                "parallel, not edges the empty room has), each at least this long (/ eye distance) ...",
                lo=1.0, hi=20.0),
        Setting("screen_box_min", 2.0,
                "... or four straight edges closing a box around the face (opposite ones parallel, meeting "
                "at its corners; the bottom one below the chin, where a live body hides the room), each at "
                "least this long (/ eye distance; 0 = pairs only) ...", lo=0.0, hi=20.0),
        Setting("screen_corner_min", 3.0,
                "... or one of its lower corners: an edge beside the face and one below the chin meeting at a "
                "right angle, both running from the corner (its top and far side out of the picture), each "
                "at least this long (/ eye distance; 0 = off) ...", lo=0.0, hi=20.0),
        Setting("screen_frame_hits", 2, "... in this many looks (one every 0.3 s at most).", lo=1, hi=50),
        Setting("screen_context_min", 0.06,
                "Cue 'context', the surroundings move: points beside and above the head moved this much "
                "(/ eye distance) between frames planar_gap_s apart (a kiosk's camera is fixed, its room "
                "still; a hand-held device moves) ...", lo=0.0, hi=5.0),
        Setting("screen_context_share", 0.6, "... this share of them together (one similarity) ...", lo=0.0, hi=1.0),
        Setting("screen_context_pairs", 3, "... in this many pairs of frames that do not overlap in time.",
                lo=1, hi=50),
        Setting("screen_glow_clip", 0.05,
                "Cue 'glow', the face is a light source: this share of the face's skin clipped to white ...",
                lo=0.0, hi=1.0),
        Setting("screen_glow_ratio", 2.0,
                "... with the face this many times brighter than the frame's median ...", lo=1.0, hi=20.0),
        Setting("screen_glow_hits", 3, "... in this many looks (one every 0.2 s at most).", lo=1, hi=100),
    ]),
    # The attendance rules are the shared package's schema (the collector reads the same sections).
    "attendance": ATTENDANCE,
    "schedules": SCHEDULES,
    "store": Section("Local database", [
        Setting("data_dir", "data",
                "Folder for kiosk.db (relative paths are relative to the main config file). "
                "On a Pi: the ext4 data partition."),
    ]),
    "enroll": Section("Enrollment", [
        Setting("nip_pattern", "^[0-9]{18}$",
                "Regular expression an employee id must match (NIP of an ASN: 18 digits)."),
        Setting("min_photos", 1, "Fewest accepted photos for an employee to be enrolled.", lo=1, hi=20),
        Setting("background_face_ratio", 0.5,
                "A photo with several faces is enrolled from the largest, most central one when every "
                "other face is at most this times as wide (people in the background; the report names "
                "the face used); otherwise it is refused as several_faces. Two people side by side have "
                "faces of about the same width.", lo=0.0, hi=1.0),
        Setting("poses", ["straight", "left", "right"],
                "Samples the kiosk asks for when HR enrolls someone at the kiosk, in order.",
                validate=lambda v: _poses(v)),
        Setting("side_yaw", 0.12,
                "How far a 'left'/'right' sample must be turned (yaw, see [recognition] max_yaw); "
                "a 'straight' sample must be within half of this.", lo=0.05, hi=0.5),
        Setting("keep_photos", False,
                "Keep the photo of each sample taken at the kiosk (on the data partition, owner "
                "only). Off: only the templates are stored."),
        Setting("photo_retention_days", 30,
                "Kept photos and liveness snapshots are deleted after this many days (at start).",
                lo=1, hi=3650),
    ]),
    "admin": Section("Admin mode at the kiosk (HR): long-press the clock for 3 s, or Ctrl+Alt+A", [
        Setting("pin_hash", "",
                "Preset admin PIN as a hash from `kiosk admin hash-pin` (never the PIN itself); "
                "empty: the kiosk asks for a new PIN the first time admin mode opens.",
                validate=lambda v: None if not v or _valid_pin_hash(v) else "is not a hash from `kiosk admin hash-pin`",
                secret=True),
        Setting("idle_s", 60, "Admin mode closes by itself after this many seconds without a touch.",
                lo=10, hi=3600),
        Setting("max_attempts", 5, "Wrong PINs in a row before admin mode locks.", lo=1, hi=20),
        Setting("lockout_s", 30, "First lock after too many wrong PINs; doubles with each further wrong PIN.",
                lo=1, hi=3600),
    ]),
    "server": Section("Collector server: upload of events, heartbeat, roster (docs/upload.md)", [
        Setting("url", "", "https://... of the collector; empty = offline only."),
        Setting("token_file", "", "File holding this device's token (never the token itself)."),
        Setting("ca_file", "", "PEM bundle of the government's own certificate authority; empty = system CAs."),
        Setting("proxy", "", "http://host:port of a proxy the office's network requires for the collector "
                "(HTTPS goes through it as a tunnel; the certificate is still verified); empty = direct.",
                validate=lambda v: None if re.fullmatch(r"(https?://[^\s/]+(:\d{1,5})?/?)?", v) else
                "must be http://host:port (a user:password@ before the host is allowed)", secret=True),
        Setting("batch_size", 200, "Events per upload request.", lo=1, hi=5000),
        Setting("connect_timeout_s", 5.0, "Seconds to wait for a connection.", lo=0.5, hi=120.0),
        Setting("timeout_s", 30.0, "Seconds to wait for the server's answer.", lo=1.0, hi=600.0),
        Setting("interval_s", 10.0, "Seconds between upload rounds when nothing new was recorded.",
                lo=1.0, hi=3600.0),
        Setting("heartbeat_s", 60.0, "Seconds between heartbeats.", lo=5.0, hi=3600.0),
        Setting("roster_s", 300.0, "Seconds between roster pulls.", lo=10.0, hi=86400.0),
        Setting("backoff_base_s", 0.05, "First pause after a failed request (doubles, with jitter).",
                lo=0.01, hi=60.0),
        Setting("backoff_max_s", 300.0, "Longest pause between failed requests.", lo=1.0, hi=86400.0),
        Setting("retry_after_max_s", 3600.0, "Longest Retry-After the kiosk honours.", lo=1.0, hi=86400.0),
    ]),
}


@dataclass
class Config:
    """Validated settings: ``cfg.recognition.threshold`` and so on."""

    values: dict[str, dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)

    def __getattr__(self, section: str) -> SimpleNamespace:
        values = self.__dict__.get("values")  # absent while unpickling (worker process)
        if values is None or section not in values:
            raise AttributeError(section)
        return SimpleNamespace(**values[section])

    @property
    def data_dir(self) -> Path:
        p = Path(self.values["store"]["data_dir"]).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kiosk.db"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.values["device"]["timezone"])


def section_defaults(section: str) -> dict[str, Any]:
    """The defaults of one section: the only copy (kiosk.liveness.LivenessConfig and
    kiosk.upload.Settings take theirs from here)."""
    return _section_defaults(SCHEMA[section])


def defaults() -> dict[str, dict[str, Any]]:
    return schema_defaults(SCHEMA)


def section_spans(lines: list[str]) -> list[tuple[str | None, int, int]]:
    """(section name, first line index, end index) for the preamble and each [section]."""
    spans, name, start = [], None, 0
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?", line.rstrip("\r\n"))
        if m:
            spans.append((name, start, i))
            name, start = m.group(1), i
    spans.append((name, start, len(lines)))
    return spans


def image_only_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines of a boot file that belong to the image (IMAGE_ONLY)."""
    out: set[int] = set()
    for name, a, b in section_spans(lines):
        top = (name or "").split(".")[0]
        if top not in IMAGE_ONLY:
            continue
        keys = IMAGE_ONLY[top]
        if keys is None:
            out.update(range(a, b))
            continue
        for i in range(a + 1, b):
            if any(re.match(rf"\s*{re.escape(k)}\s*=", lines[i]) for k in keys):
                out.add(i)
    return out


def device_file_text(text: str) -> str:
    """The kiosk program's view of the technician's boot file: the image-only lines ([wifi],
    [network], [server] token, [admin] pin) commented out line for line, so messages keep their line
    numbers. The one reader of that file, for the service (kiosk-firstboot) and the CLI alike."""
    lines = text.splitlines(keepends=True)
    blank = image_only_lines(lines)
    return "".join("# (kiosk-firstboot: line used by the image)\n" if n in blank else line
                   for n, line in enumerate(lines))


def default_override() -> Path | None:
    """The per-device file: $KIOSK_OVERRIDE, else what kiosk-firstboot made of the boot file at
    this boot (/run/kiosk/kiosk.toml, as the service reads it), else the boot file itself."""
    env = os.environ.get("KIOSK_OVERRIDE")
    if env:
        return Path(env)
    for p in (RUN_OVERRIDE, DEFAULT_OVERRIDE):
        if p.is_file():
            return p
    return None


def _merge(values: dict, path: Path, device_file: bool = False) -> None:
    """Check `path` key by key (the reader the collector's and the rules' settings use too) and
    put it into `values`; a device file is read through device_file_text."""
    try:
        merge_file(values, path, SCHEMA, transform=device_file_text if device_file else None, retired=RETIRED)
    except SettingsError as e:
        raise ConfigError(str(e)) from None


# Keys of earlier versions: ignored with a warning naming what replaced them, so a kiosk whose
# config or boot override still holds one keeps starting.
RETIRED = {
    ("recognition", "min_face_px"): "min_eye_px (the detector's box comes in a few fixed widths)",
    ("recognition", "min_brightness"): "max_shadows and min_contrast (the face's histogram, not its mean)",
    ("recognition", "max_brightness"): "max_highlights and min_contrast (the face's histogram, not its mean)",
    ("recognition", "max_clipped"): "max_shadows and max_highlights (measured apart: docs/gates.md)",
}


def _cross_checks(values: dict, files: list[Path]) -> None:
    r = values["recognition"]
    where = " / ".join(map(str, files)) or "defaults"
    if r["votes_needed"] > r["vote_window"]:
        raise ConfigError(
            f"{where}: [recognition] votes_needed ({r['votes_needed']}) must not exceed "
            f"vote_window ({r['vote_window']})"
        )
    try:
        re.compile(values["enroll"]["nip_pattern"])
    except re.error as e:
        raise ConfigError(f"{where}: [enroll] nip_pattern is not a valid regular expression: {e}")
    a, schedules = values["attendance"], values["schedules"]
    for unit, name in [("default_schedule", a["default_schedule"]), *a["unit_schedules"].items()]:
        if name not in schedules:
            raise ConfigError(f"{where}: [attendance] {unit} names schedule {name!r}, which is not "
                              f"defined (defined: {', '.join(schedules)})")
    from attendance.schedule import Schedule, ScheduleError

    for name, conf in schedules.items():
        try:
            Schedule(name, conf, zoneinfo.ZoneInfo(values["device"]["timezone"]))
        except ScheduleError as e:
            raise ConfigError(f"{where}: {e}") from None
    lv = values["liveness"]
    needed = lv["challenge_tries"] * lv["challenge_s"] + (lv["passive_s"] if lv["mode"] == "passive_then_challenge" else 0)
    if lv["mode"] in ("passive_then_challenge", "challenge") and lv["max_seconds"] < needed:
        raise ConfigError(
            f"{where}: [liveness] max_seconds ({lv['max_seconds']:g}) leaves no room for every try: "
            f"{'passive_s + ' if lv['mode'] == 'passive_then_challenge' else ''}challenge_tries x challenge_s "
            f"= {needed:g} s; raise max_seconds or lower challenge_s"
        )
    url = values["server"]["url"]
    if url and not (url.startswith("https://") or re.match(r"http://(127\.0\.0\.1|localhost|\[::1\])[:/]", url)):
        raise ConfigError(
            f"{where}: [server] url must use https:// (plain http only to loopback for tests), got {url!r}"
        )


def load_config(path: Path | None = None, override: Path | None = None) -> Config:
    """Defaults, then `path` (if given), then the override file, each key checked.

    With ``override=None`` the override is ``default_override()``. An override is read as a
    device file (``device_file_text``): the boot partition's [wifi], [server] token and [admin]
    pin are the image's, not errors.
    """
    values = defaults()
    files: list[Path] = []
    if path is not None:
        path = Path(path)
        _merge(values, path)
        files.append(path)
    if override is None:
        override = default_override()
    if override is not None:
        _merge(values, Path(override), device_file=True)
        files.append(Path(override))
    _cross_checks(values, files)
    base = path.resolve().parent if path is not None else Path.cwd()
    return Config(values=values, files=files, base_dir=base)


def render_defaults() -> str:
    """The text of config.toml: every setting, its default and what it means."""
    return render(SCHEMA, [
        "Kiosk configuration. Every setting is listed with its default and meaning.",
        "Generated from kiosk/config.py by `kiosk config --print-defaults`; a test keeps it in sync.",
        "Per-device values go in an override file (on a Pi: /boot/firmware/kiosk.toml) that",
        "holds only the keys that differ, e.g. [device] id = \"kiosk-sragen-07\".",
    ])
