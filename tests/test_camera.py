"""Camera sources: replay of folders and videos behaves like a camera (newest frame wins)."""

import time

import cv2
import numpy as np
import pytest

from kiosk.camera import CameraError, open_source
from kiosk.camera.replay import ReplaySource
from kiosk.imageio import load_rgb


@pytest.fixture
def clip(tmp_path, faces):
    """A short MJPG video of a real face moving slightly, 20 frames at 10 fps."""
    path = tmp_path / "clip.avi"
    img = cv2.resize(load_rgb(faces / "obama.jpg"), (640, 800))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(20):
        w.write(cv2.cvtColor(np.ascontiguousarray(img[60 + i * 4:540 + i * 4]), cv2.COLOR_RGB2BGR))
    w.release()
    return path


def test_video_replay_in_order(clip):
    src = open_source(f"replay:{clip}", fps=10, realtime=False)
    src.open()
    seqs = []
    while True:
        try:
            f = src.read()
        except StopIteration:
            break
        assert f.image.shape == (480, 640, 3) and f.image.dtype == np.uint8
        seqs.append(f.seq)
    assert seqs == list(range(20))


def test_realtime_replay_drops_stale_frames(clip):
    src = ReplaySource(clip, fps=10, realtime=True)
    src.open()
    first = src.read()
    time.sleep(0.8)  # a slow recognition step: about 8 frames became due meanwhile
    newest = src.read()
    assert newest.seq - first.seq >= 6 and src.dropped >= 5


