#!/bin/bash -e
# pi-gen, inside the image's root file system (arm64): the kiosk user, the application in a
# virtual environment, and the services. image/ci/check.sh runs this same script under qemu-user.
#
# Python packages: the exact versions of requirements.txt, binary wheels only (dlib-bin brings
# dlib prebuilt for aarch64), in a venv with --system-site-packages so python3-picamera2 and
# libcamera from the Raspberry Pi archive are importable.

# The dedicated unprivileged user: no password, no shell, no sudo.
if ! id kiosk >/dev/null 2>&1; then
	useradd --system --user-group --create-home --home-dir /var/lib/kiosk \
		--shell /usr/sbin/nologin --comment "Attendance kiosk" kiosk
fi
for g in video render input audio; do
	if getent group "$g" >/dev/null; then usermod -a -G "$g" kiosk; fi
done

src=/opt/kiosk/src
venv=/opt/kiosk/venv
# A venv without pip is one an earlier, interrupted build left half-made: make it again.
"$venv/bin/python" -m pip --version >/dev/null 2>&1 || python3 -m venv --clear --system-site-packages "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-cache-dir -q)

req=$(mktemp)
# PySide6 wheels after 6.8.0.2 need glibc 2.39 on aarch64: Raspberry Pi OS Trixie has 2.41,
# Bookworm 2.36 (there: 6.8.0.2, the last one that installs).
glibc=$(ldd --version | head -n1 | grep -oE '[0-9]+\.[0-9]+$')
if [ "$(printf '%s\n2.39\n' "$glibc" | sort -V | head -n1)" != "2.39" ]; then
	sed 's/^PySide6-Essentials==.*/PySide6-Essentials==6.8.0.2/' "$src/requirements.txt" > "$req"
	echo "02-run-chroot: glibc $glibc < 2.39: PySide6-Essentials==6.8.0.2"
else
	cp "$src/requirements.txt" "$req"
fi
# face-recognition-models is published only as a source archive (pure data, no compiler needed).
grep -v '^face-recognition-models==' "$req" > "$req.bin"
"${pip[@]}" install --only-binary=:all: -r "$req.bin"
"${pip[@]}" install --no-deps "$(grep '^face-recognition-models==' "$req")" face-recognition==1.3.0
"${pip[@]}" install --no-deps "$src"
rm -f "$req" "$req.bin"
for ts in "$src"/kiosk/ui/i18n/*.ts; do
	qm=$("$venv/bin/python" -c 'import kiosk, pathlib, sys; print(pathlib.Path(kiosk.__file__).parent / "ui/i18n" / (pathlib.Path(sys.argv[1]).stem + ".qm"))' "$ts")
	"$venv/bin/pyside6-lrelease" -silent "$ts" -qm "$qm" || echo "02-run-chroot: no translations compiled for $ts" >&2
done
# dlib's face encoder as an ONNX graph next to its .dat (docs/encoder.md), made once here: the
# kiosk user cannot write into the venv, and at run time the root is a tmpfs overlay. Without it
# the kiosk still works: it converts into its cache at every boot (or runs dlib's own encoder).
"$venv/bin/python" -m kiosk_models.convert \
	|| echo "02-run-chroot: the encoder graph was not made here; the kiosk will convert at start" >&2
"$venv/bin/python" -m compileall -q "$venv" >/dev/null || true
"$venv/bin/kiosk" --version

systemctl enable data.mount kiosk-data-init.service var-lib-systemd-timesync.mount \
	var-log-journal.mount kiosk-firstboot.service kiosk.service kiosk-backup.timer \
	kiosk-clock-save.timer systemd-timesyncd.service
# No login prompt on the kiosk's screen.
systemctl mask getty@tty1.service
systemctl set-default graphical.target
# The root is read-only at run time (an overlay in RAM): software is updated by flashing a new
# image, not by apt downloading into RAM at every boot.
for t in apt-daily.timer apt-daily-upgrade.timer; do
	if [ -e "/usr/lib/systemd/system/$t" ]; then systemctl mask "$t"; fi
done
