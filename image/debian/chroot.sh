#!/bin/bash
# Sourced (after image/ci/lib.sh or another file that defines `die`): run commands inside an arm64
# root file system from an x86_64 or arm64 host. Set `root` before calling these.
#   root_mount      bind /proc /sys /dev /dev/pts (and the host's CA bundle, for pip) into $root
#   root_umount_stale  unmount what a killed earlier run left mounted under $root
#   root_umount     undo it (also called by the EXIT trap of the sourcing script via root_umount)
#   in_root CMD...  run CMD in $root with a clean environment
# shellcheck disable=SC2154  # root is set by the sourcing script

mounted=()
binfmt_arm64() {
	[ "$(uname -m)" != aarch64 ] || return 0
	if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc (a container without --privileged?)"
	fi
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
		|| die "cannot register qemu-aarch64 with binfmt_misc (apt-get install qemu-user-static binfmt-support)"
}
_bind() { if [ -d "$1" ]; then mkdir -p "$2"; fi; mount --bind "$1" "$2"; mounted+=("$2"); }
root_mount() {
	_bind /proc "$root/proc"
	_bind /sys "$root/sys"
	_bind /dev "$root/dev"
	_bind /dev/pts "$root/dev/pts"
	# pip in the chroot trusts what the host trusts (a proxy's CA, say) through the environment
	# only: the bundle is bind-mounted under /run, which is not part of any image.
	touch "$root/run/host-ca.crt"
	_bind /etc/ssl/certs/ca-certificates.crt "$root/run/host-ca.crt"
	# Name resolution for apt and pip: the host's, for the time of the build only (the image's own
	# /etc/resolv.conf is left empty; NetworkManager writes it at run time).
	rm -f "$root/etc/resolv.conf.kiosk-build"
	if [ -L "$root/etc/resolv.conf" ] || [ ! -e "$root/etc/resolv.conf" ]; then
		mv -T "$root/etc/resolv.conf" "$root/etc/resolv.conf.kiosk-build" 2>/dev/null || true
		touch "$root/etc/resolv.conf"
	fi
	_bind /etc/resolv.conf "$root/etc/resolv.conf"
}
# Mounts left under $root by an earlier run that was killed (CI timeout, a lost session): a later
# run would otherwise bind over them and fail to remove files held by them.
root_umount_stale() {
	local m
	while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
		awk -v r="$(realpath -m "$root")" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r)
}
root_umount() {
	local i
	for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
	mounted=()
	rm -f "$root/run/host-ca.crt"
	if [ -e "$root/etc/resolv.conf.kiosk-build" ] || [ -L "$root/etc/resolv.conf.kiosk-build" ]; then
		mv -T "$root/etc/resolv.conf.kiosk-build" "$root/etc/resolv.conf"
	fi
}
in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PIP_CERT=/run/host-ca.crt \
		PIP_DEFAULT_TIMEOUT=180 "$@"
}
# The host's Debian mirror (a local mirror or proxy where the build machine has one).
host_mirror() {
	local m
	m=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
		| grep -v security | head -n1 | grep -oE 'https?://[^ ]+' || true)
	echo "${m:-http://deb.debian.org/debian}"
}