def _clip_at(path, fps, n, size=(64, 48)):
    """A video of n frames at `fps` whose frame k is grey level 4k (its number, readable after JPEG)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for k in range(n):
        w.write(np.full((size[1], size[0], 3), 4 * k, np.uint8))
    w.release()
    return path


def _number(frame) -> int:
    return int(round(float(frame.image.mean()) / 4))


@pytest.mark.parametrize("realtime", [False, True])
def test_a_video_is_replayed_in_its_own_time_whatever_the_camera_rate(tmp_path, realtime):
    # a 30-fps clip at a 15-fps camera: every second frame, 15 a second, so that one second of
    # clip takes one second (not two, as when every frame of the file was one camera frame:
    # liveness then saw half the motion per second and blinks twice as long)
    fast = ReplaySource(_clip_at(tmp_path / "fast.avi", 30, 60), fps=15, realtime=realtime)
    fast.open()
    frames = [fast.read(timeout=2.0) for _ in range(10)]
    shown = [_number(f) for f in frames]
    if realtime:  # every second clip frame (a late read skips whole camera frames), stamped at the clip's time
        assert all(n % 2 == 0 for n in shown) and shown == sorted(set(shown)), shown
        assert all(abs((f.ts - frames[0].ts) - (n - shown[0]) / 30) < 1e-6 for f, n in zip(frames, shown))
    else:
        assert shown == list(range(0, 20, 2))
        assert [round(f.ts - frames[0].ts, 3) for f in frames[:3]] == [0.0, 0.067, 0.133]
    assert all(f.label.endswith(f"#{_number(f)}") for f in frames)  # the label names the clip's frame
    # a 10-fps clip at the same camera: each of its frames once, a tenth of a second apart
    slow = ReplaySource(_clip_at(tmp_path / "slow.avi", 10, 20), fps=15, realtime=False)
    slow.open()
    frames = [slow.read() for _ in range(5)]
    assert [_number(f) for f in frames] == [0, 1, 2, 3, 4]
    assert round(frames[4].ts - frames[0].ts, 3) == 0.4 and slow.rate == 10


def test_folder_replay_holds_each_photo(tmp_path, faces):
    (tmp_path / "a.jpg").write_bytes((faces / "obama.jpg").read_bytes())
    (tmp_path / "b.jpg").write_bytes((faces / "biden.jpg").read_bytes())
    src = open_source(str(tmp_path), fps=4, realtime=False, hold_s=1.0)
    src.open()
    labels = []
    for _ in range(8):
        labels.append(src.read().label.rsplit("/", 1)[1])
    assert labels == ["a.jpg"] * 4 + ["b.jpg"] * 4
    with pytest.raises(StopIteration):
        src.read()


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        open_source(str(tmp_path / "nothing"))
    src = open_source(str(tmp_path))
    with pytest.raises(CameraError, match="holds no images"):
        src.open()
    with pytest.raises(CameraError, match="picamera2 is not installed|Pi camera"):
        open_source("picamera2").open()


def _raw_mjpeg(path, n=20):
    """A raw MJPEG stream (JPEGs back to back): a valid video whose header gives no frame count;
    OpenCV reports a large negative number for it."""
    with open(path, "wb") as f:
        for k in range(n):
            f.write(cv2.imencode(".jpg", np.full((48, 64, 3), k * 10, np.uint8))[1].tobytes())
    return path


def _zero_count_avi(clip, path):
    """The same AVI with 0 frames written in its headers (avih and strh), as some recorders leave it."""
    import struct

    b = bytearray(clip.read_bytes())
    struct.pack_into("<I", b, b.find(b"avih") + 24, 0)
    struct.pack_into("<I", b, b.find(b"strh") + 40, 0)
    path.write_bytes(bytes(b))
    return path


def _play(src, limit=200):
    seqs = []
    with pytest.raises(StopIteration) as ended:
        for _ in range(limit):
            seqs.append(src.read().seq)
    return seqs, str(ended.value)


def test_a_video_whose_header_has_no_usable_frame_count_plays_every_frame(tmp_path, clip):
    raw = _raw_mjpeg(tmp_path / "raw.mjpeg")
    cap = cv2.VideoCapture(str(raw))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) < 0  # what made the kiosk stop at once before
    cap.release()
    zero = _zero_count_avi(clip, tmp_path / "zero.avi")
    for path, n in ((raw, 20), (zero, 20)):
        src = ReplaySource(path, fps=30, realtime=False)  # not slower than either file (raw MJPEG: 25)
        src.open()
        seqs, why = _play(src)
        assert seqs == list(range(n))
        assert why == f"replay of {path} ended after {n} frame(s) (end of the file)"


def test_loop_replays_many_passes_without_recursion(tmp_path):
    import sys

    raw = _raw_mjpeg(tmp_path / "raw.mjpeg", n=3)
    src = ReplaySource(raw, fps=25, realtime=False, loop=True)  # every frame (OpenCV reads raw MJPEG as 25 fps)
    src.open()
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # each pass used to add stack frames: 300 passes would overflow it
    try:
        seqs = [src.read().seq for _ in range(900)]
    finally:
        sys.setrecursionlimit(old)
    assert src.passes == 299 and seqs == sorted(seqs) and len(set(seqs)) == 900


def test_a_video_with_no_decodable_frame_says_so(tmp_path):
    bad = tmp_path / "empty.mjpeg"
    _raw_mjpeg(bad, n=1)
    bad.write_bytes(bad.read_bytes()[:40])  # a truncated JPEG: OpenCV may open it, nothing decodes
    src = ReplaySource(bad, fps=10, realtime=False, loop=True)
    try:
        src.open()
    except CameraError as e:
        assert "cannot open video" in str(e)
        return
    with pytest.raises(StopIteration, match="no frame could be decoded"):
        src.read()


def test_face_priority_exposure_steers_toward_the_face_and_lets_go():
    from kiosk.camera.exposure import ExposureSteer, FaceLight

    s = ExposureSteer(target=110, hi=3.0, gain=0.6)
    dark = FaceLight(median=28, shadows=0.05, highlights=0.0)  # two stops too dark
    evs = [s.update(dark, t) for t in (0.0, 0.1)]
    assert evs[0] == 1.25 and evs[1] == 2.5  # 0.6 x 2 stops per step, in quarter stops
    assert s.update(FaceLight(110, 0.0, 0.0), 0.2) is None  # on target: no change
    # brighter would burn the highlights of a face that is dark only in parts: hold
    assert s.update(FaceLight(40, 0.0, 0.05), 0.3) is None
    assert s.update(None, 1.0) is None and s.update(None, 3.4) == 0.0  # nobody for 3 s: back to the camera's own
    bright = FaceLight(median=230, shadows=0.0, highlights=0.2)
    assert s.update(bright, 4.0) < 0  # a burnt-out pale face: darker


def test_each_frame_is_stamped_with_the_least_darkening_that_may_be_in_force():
    """A camera reaches a new exposure some frames after it is asked (FacePriority.SETTLE_S), so a
    frame is taken as darkened only by what every EV of the last SETTLE_S (and the one before them)
    would allow: the glow cue may then count as clipped what the camera's own metering would clip,
    never more. A source that cannot apply an EV is never taken as darkened."""
    from kiosk.camera.exposure import FacePriority

    class Camera:
        supports_exposure = True

        def set_exposure_compensation(self, ev):
            self.ev = ev

    fp, cam = FacePriority(), Camera()
    assert fp.in_force(0.0) == 0.0  # the camera's own metering
    fp._pending = -1.0
    fp.apply(cam, now=1.0)
    assert cam.ev == -1.0 and fp.in_force(1.1) == 0.0  # asked, maybe not yet reached
    assert fp.in_force(1.0 + fp.SETTLE_S + 0.01) == -1.0
    fp._pending = -1.75
    fp.apply(cam, now=3.0)
    assert fp.in_force(3.2) == -1.0 and fp.in_force(3.0 + fp.SETTLE_S + 0.01) == -1.75
    fp._pending = 0.5  # brighter again: at once the least darkening
    fp.apply(cam, now=5.0)
    assert fp.in_force(5.0) == 0.5
    fp.reset()
    assert fp.in_force(9.0) == 0.0
    cam.supports_exposure = False  # e.g. a webcam without manual exposure: EVs are not handed over
    fp._pending = -2.0
    fp.apply(cam, now=10.0)
    assert fp.in_force(20.0) == 0.0
    cam.supports_exposure = True
    fp._pending = -1.0
    fp.apply(cam, now=30.0)
    assert fp.in_force(40.0, cam) == -1.0
    cam.supports_exposure = False  # found out after the EV was handed over: no frame is darkened
    assert fp.in_force(40.0, cam) == 0.0


def test_the_frame_ring_carries_each_frames_exposure_compensation():
    from kiosk.worker import FrameRing

    ring = FrameRing(48, 64)
    try:
        ring.put(np.full((48, 64, 3), 7, np.uint8), 5, 12.5, -1.25)
        f = ring.take(timeout=1.0)
        assert (f.seq, f.ts, f.ev) == (5, 12.5, -1.25) and int(f.image[0, 0, 0]) == 7
        ring.release()
        ring.put(np.zeros((48, 64, 3), np.uint8), 6, 13.0)
        assert ring.take(timeout=1.0).ev == 0.0
        ring.release()
    finally:
        ring.close(unlink=True)


def test_backlit_fake_camera_behaves_like_a_camera(faces):
    from kiosk.camera.fake import BacklitSource

    img = load_rgb(faces / "obama.jpg")
    src = BacklitSource(img, (366, 136, 625, 395), backlight_stops=4)
    src.open()
    f0 = src.read()
    face = lambda f: f.image[180:360, 400:590].mean()  # noqa: E731
    back = lambda f: f.image[20:120, 20:120].mean()  # noqa: E731
    src.set_exposure_compensation(2.0)
    f1 = src.read()
    assert face(f1) > 1.6 * face(f0)  # two stops brighter on the face ...
    assert back(f1) >= back(f0)  # ... and the bright background brighter or burnt out
    assert f1.seq == f0.seq + 1 and f1.ts > f0.ts


def test_a_photo_that_is_slow_to_decode_is_still_shown_for_its_whole_hold(tmp_path, monkeypatch):
    """The demo's first photo (a 20-megapixel JPEG) took longer to decode than its hold, so the
    kiosk saw it in one or two frames and never reached a 3-frame vote."""
    import kiosk.camera.replay as replay

    for name in ("1.png", "2.png"):
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), 128, np.uint8))
    real = replay.load_rgb

    def slow(path, max_side):
        time.sleep(0.6)
        return real(path, max_side)

    monkeypatch.setattr(replay, "load_rgb", slow)
    src = ReplaySource(tmp_path, fps=10, realtime=True, hold_s=1.0)
    src.open()
    labels, stamps = [], []
    with pytest.raises(Exception, match="last image shown"):
        while True:
            f = src.read(timeout=2.0)
            if f is not None:
                labels.append(f.label.rsplit("/", 1)[-1])
                stamps.append(f.ts)
    assert labels.count("1.png") >= 8 and labels.count("2.png") >= 8, labels
    assert stamps == sorted(stamps)


def test_a_video_is_seen_at_the_cameras_width(tmp_path):
    # a 1280 x 720 phone clip reaches the kiosk as its 640-px camera would deliver the scene (the
    # proportions kept); a small webcam clip is not enlarged (interpolation is no sharper camera)
    big = _clip_at(tmp_path / "big.avi", 15, 3, (1280, 720))
    small = _clip_at(tmp_path / "small.avi", 15, 3)  # 64 x 48
    for path, shape in ((big, (360, 640, 3)), (small, (48, 64, 3))):
        src = open_source(f"replay:{path}", width=640, fps=15, realtime=False)
        src.open()
        assert src.read().image.shape == shape


def test_own_time_false_hands_out_every_frame_of_a_video_at_fps(tmp_path):
    # a load benchmark's frame source at an exact rate: each frame of the 10-fps clip, 30 a second
    src = ReplaySource(_clip_at(tmp_path / "slow.avi", 10, 12), fps=30, realtime=False, own_time=False)
    src.open()
    frames = [src.read() for _ in range(4)]
    assert [_number(f) for f in frames] == [0, 1, 2, 3] and src.rate == 30
    assert round(frames[3].ts - frames[0].ts, 3) == 0.1
