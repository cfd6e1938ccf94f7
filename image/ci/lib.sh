#!/bin/bash
# Shared by check.sh and boot.sh (sourced after setting NAME): timed steps and a loud failure.
# shellcheck disable=SC2034  # t0 and step_start are used by step() in the sourcing script
t0=$(date +%s)
step_start=$t0
step() {
	local now; now=$(date +%s)
	echo "$NAME: [$(( now - step_start ))s] done: $1 (total $(( now - t0 ))s)"
	step_start=$now
}
die() { echo "$NAME: FAILED: $*" >&2; exit 1; }
