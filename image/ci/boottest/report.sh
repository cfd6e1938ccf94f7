#!/bin/bash
# TEST ONLY (image/ci/boot.sh puts this into a copy of the CI root file system, never into the
# image): once the booted kiosk system is up, write what a technician relies on to the serial
# console (ttyAMA0, lines "BT<boot>| ...") and to /data/boottest/report-<boot>.txt.
# "KV key=value" lines are compared by boot.sh; everything else is evidence for a human.
# The kernel command line says which boot this is (kiosktest.boot=N) and what to do at the end
# (kiosktest.action=poweroff|stay|corrupt).
set -u
boot=$(sed -n 's/.*kiosktest\.boot=\([0-9]*\).*/\1/p' /proc/cmdline)
action=$(sed -n 's/.*kiosktest\.action=\([a-z]*\).*/\1/p' /proc/cmdline)
mkdir -p /data/boottest
out=/data/boottest/report-$boot.txt
: >"$out"
# Never print a secret: the fake token and Wi-Fi password boot.sh wrote are masked everywhere.
secrets='boottest-token-[0-9a-f]*|boottest-wifi-password'
scrub() { sed -E "s/$secrets/[SECRET]/g"; }
say() {
	local line
	line=$(printf '%s' "$*" | scrub)
	printf '%s\n' "$line" >>"$out"
	printf 'BT%s| %s\r\n' "$boot" "$line" >/dev/ttyAMA0 2>/dev/null || true
}
kv() { say "KV $1=$2"; }
run() {
	say "\$ $*"
	"$@" 2>&1 | while IFS= read -r l; do say "  $l"; done
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
active() { systemctl is-active "$1" 2>/dev/null; }

say "BOOTTEST-START boot=$boot action=$action uptime=$(uptime_s)s date=$(date -u +%FT%TZ)"
kv date_at_start "$(date +%s)"
# systemd-timesyncd restores the clock from /var/lib/systemd/timesync/clock when it starts; say
# what the clock was then (boot.sh starts boot 3 with the emulated RTC set to 2020).
run journalctl -b -o short-monotonic --no-pager -u systemd-timesyncd

# 1. Wait for kiosk.service (Type=notify: "active" only after READY=1 from the app).
limit=${KIOSKTEST_WAIT:-1500}
t=0
while [ "$(active kiosk.service)" != active ] && [ "$t" -lt "$limit" ]; do
	sleep 5
	t=$((t + 5))
	# A kiosk that fails again and again will not come up by waiting: report now.
	[ "$(systemctl show -P NRestarts kiosk.service)" -lt 3 ] || break
done
kv kiosk_active_at_uptime "$(uptime_s)"
kv kiosk_active "$(active kiosk.service)"
# 2. Stay for longer than WatchdogSec=60: a kiosk that sent READY but no WATCHDOG=1 is killed
# and restarted by now.
if [ "$(active kiosk.service)" = active ]; then sleep 90; fi
kv kiosk_active_after_90s "$(active kiosk.service)"
kv kiosk_nrestarts "$(systemctl show -P NRestarts kiosk.service)"
kv kiosk_status_text "$(systemctl show -P StatusText kiosk.service)"
kv kiosk_result "$(systemctl show -P Result kiosk.service)"
run systemctl show -p Type -p ActiveState -p SubState -p MainPID -p WatchdogUSec -p ExecMainStartTimestamp kiosk.service
run systemd-cgls --no-pager -u kiosk.service
# The processes: cage (main PID) and the Python app under it, as the kiosk user.
procs=""
for p in /proc/[0-9]*; do
	[ -r "$p/cmdline" ] || continue
	c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
	case "$c" in
		*cage*kiosk-session*|*"venv/bin/kiosk run"*|*"kiosk.firstboot show-error"*)
			u=$(stat -c %U "$p")
			procs="$procs ${p#/proc/}:$u:${c%% }"
			say "  process ${p#/proc/} user=$u: $c" ;;
	esac
