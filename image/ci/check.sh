#!/bin/bash
# The image checks that need neither Docker, nor a Pi, nor the Raspberry Pi archive (issue 7):
#   1. shellcheck on every script of image/;
#   2. a Debian arm64 root file system (debootstrap, second stage under qemu-user via binfmt_misc);
#   3. the stage's own steps run in it for real: 00-packages (apt; packages found only in the
#      Raspberry Pi archive are skipped and listed), 00-kiosk/01-run.sh, 00-kiosk/02-run-chroot.sh;
#   4. `systemd-analyze verify` on the kiosk's units in that tree;
#   5. inside it, under emulation: kiosk-firstboot apply/check on the example boot file, then
#      `kiosk self-test --photo` as the kiosk user (models verified, a real recognition, the
#      database migration);
#   6. a partitioned test image (FAT boot, ext4 root, ext4 KIOSKDATA) assembled with genimage,
#      and add-data-partition.sh on a two-partition image.
# Run as root (chroot, mounts). Needs the Debian packages debootstrap, qemu-user-static,
# binfmt-support, genimage, shellcheck, mtools, dosfstools, e2fsprogs, fdisk and python3. Env: WORK (default /tmp/kiosk-image-ci;
# a finished debootstrap there is reused), SUITE (default trixie), MIRROR (default: the host's
# Debian mirror), PHOTO (default: fetched with scripts/fetch_faces.py), CLEAN=1 removes WORK at
# the end (otherwise the next run reuses its debootstrap, which saves about 9 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
WORK=${WORK:-/tmp/kiosk-image-ci}
SUITE=${SUITE:-trixie}
stage=$here/stage-kiosk/00-kiosk
root=$WORK/rootfs
NAME=check.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/ci/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
for tool in debootstrap genimage shellcheck mkfs.vfat mcopy mke2fs sfdisk systemd-analyze; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap genimage shellcheck dosfstools mtools e2fsprogs fdisk systemd qemu-user-static binfmt-support)"
done

# --- 1. shellcheck -----------------------------------------------------------------------------
mapfile -t scripts < <(cd "$here" && { find . -name '*.sh' -type f; find stage-kiosk -path '*/files/bin/*' -type f; } | sort -u)
shell_scripts=()
for s in "${scripts[@]}"; do
	head -n1 "$here/$s" | grep -qE '^#!.*(ba|da)?sh( |$)' && shell_scripts+=("$here/$s")
done
shellcheck -x "${shell_scripts[@]}"
step "shellcheck on ${#shell_scripts[@]} scripts"

# --- 2. arm64 root file system -----------------------------------------------------------------
if [ "$(uname -m)" != aarch64 ]; then
	if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc (a container without --privileged?)"
	fi
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
		|| die "cannot register qemu-aarch64 with binfmt_misc"
fi
if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
		| grep -v security | head -n1 | grep -oE 'https?://[^ ]+' || true)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
