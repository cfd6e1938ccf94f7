#!/bin/bash
# The Debian image built and checked without Docker, a Pi or the Raspberry Pi archive (issue 17):
#   1. shellcheck on every script of image/;
#   2. the root file system, exactly as `BASE=debian image/build.sh` makes it
#      (image/debian/mkroot.sh: Debian trixie arm64 by debootstrap, the stage's 00-packages - those
#      only in the Raspberry Pi archive are skipped and listed -, 01-run.sh, 02-run-chroot.sh under
#      qemu-user, raspi-firmware + linux-image-arm64 + firmware-brcm80211), from this working tree;
#   3. `systemd-analyze verify` on the kiosk's units in that tree, and which are enabled;
#   4. inside it (in an overlay, so the root stays as shipped), under emulation: kiosk-firstboot
#      apply/check on the example boot file, then `kiosk self-test --photo` as the kiosk user;
#   5. the SD-card image from that root (image/debian/mkimage.sh) and checks of the image file
#      itself: partition table and labels, the FAT partition's firmware, kernel, initrd,
#      bcm2711-rpi-4-b.dtb, config.txt and cmdline.txt (root by label, overlayroot, no cma=64M),
#      the root partition's enabled units; add-data-partition.sh (the pi-gen path) on a small image;
#   6. a smoke boot of the image on an emulated Raspberry Pi 4 (ci/smoke-raspi4b.sh).
# Run as root (chroot, mounts). Needs the Debian packages debootstrap, qemu-user-static,
# binfmt-support, genimage, shellcheck, mtools, dosfstools, e2fsprogs, fdisk, xz-utils,
# device-tree-compiler, python3, and qemu-system-arm 9+ (bookworm-backports on Debian 12).
# Env: WORK (default /tmp/kiosk-image-ci; a finished debootstrap there is reused), SUITE (trixie),
# MIRROR (default: the host's Debian mirror), PHOTO (default: fetched with scripts/fetch_faces.py),
# XZ=1 also compresses the image as a release does, CLEAN=1 removes WORK at the end.
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
for tool in debootstrap genimage shellcheck mkfs.vfat mcopy mke2fs sfdisk systemd-analyze debugfs xz fdtput; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap genimage shellcheck dosfstools mtools e2fsprogs fdisk systemd qemu-user-static binfmt-support xz-utils device-tree-compiler)"
done

# --- 1. shellcheck -----------------------------------------------------------------------------
mapfile -t scripts < <(cd "$here" && { find . -name '*.sh' -type f; find stage-kiosk -path '*/files/bin/*' -type f; } | sort -u)
shell_scripts=()
for s in "${scripts[@]}"; do
	head -n1 "$here/$s" | grep -qE '^#!.*(ba|da)?sh( |$)' && shell_scripts+=("$here/$s")
done
shellcheck -x "${shell_scripts[@]}"
step "shellcheck on ${#shell_scripts[@]} scripts"

