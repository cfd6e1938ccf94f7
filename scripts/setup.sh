#!/usr/bin/env bash
# Create .venv and install the kiosk with pinned dependencies. `--test` adds the test tools and the
# collector server's packages; `--server` adds only the server's.
#
# face-recognition 1.3.0 is installed with --no-deps: it declares `dlib`, which pip would build
# from source (minutes on a PC, hours on a Pi). dlib-bin (in requirements.txt) provides the same
# dlib module prebuilt for x86_64 and aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${pip[@]}" install -r requirements.txt
"${pip[@]}" install --no-deps face-recognition==1.3.0
"${pip[@]}" install --no-deps -e .
# The screen's translations (Qt .ts -> .qm); the compiled files are not committed.
for ts in kiosk/ui/i18n/*.ts; do
  .venv/bin/pyside6-lrelease -silent "$ts" -qm "${ts%.ts}.qm"
done
# dlib's face encoder as an ONNX graph next to its .dat (docs/encoder.md): made here once, so the
# kiosk does not convert at its first start.
.venv/bin/python -m kiosk_models.convert
if [ "${1:-}" = "--test" ]; then
  "${pip[@]}" install -r requirements-test.txt
fi
# The collector server (server/, run by a unit's IT staff) and the upload tests need its packages.
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--server" ]; then
  "${pip[@]}" install -r requirements-server.txt
fi
.venv/bin/kiosk --version