mounted=()
cleanup() {
	local i
	for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
	if [ "${CLEAN:-0}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK"
if [ ! -e "$root/.debootstrap-done" ]; then
	rm -rf "$root"
	# One run on the host: debootstrap's own work (resolving, unpacking) runs natively and only
	# the package scripts run under qemu-user through binfmt_misc. (--foreign plus
	# `chroot ROOT /debootstrap/debootstrap --second-stage` runs debootstrap's
	# perl under emulation: still unpacking after 8 minutes on 2 shared cores.)
	debootstrap --arch=arm64 --variant=minbase \
		--include=systemd,systemd-sysv,systemd-timesyncd,ca-certificates,python3,python3-venv,python3-pip,udev \
		"$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || die "debootstrap $SUITE arm64 (see $WORK/debootstrap.log)"
	touch "$root/.debootstrap-done"
	step "debootstrap $SUITE arm64 ($MIRROR)"
else
	step "reused $root"
fi

bind() { if [ -d "$1" ]; then mkdir -p "$2"; fi; mount --bind "$1" "$2"; mounted+=("$2"); }
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
# pip in the chroot trusts what the host trusts (a proxy's CA, say) through the environment
# only: the bundle is bind-mounted under /run, which is not part of any image.
touch "$root/run/host-ca.crt"
bind /etc/ssl/certs/ca-certificates.crt "$root/run/host-ca.crt"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PIP_CERT=/run/host-ca.crt \
	PIP_DEFAULT_TIMEOUT=180 "$@"; }

# --- 3. the stage's steps ----------------------------------------------------------------------
echo "deb $MIRROR $SUITE main" > "$root/etc/apt/sources.list"
in_root apt-get update -qq >"$WORK/apt.log" 2>&1 || die "apt-get update in the chroot (see $WORK/apt.log)"
install=() skipped=()
while read -r pkg; do
	[ -n "$pkg" ] || continue
	policy=$(in_root apt-cache policy "$pkg" 2>/dev/null </dev/null || true)
	if grep -qE 'Candidate: [^(]' <<<"$policy"; then
		install+=("$pkg")
	else
		skipped+=("$pkg")
	fi
done < <(sed 's/#.*//' "$stage/00-packages" | tr ' ' '\n')
in_root apt-get install -y -qq --no-install-recommends "${install[@]}" >>"$WORK/apt.log" 2>&1 \
	|| die "apt-get install ${install[*]} (see $WORK/apt.log)"
echo "check.sh: installed from $SUITE: ${install[*]}"
echo "check.sh: SKIPPED (only in the Raspberry Pi archive): ${skipped[*]:-none}"
step "00-packages"

app=$stage/files/app
rm -rf "$app"
mkdir -p "$app"
(cd "$repo" && tar -c --exclude=__pycache__ --exclude='*.qm' --exclude='*.pyc' \
	pyproject.toml requirements.txt README.md LICENSE kiosk enroll models server) | tar -x -C "$app"
mkdir -p "$root/boot/firmware"
echo "console=serial0,115200 console=tty1 root=PARTUUID=00000000-02 rootfstype=ext4 fsck.repair=yes rootwait" > "$root/boot/firmware/cmdline.txt"
ROOTFS_DIR=$root bash "$stage/01-run.sh"
rm -rf "$app"
grep -q 'overlayroot=tmpfs:recurse=0' "$root/boot/firmware/cmdline.txt" || die "cmdline.txt lacks overlayroot"
step "01-run.sh (files into the root file system)"

# pi-gen runs NN-run-chroot.sh as `on_chroot < script`; so does this.
in_root /bin/bash -e < "$stage/02-run-chroot.sh" >"$WORK/chroot.log" 2>&1 \
	|| { tail -n 30 "$WORK/chroot.log" >&2; die "02-run-chroot.sh (see $WORK/chroot.log)"; }
tail -n 3 "$WORK/chroot.log"
step "02-run-chroot.sh under qemu-user (venv, pinned wheels, services)"

# --- 4. systemd-analyze verify ------------------------------------------------------------------
units=()
for u in "$stage"/files/units/*; do units+=("$root/etc/systemd/system/${u##*/}"); done
verify_log=$WORK/verify.log
# Offline: the tree's own binaries and units; a missing optional unit elsewhere is only a warning.
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --root="$root" --man=no "${units[@]}" >"$verify_log" 2>&1 || {
	cat "$verify_log" >&2; die "systemd-analyze verify"; }
# Only our units count: the host's systemd may not know newer keys in the tree's own units.
ours=$(find "$stage/files/units" -type f -printf '%f\n' | paste -sd'|' | sed 's/\./\\./g')
if grep -E "^(/[^:]*/)?($ours)[:]" "$verify_log" | grep -E 'Unknown (key|section)|Failed to|not found|is not executable|No such file'; then
	die "systemd-analyze verify reported problems (above)"
fi
[ -L "$root/etc/systemd/system/getty@tty1.service" ] || die "getty@tty1 is not masked"
[ "$(readlink "$root/etc/systemd/system/default.target")" = /usr/lib/systemd/system/graphical.target ] \
	|| [ "$(readlink "$root/etc/systemd/system/default.target")" = /lib/systemd/system/graphical.target ] \
	|| die "default target is not graphical.target"
step "systemd-analyze verify on ${#units[@]} units"

# --- 5. first boot and self-test inside, under emulation ----------------------------------------
photo=${PHOTO:-}
if [ -z "$photo" ]; then
	py=$repo/.venv/bin/python
	[ -x "$py" ] || py=python3
	faces=$("$py" "$repo/scripts/fetch_faces.py" "$WORK/faces")
	photo=$faces/obama.jpg
fi
cp "$photo" "$root/var/lib/kiosk/selftest.jpg"
chown --reference="$root/var/lib/kiosk" "$root/var/lib/kiosk/selftest.jpg"
# The data partition's folders, as kiosk-data-init makes them (.grown: never resize anything here).
touch "$root/data/.grown"
in_root /usr/local/lib/kiosk/kiosk-data-init /data
sed -e 's/PASTE-THE-DEVICE-TOKEN-HERE/ci-token-not-secret-0123456789/' -e 's/^ssid = ""/ssid = "Kantor CI"/' \
	-e 's/^password = ""  /password = "ci-wifi-password"/' \
	"$root/boot/firmware/kiosk.toml.example" > "$root/boot/firmware/kiosk.toml"
