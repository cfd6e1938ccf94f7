#!/bin/bash -e
# pi-gen, on the build host: put the kiosk's files into the root file system (${ROOTFS_DIR}).
# image/ci/check.sh runs this same script against a debootstrap root file system.
cd "$(dirname "$0")"
: "${ROOTFS_DIR:?ROOTFS_DIR must point at the root file system}"
R=${ROOTFS_DIR}

install -d -m 755 "$R/etc/systemd/system" "$R/usr/local/lib/kiosk" "$R/etc/kiosk" "$R/data" \
	"$R/opt/kiosk" "$R/etc/NetworkManager/conf.d" "$R/etc/systemd/journald.conf.d" \
	"$R/etc/systemd/logind.conf.d" "$R/boot/firmware"
install -m 644 files/units/* "$R/etc/systemd/system/"
for d in files/dropins/*; do
	install -d -m 755 "$R/etc/systemd/system/${d##*/}"
	install -m 644 "$d"/*.conf "$R/etc/systemd/system/${d##*/}/"
done
install -m 755 files/bin/* "$R/usr/local/lib/kiosk/"
install -m 644 files/etc/config.toml "$R/etc/kiosk/config.toml"
install -m 644 files/etc/networkmanager-kiosk.conf "$R/etc/NetworkManager/conf.d/90-kiosk.conf"
install -m 644 files/etc/journald-kiosk.conf "$R/etc/systemd/journald.conf.d/90-kiosk.conf"
install -m 644 files/etc/logind-kiosk.conf "$R/etc/systemd/logind.conf.d/90-kiosk.conf"
install -m 644 files/etc/kiosk.toml.example "$R/boot/firmware/kiosk.toml.example"

# The application source (copied here by image/build.sh or image/ci/check.sh), installed into a
# virtual environment by 02-run-chroot.sh.
if [ ! -f files/app/pyproject.toml ]; then
	echo "01-run.sh: files/app is missing; run image/build.sh (it copies the repository there)" >&2
	exit 1
fi
rm -rf "$R/opt/kiosk/src"
cp -a files/app "$R/opt/kiosk/src"

# Kernel command line: read-only root through an overlay in RAM, except other mounts
# (recurse=0 keeps /data and /boot/firmware writable); no console blanking; boot messages off
# the kiosk's screen; `ro` (last wins over raspi-firmware's `rw`) keeps the ext4 root below the
# overlay read-only, so a power cut cannot leave it half-written. One list for both bases:
# * Raspberry Pi OS (pi-gen): appended to /boot/firmware/cmdline.txt, console=tty1 -> tty3;
# * Debian (image/debian/mkroot.sh): /etc/default/raspi-extra-cmdline, which raspi-firmware's
#   kernel hook appends to the cmdline.txt it writes at every kernel or firmware update (a
#   hand-edited cmdline.txt would be overwritten there).
kiosk_cmdline="ro overlayroot=tmpfs:recurse=0 consoleblank=0 quiet loglevel=3 logo.nologo vt.global_cursor_default=0"
install -d -m 755 "$R/etc/default"
printf '%s\n' "$kiosk_cmdline" > "$R/etc/default/raspi-extra-cmdline"
cmdline="$R/boot/firmware/cmdline.txt"
if [ -f "$cmdline" ]; then
	line=$(head -n1 "$cmdline")
	line=${line//console=tty1/console=tty3}
	for opt in $kiosk_cmdline; do
		case " $line " in *" ${opt%%=*}="*|*" $opt "*) ;; *) line="$line $opt" ;; esac
	done
	printf '%s\n' "$line" > "$cmdline"
fi
