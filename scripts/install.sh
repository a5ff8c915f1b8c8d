#!/usr/bin/env bash
# Creates .venv with the pinned Python toolchain and makes sure Icarus Verilog exists.
# Called by `make install`; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() {  # run a system command as root, or say exactly what to run and stop
    if [ "$(id -u)" = 0 ]; then "$@"; return; fi
    echo "error: '$*' needs root. Run this once, then 'make' again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $APT_PKGS" >&2
    exit 1
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: dyadic needs Python >= 3.10 as '$PYTHON' (set PYTHON=...)" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian splits venv/ensurepip into python3-venv.
        rm -rf "$VENV"
        APT_PKGS="python3-venv"
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

echo "==> installing pinned Python packages into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'

if ! command -v iverilog >/dev/null 2>&1; then
    echo "==> installing Icarus Verilog (apt-get)"
    APT_PKGS="iverilog"
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends iverilog
fi
echo "==> toolchain ready: $("$VENV/bin/python" -c 'import amaranth, cocotb, numpy; print("amaranth", amaranth.__version__, "cocotb", cocotb.__version__, "numpy", numpy.__version__)'), $(iverilog -V 2>/dev/null | head -1)"