# --- 2. the Debian image's root file system: Debian arm64, the stage, the Pi 4's boot packages ----
# (image/debian/mkroot.sh, as image/build.sh BASE=debian runs it), from this working tree.
NAME=check.sh bash "$here/debian/mkroot.sh" "$root" "$repo"
step "root file system (image/debian/mkroot.sh)"
# shellcheck source-path=SCRIPTDIR source=../debian/chroot.sh
source "$here/debian/chroot.sh"
cleanup() {
	root_umount
	if [ "${CLEAN:-0}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- 3. systemd-analyze verify ------------------------------------------------------------------
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

for u in data.mount kiosk-data-init.service kiosk-firstboot.service kiosk.service kiosk-backup.timer \
	kiosk-clock-save.timer systemd-timesyncd.service; do
	compgen -G "$root/etc/systemd/system/*.wants/$u" >/dev/null || die "$u is not enabled"
done
step "systemd-analyze verify on ${#units[@]} units; kiosk units enabled"

# --- 4. first boot and self-test inside, under emulation, in an overlay of the root ---------------
photo=${PHOTO:-}
if [ -z "$photo" ]; then
	py=$repo/.venv/bin/python
	[ -x "$py" ] || py=python3
	faces=$("$py" "$repo/scripts/fetch_faces.py" "$WORK/faces")
	photo=$faces/obama.jpg
fi
shipped=$root
ov=$WORK/selftest-overlay
(root=$ov/merged; root_umount_stale)  # an overlay a killed earlier run left mounted
rm -rf "$ov" && mkdir -p "$ov/upper" "$ov/work" "$ov/merged"
mount -t overlay overlay -o "lowerdir=$shipped,upperdir=$ov/upper,workdir=$ov/work" "$ov/merged"
mounted+=("$ov/merged")
root=$ov/merged
root_mount
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
root_umount
root=$shipped
rm -rf "$ov"
[ -z "$(find "$root/data" -mindepth 1 -print -quit)" ] || die "the shipped root's /data is not empty"
step "kiosk self-test --photo under emulation"

# --- 5. the SD-card image, and checks of the image file -------------------------------------------
img=$WORK/kiosk-ci-pi4-debian.img
if [ "${XZ:-0}" = 1 ]; then
	NAME=check.sh bash "$here/debian/mkimage.sh" "$root" "$img" --xz
	xz -T0 -dc "$img.xz" >"$img"
else
	NAME=check.sh bash "$here/debian/mkimage.sh" "$root" "$img"
fi
sfdisk --dump "$img"
starts=() labels=()
while read -r start; do starts+=("$start"); done < <(sfdisk --dump "$img" | sed -n 's/.*start= *\([0-9]*\).*/\1/p')
[ "${#starts[@]}" = 3 ] || die "the image should have 3 partitions, has ${#starts[@]}"
for s in "${starts[@]}"; do labels+=("$(blkid -p -O $(( s * 512 )) -s TYPE -o value "$img"):$(blkid -p -O $(( s * 512 )) -s LABEL -o value "$img")"); done
[ "${labels[*]}" = "vfat:bootfs ext4:rootfs ext4:KIOSKDATA" ] || die "partitions are '${labels[*]}'"
sfdisk --dump "$img" | grep -q "${img}1 : .*type=c, bootable" || die "partition 1 is not a bootable FAT (type c)"
fat="$img@@$(( starts[0] * 512 ))"
bootfiles=$(mdir -i "$fat" -b ::/ | sed 's|^::/||')
for f in start4.elf fixup4.dat bcm2711-rpi-4-b.dtb config.txt cmdline.txt kiosk.toml.example; do
	grep -qx "$f" <<<"$bootfiles" || die "$f is not on the FAT partition"
done
kernel=$(grep -E '^vmlinuz-' <<<"$bootfiles" | sort -V | tail -n1)
initrd=$(grep -E '^initrd.img-' <<<"$bootfiles" | sort -V | tail -n1)
{ [ -n "$kernel" ] && [ -n "$initrd" ]; } || die "no kernel or initrd on the FAT partition"
config_txt=$(mtype -i "$fat" ::/config.txt)
cmdline_txt=$(mtype -i "$fat" ::/cmdline.txt)
echo "check.sh: cmdline.txt: $cmdline_txt"
for want in arm_64bit=1 "kernel=$kernel" "initramfs $initrd"; do
	grep -qx "$want" <<<"$config_txt" || die "config.txt lacks '$want'"
done
for want in root=LABEL=rootfs overlayroot=tmpfs:recurse=0 console=tty3 consoleblank=0; do
	grep -qw -- "$want" <<<"$cmdline_txt" || die "cmdline.txt lacks $want"
done
! grep -q 'cma=' <<<"$cmdline_txt" || die "cmdline.txt sets cma= (cma=64M can keep a Pi 4 from booting)"
[ "$(grep -oE '(^| )r[ow]( |$)' <<<"$cmdline_txt" | tail -n1 | tr -d ' ')" = ro ] \
	|| die "cmdline.txt does not end with ro: the root below the overlay would be mounted writable"
[ "$(wc -l <<<"$cmdline_txt")" = 1 ] || die "cmdline.txt must be one line"
rootpart="$img?offset=$(( starts[1] * 512 ))"
for want in graphical.target.wants/kiosk.service multi-user.target.wants/kiosk-firstboot.service \
	local-fs.target.wants/data.mount local-fs.target.wants/kiosk-data-init.service; do
	debugfs -R "ls -p /etc/systemd/system/${want%/*}" "$rootpart" 2>/dev/null | cut -d/ -f6 | grep -qx "${want#*/}" \
		|| die "${want#*/} is not enabled (${want%/*}) in the image's root partition"
done
[ "$(debugfs -R "stat /etc/systemd/system/getty@tty1.service" "$rootpart" 2>/dev/null | grep -o 'Fast link dest: "[^"]*"')" \
	= 'Fast link dest: "/dev/null"' ] || die "getty@tty1 is not masked in the image's root partition"
debugfs -R "stat /opt/kiosk/venv/bin/kiosk" "$rootpart" 2>/dev/null | grep -q 'Type: regular' \
	|| die "the image's root partition has no /opt/kiosk/venv/bin/kiosk"
step "image checks: partitions, FAT ($kernel, $initrd, config.txt, cmdline.txt), root units"

# add-data-partition.sh on a small two-partition image, as build.sh does on pi-gen's.
small=$WORK/two.img
rm -f "$small" && truncate -s 64M "$small"
printf 'start=8192, size=16384, type=c\nstart=24576, size=32768, type=83\n' | sfdisk -q "$small"
bash "$here/add-data-partition.sh" "$small" 16
sfdisk --dump "$small" | grep -q "${small}3 : start=       57344" || { sfdisk --dump "$small"; die "add-data-partition: unexpected layout"; }
[ "$(blkid -p -O $((57344 * 512)) -s LABEL -o value "$small")" = KIOSKDATA ] || die "add-data-partition: no KIOSKDATA label"
rm -f "$small"
step "add-data-partition.sh"

# --- 6. a smoke boot on an emulated Raspberry Pi 4 ------------------------------------------------
bash "$here/ci/smoke-raspi4b.sh" "$img"
step "smoke boot under qemu-system-aarch64 -M raspi4b"
echo "check.sh: all image checks passed in $(( $(date +%s) - t0 ))s"
