#!/bin/bash
# Smoke boot of the Debian image on an emulated Raspberry Pi 4 (qemu-system-aarch64 -M raspi4b,
# QEMU 9 or newer): the kernel, initrd and bcm2711-rpi-4-b.dtb from the image's own FAT partition,
# the image as the SD card, the image's own cmdline.txt. Passes when the kernel finds the SD card,
# the initramfs sets up overlayroot on the root partition (by label) and systemd mounts the data
# partition (by label).
#   smoke-raspi4b.sh IMAGE.img
# Not checked here (QEMU does not run the firmware): start4.elf reading config.txt. The device
# tree copy gets the nodes QEMU does not model disabled (the HDMI block: its clock, interrupt
# controller, HDMI and DDC i2c, which abort on access; the firmware GPIO expander and the
# regulators and Wi-Fi power sequence on it, which the firmware mailbox cannot drive) - only in
# the copy. QEMU connects its SD card to the Arasan controller (mmc@7e300000, the Wi-Fi's SDIO
# bus on a real Pi 4) rather than to emmc2, so the card is mmcblk0 here and mmcblk1 on a Pi 4:
# the image mounts its partitions by label, which works on both.
# Env: SMOKE_TIMEOUT (seconds per boot, default 900), SMOKE_STALL (seconds without serial output
# that count as a stalled emulator, default 120), SMOKE_TRIES (boots before failing, default 3),
# SMOKE_DIR (work dir, default /tmp/kiosk-smoke). A stall is retried; a panic or emergency mode is not.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
img=${1:?usage: smoke-raspi4b.sh IMAGE.img}
S=${SMOKE_DIR:-/tmp/kiosk-smoke}
TIMEOUT=${SMOKE_TIMEOUT:-900}
STALL=${SMOKE_STALL:-120}
TRIES=${SMOKE_TRIES:-3}
NAME=smoke-raspi4b.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/ci/lib.sh"
for tool in qemu-system-aarch64 fdtput mcopy sfdisk; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install qemu-system-arm device-tree-compiler mtools fdisk; QEMU 9+ from bookworm-backports on Debian 12)"
done
qemu-system-aarch64 -M help | grep -q '^raspi4b ' || die "this QEMU has no raspi4b machine ($(qemu-system-aarch64 --version | head -n1)); QEMU 9 or newer is needed"
rm -rf "$S" && mkdir -p "$S"

boot_start=$(sfdisk --dump "$img" | sed -n "s|^$img""1 : start= *\([0-9]*\).*|\1|p")
[ -n "$boot_start" ] || die "no first partition in $img"
fat=("$img@@$((boot_start * 512))")
files=$(mdir -i "${fat[0]}" -b ::/ | sed 's|^::/||')
kernel=$(grep -E '^vmlinuz-' <<<"$files" | sort -V | tail -n1)
initrd=$(grep -E '^initrd.img-' <<<"$files" | sort -V | tail -n1)
{ [ -n "$kernel" ] && [ -n "$initrd" ]; } || die "no kernel or initrd on the FAT partition"
for f in "$kernel" "$initrd" bcm2711-rpi-4-b.dtb cmdline.txt; do
	mcopy -n -i "${fat[0]}" "::/$f" "$S/$f" || die "cannot read $f from the FAT partition"
done
dtb=$S/bcm2711-rpi-4-b.dtb
for node in /soc/clock@7ef00000 /soc/interrupt-controller@7ef00100 /soc/hdmi@7ef00700 /soc/i2c@7ef04500 \
	/soc/hdmi@7ef05700 /soc/i2c@7ef09500 /soc/firmware/gpio /regulator-sd-io-1v8 /regulator-sd-vcc /wifi-pwrseq; do
	fdtput -t s "$dtb" "$node" status disabled || die "the device tree has no $node"
done
for prop in vqmmc-supply vmmc-supply; do
	fdtput -d "$dtb" /emmc2bus/mmc@7e340000 "$prop" || die "the device tree's SD controller has no $prop"
