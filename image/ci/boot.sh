#!/bin/bash
# Boot the kiosk system under full-system emulation and check, from outside, what a technician
# relies on (issue 7). Run after image/ci/check.sh, as root:
#   WORK=/tmp/kiosk-image-ci bash image/ci/boot.sh
#
# 1. A copy of check.sh's root file system ($WORK/rootfs, the Debian image's root, which stays
#    untouched) gets a real /boot/firmware/kiosk.toml with a fake token and Wi-Fi password, an
#    empty /data (as on a freshly flashed card), and the TEST-ONLY report unit from
#    image/ci/boottest/ (plus serial-getty@ttyAMA0 masked, so no login prompt interleaves with it).
#    Kernel, initramfs (with overlayroot) and the fstab by label are the image's own.
# 2. image/debian/mkimage.sh assembles the 3-partition disk (image/genimage.cfg); the disk file is
#    then made 2 GiB longer (sparse) so that kiosk-data-init has something to grow (and journald
#    room to keep earlier boots: its SystemKeepFree=500M would vacuum them on a 512 MiB data
#    partition).
# 3. qemu-system-aarch64 -M virt -cpu max (TCG) with virtio disk, virtio-gpu (a DRM device for
#    cage), virtio keyboard/tablet, no network, the kernel and initrd passed directly, and the
#    image's own cmdline.txt (its consoles replaced by ttyAMA0, so failures show on the serial
#    log; root=LABEL=rootfs as on the card).
#    Boot 1: first boot; report; a database backup; clean power-off.
#    Boot 2: report; SQLite writes in flight; hard power cut (SIGKILL of qemu).
#    Boot 3: the emulated RTC set back to 2020 (a Pi 4 after a power cut without network);
#            report; the database damaged on purpose and the kiosk restarted (kiosk-db-guard must
#            restore the backup); clean power-off.
#    After each boot the KIOSKDATA and rootfs partitions are read from the disk file (dd at the
#    sfdisk offset, e2fsck on that copy, debugfs; FAT via mtools): no loop devices, no mounts.
# Env: WORK (default /tmp/kiosk-image-ci), BOOTDIR (default /tmp/kiosk-boot), SMP (2), MEM (2048),
# BOOT_TIMEOUT (seconds to wait for each boot's report, default 2400).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/kiosk-image-ci}
B=${BOOTDIR:-/tmp/kiosk-boot}
SMP=${SMP:-2}
MEM=${MEM:-2048}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-2400}
src=$WORK/rootfs
root=$B/rootfs
TOKEN=boottest-token-0123456789abcdef
WIFI_PASSWORD=boottest-wifi-password
NAME=boot.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/ci/lib.sh"
failures=()
ok() { echo "boot.sh: ok   $*"; }
fail() { echo "boot.sh: CHECK FAILED: $*" >&2; failures+=("$*"); }

[ "$(id -u)" = 0 ] || die "run as root (chroot for the kernel package)"
if [ ! -e "$src.done" ] || [ ! -x "$src/opt/kiosk/venv/bin/kiosk" ]; then
	die "$src is not a finished root file system: run image/ci/check.sh first (same WORK)"
fi
if findmnt -R -n -o TARGET "$src" >/dev/null 2>&1 || grep -q " $src/" /proc/mounts; then
	die "something is mounted under $src (is check.sh still running?)"
fi

# --- 0. host tools ------------------------------------------------------------------------------
need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v genimage >/dev/null || need+=(genimage)
command -v mtype >/dev/null || need+=(mtools)
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
command -v debugfs >/dev/null || need+=(e2fsprogs)
command -v sfdisk >/dev/null || need+=(fdisk)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >"$B.apt.log" 2>&1 \
		|| die "apt-get install ${need[*]} (see $B.apt.log)"
fi
mkdir -p "$B"
step "host tools ($(qemu-system-aarch64 --version | head -n1))"

# --- 1. the boot copy of the root file system -----------------------------------------------------
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill -KILL "$qpid" 2>/dev/null || true; fi
}
trap cleanup EXIT
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

