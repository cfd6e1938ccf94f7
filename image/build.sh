#!/bin/bash
# Build the kiosk's SD-card image: one command on an x86_64 or arm64 Linux host.
#   bash image/build.sh                 BASE=auto: raspios where it can be built, else debian
#   BASE=debian bash image/build.sh     -> image/deploy/kiosk-<version>-pi4-debian.img.xz (+ .sha256)
#   BASE=raspios bash image/build.sh    -> image/deploy/<date>-kiosk-absensi-kiosk.img.xz (+ .sha256)
#
# debian: Debian trixie arm64 from Debian's archive alone (debootstrap, qemu-user, genimage: no
#   Docker, no loop devices, no Raspberry Pi archive) for a Raspberry Pi 4 with a USB webcam and
#   an HDMI/USB touchscreen. Needs: debootstrap qemu-user-static binfmt-support genimage
#   dosfstools mtools e2fsprogs fdisk xz-utils git. About 30-45 min on 2 x86_64 cores.
# raspios: Raspberry Pi OS Lite (pi-gen in Docker) - the image for the Raspberry Pi Camera
#   Module (its drivers and python3-picamera2 exist only in the Raspberry Pi archive). Needs a
#   Docker engine, the Raspberry Pi archive, git, xz, sfdisk, mke2fs, sha256sum; about 1 h.
# Either way the kiosk program is taken from the last commit (`git archive HEAD`): commit first.
# Env: WORK (build dir, default image/.build), PI_GEN_REF, RELEASE (raspios), SUITE (debian),
# DATA_MIB (raspios data partition), XZ_LEVEL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BASE=${BASE:-auto}
WORK=${WORK:-$here/.build}
DEPLOY=$here/deploy
NAME=build.sh
# shellcheck source-path=SCRIPTDIR source=ci/lib.sh
source "$here/ci/lib.sh"

raspios_possible() {
	{ command -v docker >/dev/null && docker info >/dev/null 2>&1; } || { why="no Docker engine"; return 1; }
	curl -fsS -m 10 -o /dev/null http://archive.raspberrypi.com/debian/dists/trixie/Release \
		|| { why="the Raspberry Pi archive cannot be reached"; return 1; }
}
if [ "$BASE" = auto ]; then
	why=
	if raspios_possible; then BASE=raspios; else BASE=debian; echo "build.sh: BASE=debian ($why)"; fi
fi
mkdir -p "$WORK" "$DEPLOY"
app=$WORK/app
rm -rf "$app" && mkdir -p "$app"
git -C "$repo" archive --format=tar HEAD pyproject.toml requirements.txt README.md LICENSE \
	kiosk enroll models server | tar -x -C "$app"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/pyproject.toml")-g$(git -C "$repo" rev-parse --short HEAD)

case "$BASE" in
debian)
	[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
	root=$WORK/debian-rootfs
	bash "$here/debian/mkroot.sh" "$root" "$app"
	printf 'kiosk %s\nbase debian %s\nbuilt %s\n' "$version" "${SUITE:-trixie}" "$(date -u +%FT%TZ)" >"$root/etc/kiosk-image"
	bash "$here/debian/mkimage.sh" "$root" "$DEPLOY/kiosk-$version-pi4-debian.img" --xz
	echo "build.sh: $DEPLOY/kiosk-$version-pi4-debian.img.xz"
	cat "$DEPLOY/kiosk-$version-pi4-debian.img.xz.sha256"
	;;
raspios)
	# pi-gen's release tag for Raspberry Pi OS Trixie arm64 (the arm64 branch); pin a tag, never a branch.
	PI_GEN_REF=${PI_GEN_REF:-2025-12-04-raspios-trixie-arm64}
	RELEASE=${RELEASE:-trixie}
	DATA_MIB=${DATA_MIB:-512}
	for tool in docker git xz sfdisk mke2fs sha256sum; do
		command -v "$tool" >/dev/null || die "$tool is needed"
	done
	if [ "$(uname -m)" != aarch64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		die "this x86_64 host cannot run arm64 programs: install qemu-user-static and binfmt-support"
	fi
	if [ ! -d "$WORK/pi-gen/.git" ]; then
		git clone --quiet https://github.com/RPi-Distro/pi-gen.git "$WORK/pi-gen"
	fi
	git -C "$WORK/pi-gen" fetch --quiet --tags origin
	git -C "$WORK/pi-gen" checkout --quiet "$PI_GEN_REF"
	# The stage, with the application's source inside it.
	stage=$WORK/pi-gen/stage-kiosk
	rm -rf "$stage"
	cp -a "$here/stage-kiosk" "$stage"
	cp -a "$app" "$stage/00-kiosk/files/app"
	# Stages 0-2 make Raspberry Pi OS Lite; only our stage and stage2 are exported.
	touch "$WORK/pi-gen/stage2/SKIP_IMAGES" "$WORK/pi-gen/stage3/SKIP" "$WORK/pi-gen/stage4/SKIP" \
		"$WORK/pi-gen/stage5/SKIP" 2>/dev/null || true
	sed "s/^RELEASE=.*/RELEASE=$RELEASE/" "$here/config" > "$WORK/pi-gen/config"
	(cd "$WORK/pi-gen" && CONTINUE=0 PRESERVE_CONTAINER=0 ./build-docker.sh)
	img=$(find "$WORK/pi-gen/deploy" -name '*kiosk*.img' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)
	"$here/add-data-partition.sh" "$img" "$DATA_MIB"
	out=$DEPLOY/$(basename "$img")
	xz -T0 "-${XZ_LEVEL:-6}" -c "$img" > "$out.xz.tmp" && mv "$out.xz.tmp" "$out.xz"
	(cd "$DEPLOY" && sha256sum "$(basename "$out").xz" > "$(basename "$out").xz.sha256")
	echo "build.sh: $out.xz"
	cat "$out.xz.sha256"
	;;
*) die "BASE must be debian, raspios or auto (is '$BASE')" ;;
esac
