#!/bin/bash
# Append the ext4 data partition (label KIOSKDATA) to a Raspberry Pi OS image made by pi-gen:
#   add-data-partition.sh kiosk.img [SIZE_MIB]
# No loop devices and no mounts: the image grows, sfdisk adds partition 3 after the root, and
# mke2fs formats it in place at its byte offset. The kiosk grows it to the end of the SD card at
# first boot (kiosk-data-init). With a partition after it, the root file system keeps its size.
set -euo pipefail
img=${1:?usage: add-data-partition.sh IMAGE [SIZE_MIB]}
size_mib=${2:-512}

if sfdisk --dump "$img" | grep -q '^[^ ]*3 :'; then
	echo "add-data-partition: $img already has a third partition" >&2
	exit 1
fi
# Start on the first MiB boundary after the last partition.
last_end=$(sfdisk --dump "$img" | awk -F'[=,]' '/start=/{s=$2+0; z=$4+0; if (s+z>e) e=s+z} END{print e}')
start=$(( (last_end + 2047) / 2048 * 2048 ))
sectors=$(( size_mib * 2048 ))
truncate -s $(( (start + sectors) * 512 )) "$img"
echo "start=${start}, size=${sectors}, type=83" | sfdisk --append --no-reread --no-tell-kernel -q "$img"
mke2fs -q -F -t ext4 -L KIOSKDATA -E offset=$(( start * 512 )) "$img" "$(( size_mib * 1024 ))k"
echo "add-data-partition: $img: partition 3 (KIOSKDATA, ${size_mib} MiB) at sector $start"