done
fdtput -d "$dtb" /soc/mmc@7e300000 mmc-pwrseq || die "the device tree's Arasan SD controller has no mmc-pwrseq"
# The image's command line, with the console moved to the PL011 UART QEMU connects, and every
# message printed (the image's `quiet loglevel=3` hides the mounts and overlayroot's report).
cmdline=$(head -n1 "$S/cmdline.txt")
echo "$NAME: the image's cmdline.txt: $cmdline"
cmdline="$(sed -E 's/(^| )(console=[^ ]*|quiet)( |$)/ /g; s/(^| )(console=[^ ]*|quiet)( |$)/ /g' <<<"$cmdline") console=ttyAMA0,115200 ignore_loglevel"
# QEMU wants an SD card whose size is a power of two: a sparse copy, made longer (anew for each
# boot, so a retry starts from the image as shipped).
sd=$S/sd.img
size=$(stat -c %s "$img") pow=1
while [ "$pow" -lt "$size" ]; do pow=$((pow * 2)); done
sd_card() { cp --sparse=always "$img" "$sd" && truncate -s "$pow" "$sd"; }
step "kernel $kernel, initrd $initrd, patched device tree, SD card $((pow >> 20)) MiB"

log=$S/serial.log
declare -A want=(
	[sd]='mmcblk[0-9]+: p1 p2 p3'
	[root]='EXT4-fs \(mmcblk[0-9]+p2\): mounted filesystem'
	[overlayroot]='configuring overlayroot with driver=overlay mode=tmpfs'
	[data]='EXT4-fs \(mmcblk[0-9]+p3\): mounted filesystem'
)
qpid=
trap '[ -z "$qpid" ] || kill -KILL "$qpid" 2>/dev/null || true' EXIT
# One boot. Returns 0 when all of `want` were seen; dies on a failure the image shows (a panic,
# emergency mode, QEMU ending); returns 1 when the guest stalled - no serial output for STALL
# seconds (a normal boot's longest quiet spell is about 20 s) - or ran past TIMEOUT, which is
# what QEMU's emulation does now and then (a CI run once saw the guest stop printing at 87 s of
# guest time for 20 minutes; the same image booted in 164 s on the next try).
boot_once() {
	sd_card || die "cannot copy $img to $sd"
	: >"$log"
	qemu-system-aarch64 -M raspi4b -nodefaults -no-user-config -display none -monitor none \
		-serial "file:$log" -no-reboot -drive "file=$sd,if=sd,format=raw" \
		-kernel "$S/$kernel" -initrd "$S/$initrd" -dtb "$dtb" -append "$cmdline" >"$S/qemu.log" 2>&1 &
	qpid=$!
	local t_start size last_size=-1 last_change k
	t_start=$(date +%s)
	last_change=$t_start
	declare -A seen=()
	while :; do
		for k in "${!want[@]}"; do
			if [ -z "${seen[$k]:-}" ] && grep -aqE "${want[$k]}" "$log"; then
				seen[$k]=$(( $(date +%s) - t_start ))
				echo "$NAME: [${seen[$k]}s] $k: $(grep -aoE "${want[$k]}" "$log" | head -n1 | tr -d '\r')"
			fi
		done
		[ "${#seen[@]}" -lt "${#want[@]}" ] || break
		if grep -aqE 'Kernel panic|ALERT! |Gave up waiting|emergency mode|Internal error' "$log"; then
			tr -d '\r' <"$log" | tail -n 40 >&2
			die "the emulated Pi 4 did not boot (serial log: $log)"
		fi
		kill -0 "$qpid" 2>/dev/null || { tail -n 40 "$log" >&2; cat "$S/qemu.log" >&2; die "qemu ended"; }
		size=$(stat -c %s "$log")
		[ "$size" = "$last_size" ] || { last_size=$size; last_change=$(date +%s); }
		if [ $(( $(date +%s) - last_change )) -ge "$STALL" ] || [ $(( $(date +%s) - t_start )) -ge "$TIMEOUT" ]; then
			tr -d '\r' <"$log" | tail -n 20 >&2
			echo "$NAME: no boot: $(( $(date +%s) - last_change ))s without serial output, $(( $(date +%s) - t_start ))s in all; still waiting for: $(
				for k in "${!want[@]}"; do [ -n "${seen[$k]:-}" ] || printf '%s ' "$k"; done)" >&2
			kill -KILL "$qpid" 2>/dev/null || true
			wait "$qpid" 2>/dev/null || true
			return 1
		fi
		sleep 3
	done
	kill -KILL "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
}
try=1
until boot_once; do
	[ "$try" -lt "$TRIES" ] || die "no boot in $TRIES tries (serial log of the last: $log)"
	try=$((try + 1))
	echo "$NAME: booting again (try $try of $TRIES)"
done
rm -f "$sd"
step "raspi4b: SD card, overlayroot, root and data partitions mounted"