rm -rf "$root" "$root.done"
cp -a "$src" "$root"
step "copy of $src"
kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)
[ -n "$kernel" ] || die "no kernel in $root/boot"
initrd=$root/boot/initrd.img-${kernel##*/vmlinuz-}
[ -f "$initrd" ] || die "no initrd for $kernel"
# The initramfs must carry overlayroot and what its script needs.
initrd_list=$(in_root lsinitramfs "/boot/${initrd##*/}" 2>/dev/null)
for f in scripts/init-bottom/overlayroot overlay.ko; do
	grep -q "$f" <<<"$initrd_list" || die "the initramfs lacks $f"
done
cp "$kernel" "$B/vmlinuz"; cp "$initrd" "$B/initrd.img"

# The technician's file, as check.sh writes it (a fake token and Wi-Fi password).
sed -e "s/PASTE-THE-DEVICE-TOKEN-HERE/$TOKEN/" -e 's/^ssid = ""/ssid = "Kantor CI"/' \
	-e "s/^password = \"\"  /password = \"$WIFI_PASSWORD\"/" \
	"$root/boot/firmware/kiosk.toml.example" >"$root/boot/firmware/kiosk.toml"
if ! grep -q "$TOKEN" "$root/boot/firmware/kiosk.toml" || ! grep -q "$WIFI_PASSWORD" "$root/boot/firmware/kiosk.toml"; then
	die "could not write the test kiosk.toml"
fi
# A freshly flashed card: the data partition is empty (folders are made at boot).
find "$root/data" -mindepth 1 -delete
rm -rf "$root/run/kiosk" "$root/var/lib/kiosk/selftest.jpg"
# The test-only report unit.
install -d "$root/usr/local/lib/kiosk-boottest"
install -m 755 "$here/ci/boottest/report.sh" "$root/usr/local/lib/kiosk-boottest/report.sh"
install -m 644 "$here/ci/boottest/kiosk-boottest.service" "$root/etc/systemd/system/"
ln -sf /etc/systemd/system/kiosk-boottest.service "$root/etc/systemd/system/multi-user.target.wants/kiosk-boottest.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyAMA0.service"
# The kernel command line of the image (raspi-firmware's hook wrote it), on qemu's virt machine.
cmdline=$(head -n1 "$root/boot/firmware/cmdline.txt")
cmdline="$(sed -E 's/(^| )console=[^ ]*//g' <<<"$cmdline") console=ttyAMA0,115200"
grep -q 'root=LABEL=rootfs' <<<"$cmdline" || die "cmdline.txt does not mount the root by label: $cmdline"
grep -q 'overlayroot=tmpfs:recurse=0' <<<"$cmdline" || die "cmdline.txt lacks overlayroot: $cmdline"
echo "boot.sh: kernel command line: $cmdline"
step "test files in the copy (kiosk.toml, report unit)"

# --- 2. the disk ---------------------------------------------------------------------------------
img=$B/kiosk-boot.img
touch "$root.done"
NAME=boot.sh bash "$here/debian/mkimage.sh" "$root" "$img"
truncate -s +2G "$img"  # sparse; journald keeps SystemKeepFree=500M free on /data
part() { sfdisk --dump "$img" | sed -n "s|^$img$1 : start= *\([0-9]*\), size= *\([0-9]*\).*|\1 \2|p"; }
read -r _ data_size0 < <(part 3)
step "disk $img ($(du -h --apparent-size "$img" | cut -f1), data partition $((data_size0 / 2048)) MiB)"

# Reading the disk file: a partition copied out with dd, its journal replayed on the copy.
extract() { # partition-number file
	local s n
	read -r s n < <(part "$1")
	dd if="$img" of="$2" bs=4M iflag=skip_bytes,count_bytes skip=$((s * 512)) count=$((n * 512)) status=none
	e2fsck -fy "$2" >"$2.fsck" 2>&1 || [ $? -le 1 ] || { cat "$2.fsck" >&2; fail "e2fsck of partition $1 copy"; }
}
dump() { # partition-file path-inside local-file; a database's -wal comes along (it may hold most pages)
	rm -f "$3-wal" "$3-shm"
	debugfs -R "dump -p $2-wal $3-wal" "$1" >/dev/null 2>&1 || true
	[ -s "$3-wal" ] || rm -f "$3-wal"
	debugfs -R "dump -p $2 $3" "$1" >/dev/null 2>&1 && [ -f "$3" ]
}
db_ok() { python3 - "$1" <<'EOF'
import sqlite3, sys
try:
    c = sqlite3.connect(sys.argv[1])  # a copy: it may replay the copied -wal
    print(c.execute("PRAGMA integrity_check").fetchone()[0])
except sqlite3.DatabaseError as e:
    print(f"error: {e}")
EOF
}

# --- 3. boots -------------------------------------------------------------------------------------
cpu=max
if qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -display none -nodefaults -S -no-user-config \
	-monitor none -serial none -daemonize -pidfile "$B/probe.pid" >/dev/null 2>&1; then
	kill "$(cat "$B/probe.pid")" 2>/dev/null || true
	cpu=max,pauth-impdef=on  # the same CPU, a cheaper pointer-authentication hash under TCG
fi
rm -f "$B/probe.pid"
start_vm() { # boot-number action rtc-base
	local n=$1
	log=$B/serial-$n.log
	: >"$log"
	qemu-system-aarch64 -M virt -cpu "$cpu" -smp "$SMP" -m "$MEM" -nodefaults -no-user-config \
		-display none -monitor none -serial "file:$log" -no-reboot \
		-device virtio-gpu-pci -device virtio-keyboard-pci -device virtio-tablet-pci \
		-drive "if=none,id=sd,file=$img,format=raw,cache=writeback" -device virtio-blk-pci,drive=sd \
		-nic none -rtc "base=$3,clock=host" \
		-kernel "$B/vmlinuz" -initrd "$B/initrd.img" \
		-append "$cmdline kiosktest.boot=$n kiosktest.action=$2" >"$B/qemu-$n.log" 2>&1 &
	qpid=$!
	boot_t0=$(date +%s)
}
wait_for() { # pattern: 0 seen, 1 qemu ended, 2 timeout, 3 boot failure on the console
	local limit=$(( boot_t0 + BOOT_TIMEOUT ))
	while :; do
		if grep -aq -- "$1" "$log"; then return 0; fi
		if grep -aqE 'Kernel panic|You are in emergency mode|Give root password|Cannot open access to console|ALERT! ' "$log"; then
			return 3
		fi
		kill -0 "$qpid" 2>/dev/null || { grep -aq -- "$1" "$log" && return 0; return 1; }
		[ "$(date +%s)" -lt "$limit" ] || return 2
		sleep 5
	done
}
wait_exit() { # seconds
	local i
	for (( i=0; i<$1; i+=2 )); do kill -0 "$qpid" 2>/dev/null || { wait "$qpid" 2>/dev/null || true; qpid=; return 0; }; sleep 2; done
	return 1
}
boot_failed() {
	echo "boot.sh: --- last 60 lines of $log ---" >&2
	tr -d '\r' <"$log" | tail -n 60 >&2
	die "$1"
}
kv() { { grep -aoE "BT$1\| KV $2=.*" "$B/serial-$1.log" || true; } | tail -n1 | sed 's/^[^=]*=//' | tr -d '\r'; }
expect() { # boot key expected-value (exact)
	local v; v=$(kv "$1" "$2")
	if [ "$v" = "$3" ]; then ok "boot $1: $2=$v"; else fail "boot $1: $2 is '$v', expected '$3'"; fi
}
expect_re() { # boot key regex
	local v; v=$(kv "$1" "$2")
	if [[ $v =~ $3 ]]; then ok "boot $1: $2=$v"; else fail "boot $1: $2 is '$v', expected /$3/"; fi
}
common_checks() { # boot-number
	local n=$1
	expect "$n" kiosk_active active
	expect "$n" kiosk_active_after_90s active
	expect "$n" kiosk_nrestarts 0
	expect "$n" journal_watchdog_timeouts 0
	expect "$n" cage_running yes
	expect "$n" kiosk_app_running yes
	expect_re "$n" seatd_client '^[1-9]'
	expect_re "$n" wayland_socket "^kiosk 700,kiosk [0-7]+\$"
	expect "$n" cage_tty /dev/tty1
	expect "$n" system_running running
	expect "$n" failed_units ""
	expect "$n" state_kiosk.service active/running/success
	expect "$n" state_kiosk-firstboot.service active/exited/success
	expect "$n" state_kiosk-data-init.service active/exited/success
	expect "$n" state_data.mount active/mounted/success
	expect "$n" state_var-lib-systemd-timesync.mount active/mounted/success
	expect "$n" state_var-log-journal.mount active/mounted/success
	expect "$n" state_boot-firmware.mount active/mounted/success
	expect "$n" state_systemd-timesyncd.service active/running/success
	expect "$n" state_systemd-remount-fs.service active/exited/success
	expect "$n" state_seatd.service active/running/success
	expect "$n" getty_tty1 masked/inactive
	expect "$n" root_fstype overlay
	expect "$n" root_lower_ro ro
	expect_re "$n" data_fstype '^ext4:/dev/vda3$'
	expect_re "$n" data_options '^rw,nosuid,nodev,noexec,noatime'
	expect "$n" timesync_bind "/dev/vda3[/timesync]"
	expect "$n" journal_bind "/dev/vda3[/journal]"
	expect "$n" earlier_canaries ""
	expect "$n" canary_written "written at boot $n"
	expect_re "$n" canary_in_tmpfs_overlay "kiosk-boottest-canary-$n\$"
	expect "$n" data_writable yes
	expect "$n" token_file "kiosk:kiosk 600"
	expect "$n" secret_on_bootfs 0
	expect "$n" journal_secret_hits 0
	expect "$n" config_error ""
	expect_re "$n" db_exists "^kiosk:kiosk "
	expect_re "$n" db_integrity '^ok tables=[1-9]'
	expect_re "$n" clock_file '^systemd-timesync [0-9]+$'
}
timing() { echo "boot.sh: boot $1: $2 after $(( $(date +%s) - boot_t0 ))s"; }

# Boot 1: the first boot of a freshly flashed card.
start_vm 1 poweroff "$(date -u +%Y-%m-%dT%H:%M:%S)"
wait_for 'BOOTTEST-START' || boot_failed "boot 1: the report unit never started (rc $?)"
timing 1 "report unit started (uptime $(grep -aoE 'BT1\| BOOTTEST-START.*' "$log" | grep -oE 'uptime=[0-9.]+s'))"
wait_for 'KV kiosk_active=' || boot_failed "boot 1: no kiosk state reported (rc $?)"
timing 1 "kiosk.service $(kv 1 kiosk_active) at uptime $(kv 1 kiosk_active_at_uptime)s"
wait_for 'BOOTTEST-END' || boot_failed "boot 1: the report did not finish (rc $?)"
timing 1 "report finished"
wait_exit 300 || { kill -KILL "$qpid"; qpid=; fail "boot 1: no power-off within 300 s"; }
timing 1 "powered off"
common_checks 1
expect 1 journal_boots 1
expect 1 backups 1
expect_re 1 data_partition_bytes '^[0-9]+$'
if [ "$(kv 1 data_partition_bytes)" -gt $(( data_size0 * 512 + 2000 * 1048576 )) ] 2>/dev/null; then
	ok "boot 1: data partition grown to $(kv 1 data_partition_bytes) bytes (was $((data_size0 * 512)))"
else
	fail "boot 1: the data partition was not grown ($(kv 1 data_partition_bytes) bytes, was $((data_size0 * 512)))"
fi
expect_re 1 journal_camera_lines '^[1-9]'
# From outside: the FAT partition, the root partition, the data partition.
read -r boot_start _ < <(part 1)
if mtype -i "$img@@$((boot_start * 512))" ::kiosk.toml >"$B/kiosk.toml.after-1" 2>/dev/null; then
	if grep -q -e "$TOKEN" -e "$WIFI_PASSWORD" "$B/kiosk.toml.after-1"; then fail "a secret is still in kiosk.toml on the FAT partition"
	else ok "FAT partition: kiosk.toml has no secret ($(grep -E '^(token_file|password) *=' "$B/kiosk.toml.after-1" | paste -sd';' -))"; fi
else
	fail "cannot read kiosk.toml from the FAT partition"
fi
extract 2 "$B/root.part"
if debugfs -R "stat /etc/kiosk-boottest-canary-1" "$B/root.part" 2>/dev/null | grep -q Inode; then
	fail "the write to / in boot 1 reached the root partition (overlay not in effect)"
else
	ok "root partition: the write to / of boot 1 is not on it"
fi
rm -f "$B/root.part" "$B/root.part.fsck"
extract 3 "$B/data.part"
dump "$B/data.part" /kiosk/kiosk.db "$B/kiosk.db.after-1" || fail "no /kiosk/kiosk.db on the data partition after boot 1"
if [ "$(db_ok "$B/kiosk.db.after-1")" = ok ]; then ok "data partition after boot 1: kiosk.db integrity ok"
else fail "kiosk.db after boot 1: $(db_ok "$B/kiosk.db.after-1")"; fi
if dump "$B/data.part" /secrets/server-token "$B/token.after-1" && [ "$(cat "$B/token.after-1")" = "$TOKEN" ]; then
	ok "data partition: secrets/server-token holds the token from kiosk.toml"
else fail "secrets/server-token on the data partition"; fi
rm -f "$B/token.after-1"
step "boot 1 (first boot, clean power-off)"

# Boot 2: running kiosk, writes in flight, hard power cut.
start_vm 2 stay "$(date -u +%Y-%m-%dT%H:%M:%S)"
wait_for 'POWER-CUT-READY' || boot_failed "boot 2: never ready for the power cut (rc $?)"
timing 2 "kiosk.service $(kv 2 kiosk_active) at uptime $(kv 2 kiosk_active_at_uptime)s; writes in flight"
sleep 15
kill -KILL "$qpid"; wait "$qpid" 2>/dev/null || true; qpid=
last_commit=$(grep -aoE 'BT2\| STRESS committed=[0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+$' || echo 0)
timing 2 "power cut (SIGKILL to qemu) after $last_commit reported commits"
common_checks 2
expect 2 journal_boots 2
expect 2 token_file_id "$(kv 1 token_file_id)"
expect 2 db_inode "$(kv 1 db_inode)"
expect 2 grown_mtime "$(kv 1 grown_mtime)"
expect 2 bootfs_kiosk_toml_sha "$(kv 1 bootfs_kiosk_toml_sha)"
expect 2 data_partition_bytes "$(kv 1 data_partition_bytes)"
[ "$last_commit" -gt 0 ] || fail "boot 2: no SQLite commit reported before the power cut"
extract 3 "$B/data.part"
grep -aE 'recover|journal|clean' "$B/data.part.fsck" | head -n3 | sed 's/^/boot.sh:      e2fsck on the copy: /'
dump "$B/data.part" /timesync/clock "$B/clock.after-2" || fail "no /timesync/clock on the data partition"
clock2=$(stat -c %Y "$B/clock.after-2" 2>/dev/null || echo 0)
echo "boot.sh: clock file after the cut: $(date -u -d "@$clock2" +%FT%TZ)"
step "boot 2 (hard power cut while the kiosk runs)"

# Boot 3: after the cut, with the clock lost (RTC at 2020), then a damaged database.
start_vm 3 corrupt 2020-01-01T00:00:00
wait_for 'BOOTTEST-END' || boot_failed "boot 3: the report did not finish (rc $?)"
timing 3 "report finished (kiosk.service active at uptime $(kv 3 kiosk_active_at_uptime)s)"
wait_exit 300 || { kill -KILL "$qpid"; qpid=; fail "boot 3: no power-off within 300 s"; }
timing 3 "powered off"
common_checks 3
expect 3 journal_boots 3
expect 3 token_file_id "$(kv 1 token_file_id)"
expect 3 db_inode "$(kv 1 db_inode)"
expect 3 grown_mtime "$(kv 1 grown_mtime)"
expect 3 bootfs_kiosk_toml_sha "$(kv 1 bootfs_kiosk_toml_sha)"
expect_re 3 stress_integrity '^ok '
rows=$(kv 3 stress_rows)
if [ "${rows:-0}" -ge "$last_commit" ] 2>/dev/null; then ok "boot 3: $rows rows after the cut >= $last_commit reported committed"
else fail "boot 3: commits lost in the power cut: $rows rows, $last_commit were reported committed"; fi
d3=$(kv 3 date_at_start)
if [ "${d3:-0}" -ge "$clock2" ] 2>/dev/null; then
	ok "boot 3: clock at report start $(date -u -d "@$d3" +%FT%TZ) >= saved $(date -u -d "@$clock2" +%FT%TZ) (RTC said 2020)"
else fail "boot 3: the clock went backwards: $d3 < saved $clock2"; fi
expect_re 3 db_integrity_after_damage 'not a database'
expect 3 kiosk_active_after_restore active
expect_re 3 guard_restored '^[1-9]'
expect_re 3 db_integrity_after_restore '^ok tables=[1-9]'
expect 3 corrupt_kept 1
extract 3 "$B/data.part"
if dump "$B/data.part" /kiosk/kiosk.db "$B/kiosk.db.after-3" && [ "$(db_ok "$B/kiosk.db.after-3")" = ok ]; then
	ok "data partition after boot 3: kiosk.db integrity ok"
else fail "kiosk.db after boot 3"; fi
rm -f "$B/data.part" "$B/data.part.fsck"
step "boot 3 (clock lost, database restored by kiosk-db-guard)"

echo "boot.sh: serial logs: $B/serial-{1,2,3}.log; reports also on the data partition (boottest/)"
if [ "${#failures[@]}" -gt 0 ]; then
	printf 'boot.sh: FAILED: %s\n' "${failures[@]}" >&2
	die "${#failures[@]} boot check(s) failed (total $(( $(date +%s) - t0 ))s)"
fi
echo "boot.sh: all boot checks passed in $(( $(date +%s) - t0 ))s"
