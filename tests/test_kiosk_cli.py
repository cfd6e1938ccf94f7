"""The `kiosk` command end to end: identify, the headless loop, self-test, a missing camera."""

import json
import re
import sqlite3

import cv2
import pytest

from conftest import BIDEN, OBAMA, run_kiosk, side_by_side
from kiosk.imageio import load_rgb


def lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def kiosk_dir(tmp_path, enrolled, cfg_path):
    """A working directory whose config.toml points at the enrolled store."""
    enrolled.close()
    return cfg_path.parent


def test_identify_prints_one_json_line_per_image(kiosk_dir, faces, tmp_path):
    (tmp_path / "roster.txt").write_text("not an image")
    two = tmp_path / "two.jpg"
    cv2.imwrite(str(two), cv2.cvtColor(side_by_side(load_rgb(faces / "biden.jpg"), load_rgb(faces / "obama3.jpg"), height=1200),
                                       cv2.COLOR_RGB2BGR))
    r = run_kiosk("identify", str(faces / "obama3.jpg"), str(faces / "grace_hopper.jpg"),
                  str(faces / "chelsea.png"), str(tmp_path / "roster.txt"), str(two), cwd=kiosk_dir)
    out = lines(r.stdout)
    assert [o["path"] for o in out][:2] == [str(faces / "obama3.jpg"), str(faces / "grace_hopper.jpg")]
    obama, hopper, cat, txt, pair = out
    assert obama["employee_id"] == OBAMA and obama["reason"] is None
    assert 0 < obama["distance"] < 0.45 and obama["margin"] > 0.05
    assert hopper["employee_id"] is None and hopper["reason"] == "unknown" and hopper["distance"] > 0.45
    assert cat["employee_id"] is None and cat["reason"] == "no_face"
    assert txt["reason"] == "unreadable" and "not an image" in txt["detail"]
    assert pair["faces"] == 2 and pair["employee_id"] in (OBAMA, BIDEN)
    assert r.returncode == 1  # one input could not be read


def test_headless_run_records_masuk_then_already_recorded(kiosk_dir, faces, tmp_path):
    replay = tmp_path / "replay"
    replay.mkdir()
    for i, name in enumerate(["obama3.jpg", "chelsea.png", "grace_hopper.jpg", "biden.jpg"]):
        (replay / f"{i}_{name}").write_bytes((faces / name).read_bytes())
    # each photo 2 s: Biden steps into the stranger's place in the same face track, and a face
    # that was unknown is re-encoded only once a second (unknown_reencode_s) until it matches
    args = ("run", "--headless", "--camera", f"replay:{replay}", "--fps", "5", "--hold", "2", "--no-realtime")
    r = run_kiosk(*args, cwd=kiosk_dir)
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert out[0]["type"] == "ready" and out[0]["employees"] == 2
    decisions = [o for o in out if o["type"] == "attendance"]
    assert [(d["employee_id"], d["kind"], d["status"]) for d in decisions] == [
        (OBAMA, "masuk", "recorded"), (BIDEN, "masuk", "recorded")]
    assert decisions[0]["name"] == "Barack Obama" and decisions[0]["local_time"].endswith("+07:00")
    unknown = [o for o in out if o["type"] == "unknown"]
    assert len(unknown) == 1 and "grace_hopper" in unknown[0]["frame"]
    assert out[-1] == {**out[-1], "type": "stopped", "pending_upload": 2}
    # the same people again a minute later: nothing new is written
    again = [o for o in lines(run_kiosk(*args, cwd=kiosk_dir).stdout) if o["type"] == "attendance"]
    assert {d["status"] for d in again} == {"already_recorded"}
    db = sqlite3.connect(kiosk_dir / "data" / "kiosk.db")
    rows = db.execute("select nip, kind, clock_synced, device_id from attendance_events order by nip").fetchall()
    assert rows == [(BIDEN, "masuk", 0, "kiosk-01"), (OBAMA, "masuk", 0, "kiosk-01")]
    assert db.execute("select count(*) from outbox").fetchone()[0] == 2


def test_headless_run_survives_a_missing_camera(kiosk_dir):
    r = run_kiosk("run", "--headless", "--camera", "opencv:9", "--max-seconds", "2.5", cwd=kiosk_dir)
    assert r.returncode == 0
    errors = [o for o in lines(r.stdout) if o["type"] == "error"]
    assert errors and errors[0]["error"] == "camera" and "cannot be opened" in errors[0]["message"]
    assert lines(r.stdout)[-1]["type"] == "stopped"


def test_self_test_passes_on_a_real_photo(tmp_path, faces):
    r = run_kiosk("self-test", "--photo", str(faces / "obama.jpg"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS  models: 3 files verified" in r.stdout
    assert "PASS  recognition" in r.stdout and "re-identified" in r.stdout
    # the enrollment path too: the jittered template, and the photo's face found again by it
    assert re.search(r"enrollment template \(jitter 8\) in [0-9]+ ms, the face 0\.[0-9]{3} from it", r.stdout)


def test_identify_without_a_database_says_so(tmp_path, faces):
    r = run_kiosk("identify", str(faces / "obama.jpg"), cwd=tmp_path)
    assert r.returncode == 1 and "database not found" in r.stderr


def test_headless_run_replays_a_video_in_its_own_time(kiosk_dir, faces, tmp_path):
    """A phone clip at 30 frames/s played as the camera (15 frames/s, the default): every second
    frame of it, so that 3 s of clip are 3 s at the kiosk - not 6, as when each frame of the file
    was one camera frame - and a 1280-px frame reaches recognition at the camera's 640 px."""
    import numpy as np

    face = cv2.cvtColor(load_rgb(faces / "obama3.jpg"), cv2.COLOR_RGB2BGR)
    clip = tmp_path / "phone.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (1280, 720))
    for k in range(90):  # 3 s: Obama's photo drifting slowly across a 1280 x 720 frame
        frame = np.full((720, 1280, 3), 90, np.uint8)
        small = cv2.resize(face, (640, round(face.shape[0] * 640 / face.shape[1])))[:720]
        x = 200 + 2 * k
        frame[:small.shape[0], x:x + 640] = small
        w.write(frame)
    w.release()
    r = run_kiosk("run", "--headless", "--camera", f"replay:{clip}", "--no-realtime", cwd=kiosk_dir)
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    (rec,) = [o for o in out if o["type"] == "attendance"]
    assert rec["employee_id"] == OBAMA and int(rec["frame"].rsplit("#", 1)[1]) % 2 == 0  # a frame of the 15-fps sampling
    (ended,) = [o for o in out if o["type"] == "camera"]
    assert "ended after 45 frame(s)" in ended["message"], ended