in_root /opt/kiosk/venv/bin/python -m kiosk.firstboot apply --boot-file /boot/firmware/kiosk.toml \
	--data /data --run-dir /run/kiosk || die "kiosk-firstboot apply on the example file"
! grep -q 'ci-token-not-secret\|ci-wifi-password' "$root/boot/firmware/kiosk.toml" || die "a secret is still on the boot partition"
[ "$(in_root stat -c '%U %a' /data/secrets/server-token)" = "kiosk 600" ] || die "token file owner/mode"
kiosk_env=(env KIOSK_CONFIG=/etc/kiosk/config.toml KIOSK_OVERRIDE=/run/kiosk/kiosk.toml)
in_root runuser -u kiosk -- "${kiosk_env[@]}" /opt/kiosk/venv/bin/python -m kiosk.firstboot check \
	|| die "the kiosk user cannot use the derived configuration"
step "kiosk-firstboot apply/check under emulation"
in_root runuser -u kiosk -- "${kiosk_env[@]}" /opt/kiosk/venv/bin/kiosk self-test --photo /var/lib/kiosk/selftest.jpg \
	| tee "$WORK/selftest.log" || die "kiosk self-test inside the arm64 root file system"
# A database for the guard to check and copy, as the kiosk user.
in_root runuser -u kiosk -- /usr/local/lib/kiosk/kiosk-db-guard backup /data/kiosk/kiosk.db /data/backup
in_root runuser -u kiosk -- /usr/local/lib/kiosk/kiosk-db-guard check /data/kiosk/kiosk.db /data/backup
rm -f "$root/boot/firmware/kiosk.toml" "$root/var/lib/kiosk/selftest.jpg"
rm -rf "$root/run/kiosk"
step "kiosk self-test --photo under emulation"

# --- 6. genimage test image ---------------------------------------------------------------------
for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}"; done
mounted=()
rm -f "$root/run/host-ca.crt"
gi=$WORK/genimage
rm -rf "$gi" && mkdir -p "$gi/in" "$gi/out" "$gi/tmp"
# The data partition starts empty (folders are made at boot); keep the root's /data empty too.
mkdir -p "$gi/rootpath"
genimage --config "$here/genimage.cfg" --rootpath "$root" --inputpath "$gi/in" \
	--outputpath "$gi/out" --tmppath "$gi/tmp" >"$WORK/genimage.log" 2>&1 || {
	tail -n 30 "$WORK/genimage.log" >&2; die "genimage"; }
img=$gi/out/kiosk-test.img
sfdisk --dump "$img"
n=0
while read -r start; do
	n=$((n + 1))
	blkid -p -O $(( start * 512 )) -o export "$img" | grep -E '^(LABEL|TYPE)=' | tr '\n' ' '
	echo
done < <(sfdisk --dump "$img" | sed -n 's/.*start= *\([0-9]*\).*/\1/p')
[ "$n" = 3 ] || die "the test image should have 3 partitions, has $n"
labels=$(sfdisk --dump "$img" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | while read -r s; do
	blkid -p -O $(( s * 512 )) -s LABEL -o value "$img"; done | tr '\n' ' ')
[ "$labels" = "bootfs rootfs KIOSKDATA " ] || die "partition labels are '$labels'"
step "genimage test image ($(du -h --apparent-size "$img" | cut -f1), labels: $labels)"

# add-data-partition.sh on a small two-partition image, as build.sh does on pi-gen's.
small=$WORK/two.img
rm -f "$small" && truncate -s 64M "$small"
printf 'start=8192, size=16384, type=c\nstart=24576, size=32768, type=83\n' | sfdisk -q "$small"
bash "$here/add-data-partition.sh" "$small" 16
sfdisk --dump "$small" | grep -q "${small}3 : start=       57344" || { sfdisk --dump "$small"; die "add-data-partition: unexpected layout"; }
[ "$(blkid -p -O $((57344 * 512)) -s LABEL -o value "$small")" = KIOSKDATA ] || die "add-data-partition: no KIOSKDATA label"
rm -f "$small"
step "add-data-partition.sh"
echo "check.sh: all image checks passed in $(( $(date +%s) - t0 ))s"