done
kv kiosk_app_running "$(case "$procs" in *"kiosk:/opt/kiosk/venv/bin/python"*"kiosk run"*) echo yes ;; *) echo no ;; esac)"
kv cage_running "$(case "$procs" in *"kiosk:/usr/bin/cage"*) echo yes ;; *) echo no ;; esac)"
# cage's seat: seatd (libseat) hands it the screen and input as the kiosk user; its Wayland socket.
run journalctl -b --no-pager -o short-monotonic -u seatd
cage_pid=$(systemctl show -P MainPID kiosk.service)
kv seatd_client "$(journalctl -b -u seatd -o cat --no-pager | grep -c "New client connected (pid: $cage_pid, uid: $(id -u kiosk)")"
kv wayland_socket "$(stat -c '%U %a' /run/kiosk-session /run/kiosk-session/wayland-0 2>/dev/null | paste -sd, -)"
kv cage_tty "$(readlink "/proc/$cage_pid/fd/0" 2>/dev/null)"

# 3. The system as a whole.
kv system_running "$(timeout 300 systemctl is-system-running --wait 2>&1)"
run systemctl --failed --no-pager
kv failed_units "$(systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd, -)"
for u in kiosk.service kiosk-firstboot.service kiosk-data-init.service data.mount \
	var-lib-systemd-timesync.mount var-log-journal.mount boot-firmware.mount \
	systemd-timesyncd.service systemd-journal-flush.service systemd-remount-fs.service seatd.service \
	kiosk-backup.timer kiosk-clock-save.timer; do
	kv "state_$u" "$(systemctl show -P ActiveState "$u")/$(systemctl show -P SubState "$u")/$(systemctl show -P Result "$u")"
done
kv getty_tty1 "$(systemctl is-enabled getty@tty1.service 2>&1)/$(active getty@tty1.service)"
run systemd-analyze time
run systemd-analyze critical-chain --no-pager kiosk.service
run systemctl status --no-pager -n 0 kiosk.service kiosk-firstboot.service data.mount \
	kiosk-data-init.service var-lib-systemd-timesync.mount var-log-journal.mount

# 4. File systems: / is an overlay on tmpfs, /data (and the FAT boot partition) are writable.
run cat /proc/cmdline
say "\$ findmnt -l -o TARGET,SOURCE,FSTYPE,OPTIONS (/, /data, /boot/firmware, bind mounts, overlayroot's)"
findmnt -l -n -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -E '^(/|/data|/boot/firmware|/var/lib/systemd/timesync|/var/log/journal|/media/root-ro|/media/root-rw) ' \
	| while IFS= read -r l; do say "  $l"; done
kv root_fstype "$(findmnt -n -o FSTYPE /)"
kv root_lower_ro "$(findmnt -n -o OPTIONS /media/root-ro 2>/dev/null | cut -d, -f1)"
kv data_fstype "$(findmnt -n -o FSTYPE,SOURCE /data | tr -s ' ' ':')"
kv data_options "$(findmnt -n -o OPTIONS /data)"
kv data_commit "$(grep -o '^commit=.*' "/proc/fs/ext4/$(basename "$(findmnt -n -o SOURCE /data)")/options" 2>/dev/null || echo default)"
kv timesync_bind "$(findmnt -n -o SOURCE /var/lib/systemd/timesync)"
kv journal_bind "$(findmnt -n -o SOURCE /var/log/journal)"
kv earlier_canaries "$(find /etc -maxdepth 1 -name 'kiosk-boottest-canary-*' | sort | paste -sd, -)"
echo "written at boot $boot" >"/etc/kiosk-boottest-canary-$boot" 2>/dev/null
kv canary_written "$(cat "/etc/kiosk-boottest-canary-$boot" 2>/dev/null || echo no)"
kv canary_in_tmpfs_overlay "$(ls /media/root-rw/overlay/etc/kiosk-boottest-canary-"$boot" 2>/dev/null || echo no)"
kv data_writable "$(touch /data/boottest/.w 2>/dev/null && rm /data/boottest/.w && echo yes || echo no)"
run lsblk -b -o NAME,SIZE,LABEL,FSTYPE,MOUNTPOINTS
kv data_partition_bytes "$(lsblk -b -n -o SIZE "$(findmnt -n -o SOURCE /data)")"
run df -k /data
kv grown_mtime "$(stat -c %Y /data/.grown 2>/dev/null || echo missing)"

# 5. First boot: the secrets left the FAT partition, the token is the kiosk user's alone.
kv token_file "$(stat -c '%U:%G %a' /data/secrets/server-token 2>/dev/null || echo missing)"
kv token_file_id "$(stat -c 'inode=%i mtime=%Y size=%s' /data/secrets/server-token 2>/dev/null || echo missing)"
kv secret_on_bootfs "$(grep -cE "$secrets" /boot/firmware/kiosk.toml)"
run grep -nE '^(token|token_file|password|ssid) *=' /boot/firmware/kiosk.toml
kv bootfs_kiosk_toml_sha "$(sha256sum /boot/firmware/kiosk.toml | cut -c1-16)"
run ls -la /data /data/secrets /data/network /data/kiosk /data/backup /run/kiosk
kv config_error "$(head -n1 /run/kiosk/config-error.txt 2>/dev/null || true)"

# 6. The database.
kv db_exists "$( [ -f /data/kiosk/kiosk.db ] && stat -c '%U:%G %a' /data/kiosk/kiosk.db || echo no)"
kv db_inode "$(stat -c %i /data/kiosk/kiosk.db 2>/dev/null || echo none)"
integrity() {
	runuser -u kiosk -- python3 -c 'import sqlite3,sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=30)
print(c.execute("PRAGMA integrity_check").fetchone()[0], "tables=%d" % c.execute("select count(*) from sqlite_master where type=\"table\"").fetchone()[0])' "$1" 2>&1 | tail -n1
}
kv db_integrity "$(integrity /data/kiosk/kiosk.db)"
run sqlite3 -readonly /data/kiosk/kiosk.db '.tables'
if [ -f /data/boottest/stress/stress.db ]; then
	kv stress_integrity "$(integrity /data/boottest/stress/stress.db)"
	kv stress_rows "$(runuser -u kiosk -- python3 -c 'import sqlite3; print(sqlite3.connect("file:/data/boottest/stress/stress.db?mode=ro", uri=True).execute("select coalesce(max(n),0) from t").fetchone()[0])' 2>&1)"
fi

# 7. Time: the clock file on /data, never backwards.
kv clock_file "$(stat -c '%U %Y' /var/lib/systemd/timesync/clock 2>/dev/null || echo missing)"
kv date_now "$(date +%s)"
run timedatectl show
run ls -l /etc/localtime

# 8. Logs: persistent on /data, the kiosk's lines, and no secret anywhere in the journal.
run journalctl --list-boots --no-pager
kv journal_boots "$(journalctl --list-boots --no-pager 2>/dev/null | grep -cE "^ *-?[0-9]+ [0-9a-f]{32} ")"
kv journal_secret_hits "$(journalctl -b --no-pager -o cat 2>/dev/null | grep -cE "$secrets")"
run journalctl -b --no-pager -o short-monotonic -u kiosk-data-init -u kiosk-firstboot -u kiosk -u kiosk-clock-save -u kiosk-backup
kv journal_watchdog_timeouts "$(journalctl -b --no-pager -u kiosk -o cat | grep -ci 'watchdog timeout')"
kv journal_camera_lines "$(journalctl -b --no-pager -u kiosk -o cat | grep -ci 'camera')"
run journalctl -b --no-pager -o short-monotonic -p warning

# 9. The end of this boot.
case "$action" in
	poweroff)
		# A checked copy now (the timer's first run is 20 minutes after boot) for boot 3's restore.
		run systemctl start kiosk-backup.service
		run ls -l /data/backup
		kv backups "$(find /data/backup -maxdepth 1 -name 'kiosk-*.db' | wc -l)"
		say "BOOTTEST-END boot=$boot uptime=$(uptime_s)s"
		sync
		systemctl poweroff ;;
	stay)
		# Writes in flight when boot.sh cuts the power: rows committed with the kiosk's own SQLite
		# settings (WAL, synchronous=FULL); each reported number must survive the cut.
		install -d -o kiosk -g kiosk /data/boottest/stress
		runuser -u kiosk -- python3 -u -c 'import sqlite3, time
