#!/bin/bash
# The SD-card image from a finished root file system (image/debian/mkroot.sh), with genimage:
# no loop devices, no mounts, no Docker.
#   mkimage.sh ROOT OUT.img [--xz]
# writes OUT.img (partitions by label, image/genimage.cfg); with --xz also OUT.img.xz and
# OUT.img.xz.sha256 (and removes OUT.img). Env: BOOT_SIZE (256M), DATA_SIZE (512M: grown to
# the card's end at first boot), ROOT_FREE_MB (free space left in the read-only root, 256),
# XZ_LEVEL (6). Run as root (the root file system's files are owned by several users).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:?usage: mkimage.sh ROOT OUT.img [--xz]}
out=${2:?usage: mkimage.sh ROOT OUT.img [--xz]}
xz=${3:-}
NAME=${NAME:-mkimage.sh}
# shellcheck source-path=SCRIPTDIR source=../ci/lib.sh
source "$here/ci/lib.sh"
[ -e "$root.done" ] || die "$root is not a finished root file system (image/debian/mkroot.sh)"
for tool in genimage mkfs.vfat mcopy mke2fs sfdisk; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install genimage dosfstools mtools e2fsprogs fdisk)"
done
if grep -qE " $root/(boot/firmware|data|proc|dev|sys)" /proc/mounts; then
	die "something is still mounted under $root"
fi

export BOOT_SIZE=${BOOT_SIZE:-256M}
export DATA_SIZE=${DATA_SIZE:-512M}
# The root partition: what is in it (without /boot/firmware and /data, which have their own
# partitions) plus room for ext4's own tables and a little slack, in whole 64 MiB steps.
used_mb=$(du -s -m --exclude=./boot/firmware --exclude=./data -x "$root" | cut -f1)
root_mb=$(( (used_mb * 110 / 100 + ${ROOT_FREE_MB:-256} + 63) / 64 * 64 ))
export ROOT_SIZE=${root_mb}M
firmware_mb=$(du -s -m "$root/boot/firmware" | cut -f1)
echo "$NAME: root $used_mb MiB used -> partition $ROOT_SIZE; boot files $firmware_mb MiB -> partition $BOOT_SIZE"

gi=$(mktemp -d "${TMPDIR:-/tmp}/genimage.XXXXXX")
mkdir -p "$gi/in" "$gi/out" "$gi/tmp"
genimage --config "$here/genimage.cfg" --rootpath "$root" --inputpath "$gi/in" \
	--outputpath "$gi/out" --tmppath "$gi/tmp" >"$gi.log" 2>&1 || {
	tail -n 30 "$gi.log" >&2; rm -rf "$gi"; die "genimage (see $gi.log)"; }
mkdir -p "$(dirname "$out")"
mv "$gi/out/kiosk.img" "$out"
rm -rf "$gi" "$gi.log"
step "image $out ($(du -h --apparent-size "$out" | cut -f1), $(du -h "$out" | cut -f1) on disk)"

if [ "$xz" = --xz ]; then
	xz -T0 "-${XZ_LEVEL:-6}" -c "$out" >"$out.xz.tmp"
	mv "$out.xz.tmp" "$out.xz"
	rm -f "$out"
	(cd "$(dirname "$out")" && sha256sum "$(basename "$out").xz" >"$(basename "$out").xz.sha256")
	step "compressed: $out.xz ($(du -h "$out.xz" | cut -f1)), $(cut -c1-16 "$out.xz.sha256")..."
fi
