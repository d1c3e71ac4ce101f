#!/usr/bin/env bash
# Set up the appliance on this machine: a virtual environment with everything installed and
# the default models verified in models/. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# A GPU box with the CUDA toolkit gets llama.cpp built with CUDA; everything else the CPU build.
if [ -z "${CMAKE_ARGS:-}" ] && command -v nvidia-smi >/dev/null && command -v nvcc >/dev/null; then
    export CMAKE_ARGS="-DGGML_CUDA=on"
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "installing the appliance and its dependencies (the first time compiles llama.cpp: minutes)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-* && touch "$stamp"
fi
.venv/bin/appliance models fetch