c = sqlite3.connect("/data/boottest/stress/stress.db", isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("create table if not exists t (n integer primary key, at real, pad blob)")
n = c.execute("select coalesce(max(n),0) from t").fetchone()[0]
while True:
    n += 1
    c.execute("begin"); c.execute("insert into t values (?, ?, randomblob(3000))", (n, time.time())); c.execute("commit")
    print("STRESS committed=%d" % n, flush=True)
    time.sleep(0.2)' 2>&1 | while IFS= read -r l; do say "$l"; done &
		sleep 5
		kv clock_file_before_cut "$(stat -c %Y /var/lib/systemd/timesync/clock 2>/dev/null || echo missing)"
		say "POWER-CUT-READY boot=$boot uptime=$(uptime_s)s"
		wait ;;
	corrupt)
		# The power-cut case kiosk-db-guard exists for: a database that fails its check at start.
		run systemctl stop kiosk.service
		# The header of the main file, and the WAL (it may hold page 1 and every recent page).
		printf 'this is not an SQLite database' | dd of=/data/kiosk/kiosk.db bs=1 seek=0 conv=notrunc status=none
		rm -f /data/kiosk/kiosk.db-wal /data/kiosk/kiosk.db-shm
		sync
		kv db_integrity_after_damage "$(integrity /data/kiosk/kiosk.db)"
		run systemctl start kiosk.service
		t=0
		while [ "$(active kiosk.service)" != active ] && [ "$t" -lt 600 ]; do sleep 5; t=$((t + 5)); done
		kv kiosk_active_after_restore "$(active kiosk.service)"
		run journalctl -b --no-pager -o short-monotonic -u kiosk -n 30
		kv guard_restored "$(journalctl -b -u kiosk -o cat --no-pager | grep -c 'kiosk-db-guard: restored')"
		kv db_integrity_after_restore "$(integrity /data/kiosk/kiosk.db)"
		kv corrupt_kept "$(find /data/kiosk -maxdepth 1 -name 'kiosk.db.corrupt-*' ! -name '*-wal' ! -name '*-shm' | wc -l)"
		run ls -l /data/kiosk
		say "BOOTTEST-END boot=$boot uptime=$(uptime_s)s"
		sync
		systemctl poweroff ;;
	*)
		say "BOOTTEST-END boot=$boot uptime=$(uptime_s)s" ;;
esac
