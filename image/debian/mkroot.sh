#!/bin/bash
# The kiosk's root file system on Debian alone (no Raspberry Pi archive, no Docker, no loop
# devices): Debian arm64 + the kiosk stage (image/stage-kiosk) + what a Raspberry Pi 4 needs to
# boot (image/debian/packages), configured the way Debian's own raspi images are.
#   mkroot.sh ROOT APP_DIR
# ROOT: the root file system to make (a finished debootstrap there is reused; the stage is always
# applied again). APP_DIR: the application source to install (pyproject.toml, kiosk/, ...).
# Env: SUITE (trixie), MIRROR (the host's Debian mirror), SECURITY_MIRROR. Run as root; on an
# x86_64 host needs qemu-user-static and binfmt-support (arm64 programs run under qemu-user).
# Used by image/build.sh (BASE=debian) and image/ci/check.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:?usage: mkroot.sh ROOT APP_DIR}
app_src=${2:?usage: mkroot.sh ROOT APP_DIR}
SUITE=${SUITE:-trixie}
NAME=${NAME:-mkroot.sh}
# shellcheck source-path=SCRIPTDIR source=../ci/lib.sh
source "$here/ci/lib.sh"
# shellcheck source-path=SCRIPTDIR source=chroot.sh
source "$here/debian/chroot.sh"
MIRROR=${MIRROR:-$(host_mirror)}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
stage=$here/stage-kiosk/00-kiosk
logs=$(dirname "$root")
components=main,non-free-firmware

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
[ -f "$app_src/pyproject.toml" ] || die "$app_src is not the application's source (no pyproject.toml)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
binfmt_arm64
root_umount_stale
trap root_umount EXIT
rm -f "$root.done"

# --- Debian arm64 -------------------------------------------------------------------------------
if [ ! -e "$root.debootstrap-done" ]; then
	rm -rf "$root"
	mkdir -p "$root"
	# One run on the host: debootstrap's own work (resolving, unpacking) runs natively and only
	# the package scripts run under qemu-user through binfmt_misc. (--foreign plus
	# `chroot ROOT /debootstrap/debootstrap --second-stage` runs debootstrap's perl under
	# emulation: still unpacking after 8 minutes on 2 shared cores.)
	debootstrap --arch=arm64 --variant=minbase --components="$components" \
		--include=systemd,systemd-sysv,systemd-timesyncd,ca-certificates,python3,python3-venv,python3-pip,udev \
		"$SUITE" "$root" "$MIRROR" >"$logs/debootstrap.log" 2>&1 || die "debootstrap $SUITE arm64 (see $logs/debootstrap.log)"
	touch "$root.debootstrap-done"
	step "debootstrap $SUITE arm64 ($MIRROR)"
else
	step "reused $root"
fi
root_mount

cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE ${components//,/ }
deb $MIRROR $SUITE-updates ${components//,/ }
deb $SECURITY_MIRROR $SUITE-security ${components//,/ }
EOF
in_root apt-get update -qq >"$logs/apt.log" 2>&1 || die "apt-get update in the chroot (see $logs/apt.log)"

# --- the stage's packages, and the Pi's boot packages ----------------------------------------------
# The kernel command-line options are read by raspi-firmware's hook when the kernel is installed:
# 01-run.sh writes them; do it before the packages (it is run again below, with the app).
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
mapfile -t pi_boot < <(sed 's/#.*//' "$here/debian/packages" | tr -s ' \t' '\n' | grep .)
install -d -m 755 "$root/etc/default" "$root/boot/firmware"
sed -n 's/^kiosk_cmdline="\(.*\)"$/\1/p' "$stage/01-run.sh" >"$root/etc/default/raspi-extra-cmdline"
[ -s "$root/etc/default/raspi-extra-cmdline" ] || die "no kiosk_cmdline in $stage/01-run.sh"
in_root apt-get -y -qq upgrade >>"$logs/apt.log" 2>&1 || die "apt-get upgrade (see $logs/apt.log)"
in_root apt-get install -y -qq --no-install-recommends "${install[@]}" "${pi_boot[@]}" >>"$logs/apt.log" 2>&1 \
	|| { tail -n 20 "$logs/apt.log" >&2; die "apt-get install (see $logs/apt.log)"; }
echo "$NAME: installed from $SUITE: ${install[*]} ${pi_boot[*]}"
echo "$NAME: SKIPPED (only in the Raspberry Pi archive): ${skipped[*]:-none}"
step "packages (the stage's 00-packages and image/debian/packages)"

# --- the stage: files (on the host), then the application and services (in the root) -------------
work_stage=$(mktemp -d)
cp -a "$stage" "$work_stage/00-kiosk"
mkdir -p "$work_stage/00-kiosk/files/app"
(cd "$app_src" && tar -c --exclude=__pycache__ --exclude='*.qm' --exclude='*.pyc' \
	pyproject.toml requirements.txt README.md LICENSE kiosk enroll models server) | tar -x -C "$work_stage/00-kiosk/files/app"
ROOTFS_DIR=$root bash "$work_stage/00-kiosk/01-run.sh"
rm -rf "$work_stage"
step "01-run.sh (files into the root file system)"
# pi-gen runs NN-run-chroot.sh as `on_chroot < script`; so does this.
in_root /bin/bash -e < "$stage/02-run-chroot.sh" >"$logs/chroot.log" 2>&1 \
	|| { tail -n 30 "$logs/chroot.log" >&2; die "02-run-chroot.sh (see $logs/chroot.log)"; }
tail -n 3 "$logs/chroot.log"
step "02-run-chroot.sh under qemu-user (venv, pinned wheels, services)"

# --- booting a Raspberry Pi 4 ---------------------------------------------------------------------
# raspi-firmware's settings (a conffile): the root by label (the image's partition UUIDs are not
# known here), no `cma=64M` (its hook adds it when it does not see a Pi 4 - as in a chroot - and
# it can keep a Pi 4 from booting; CMA=0 leaves the size to the device tree), the serial console
# on the GPIO UART and boot messages on tty3, away from the kiosk's screen (tty1).
conf=$root/etc/default/raspi-firmware
[ -f "$conf" ] || die "raspi-firmware did not install $conf"
sed -i -e 's|^#\?ROOTPART=.*|ROOTPART=LABEL=rootfs|' -e 's|^#\?CMA=.*|CMA=0|' \
	-e 's|^#\?CONSOLES=.*|CONSOLES="ttyS1,115200 tty3"|' "$conf"
for want in 'ROOTPART=LABEL=rootfs' 'CMA=0' 'CONSOLES="ttyS1,115200 tty3"'; do
	grep -qx "$want" "$conf" || die "could not set $want in $conf"
done
cat >"$root/etc/fstab" <<EOF
# The partitions by label (image/genimage.cfg): the same on every card flashed from the image.
LABEL=rootfs   /               ext4  defaults,noatime  0 1
LABEL=bootfs   /boot/firmware  vfat  defaults          0 2
# /data (LABEL=KIOSKDATA) is data.mount, a unit of the kiosk stage.
EOF
echo kiosk >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# The hook writes config.txt and cmdline.txt and copies kernel, initrd and device trees.
in_root env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware >>"$logs/apt.log" 2>&1 \
	|| die "raspi-firmware's kernel hook (see $logs/apt.log)"
step "raspi-firmware: $(head -n1 "$root/boot/firmware/cmdline.txt")"

# --- what an image must not carry ---------------------------------------------------------------
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
# One machine id per image build (the root is read-only: an empty one would make every boot a
# "first boot" and run systemd's presets again).
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
in_root systemd-machine-id-setup >/dev/null
root_umount
rm -f "$root/etc/resolv.conf"
: >"$root/etc/resolv.conf"
touch "$root.done"
step "cleaned (apt lists and caches, resolv.conf; new machine id)"
