#!/bin/bash
# Build the kiosk's SD-card image: one command on an x86_64 or arm64 Linux host with Docker.
#   bash image/build.sh            -> image/deploy/kiosk-absensi-<date>.img.xz and .img.xz.sha256
# Needs: docker (the pi-gen container runs privileged: it uses loop devices), git, xz, sfdisk,
# mke2fs, sha256sum, and on x86_64 the kernel's binfmt_misc with qemu-aarch64 (F flag), e.g.
# `apt-get install qemu-user-static binfmt-support`. Takes about 1 h on x86_64 (emulated), less
# on an arm64 host. Env: PI_GEN_REF (pi-gen tag), RELEASE=bookworm (see README), WORK (build dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# pi-gen's release tag for Raspberry Pi OS Trixie arm64 (the arm64 branch); pin a tag, never a branch.
PI_GEN_REF=${PI_GEN_REF:-2025-12-04-raspios-trixie-arm64}
RELEASE=${RELEASE:-trixie}
WORK=${WORK:-$here/.build}
DEPLOY=$here/deploy
DATA_MIB=${DATA_MIB:-512}

for tool in docker git xz sfdisk mke2fs sha256sum; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool is needed" >&2; exit 1; }
done
if [ "$(uname -m)" != aarch64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	echo "build.sh: this x86_64 host cannot run arm64 programs: install qemu-user-static and" \
		"binfmt-support (or run: docker run --privileged --rm tonistiigi/binfmt --install arm64)" >&2
	exit 1
fi

mkdir -p "$WORK" "$DEPLOY"
if [ ! -d "$WORK/pi-gen/.git" ]; then
	git clone --quiet https://github.com/RPi-Distro/pi-gen.git "$WORK/pi-gen"
fi
git -C "$WORK/pi-gen" fetch --quiet --tags origin
git -C "$WORK/pi-gen" checkout --quiet "$PI_GEN_REF"

# The stage, with the application's source (what is committed, nothing else) inside it.
stage=$WORK/pi-gen/stage-kiosk
rm -rf "$stage"
cp -a "$here/stage-kiosk" "$stage"
app=$stage/00-kiosk/files/app
mkdir -p "$app"
git -C "$repo" archive --format=tar HEAD pyproject.toml requirements.txt README.md LICENSE \
	kiosk enroll models server | tar -x -C "$app"
# Stages 0-2 make Raspberry Pi OS Lite; only our stage and stage2 are exported.
touch "$WORK/pi-gen/stage2/SKIP_IMAGES" "$WORK/pi-gen/stage3/SKIP" "$WORK/pi-gen/stage4/SKIP" \
	"$WORK/pi-gen/stage5/SKIP" 2>/dev/null || true
sed "s/^RELEASE=.*/RELEASE=$RELEASE/" "$here/config" > "$WORK/pi-gen/config"

(cd "$WORK/pi-gen" && CONTINUE=0 PRESERVE_CONTAINER=0 ./build-docker.sh)

img=$(find "$WORK/pi-gen/deploy" -name '*kiosk*.img' -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)
"$here/add-data-partition.sh" "$img" "$DATA_MIB"
out=$DEPLOY/$(basename "$img")
xz -T0 -6 -c "$img" > "$out.xz.tmp" && mv "$out.xz.tmp" "$out.xz"
(cd "$DEPLOY" && sha256sum "$(basename "$out").xz" > "$(basename "$out").xz.sha256")
echo "build.sh: $out.xz"
cat "$out.xz.sha256"
