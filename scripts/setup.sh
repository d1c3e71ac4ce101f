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
# A GPU box with the CUDA toolkit gets llama.cpp built with CUDA. Everything else gets a
# portable CPU build (AVX2, as on every x86 server since 2013), not one for this very CPU:
# the appliance is copied to other boxes, and a CPU may report instructions its virtual
# machine does not allow (AMX on some cloud hosts: "Illegal instruction" at the first answer).
# CUDA installs nvcc in /usr/local/cuda*/bin, often not on PATH. The stamp below holds
# CMAKE_ARGS, so a box that gains (or loses) CUDA rebuilds llama.cpp on the next run.
if ! command -v nvcc >/dev/null; then
    for dir in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
        if [ -x "$dir/nvcc" ]; then
            PATH="$dir:$PATH"
            export PATH
            break
        fi
    done
fi
if [ -z "${CMAKE_ARGS:-}" ]; then
    if command -v nvidia-smi >/dev/null && command -v nvcc >/dev/null; then
        export CMAKE_ARGS="-DGGML_CUDA=on"
    else
        if command -v nvidia-smi >/dev/null; then
            echo "note: an NVIDIA GPU is here but not the CUDA toolkit (nvcc): llama.cpp is built" \
                "for the CPU. Install the toolkit and run this again to build it with CUDA." >&2
        fi
        if [ "$(uname -m)" = x86_64 ]; then
            export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
        fi
    fi
fi
# constraints.txt (scripts/lock.sh): the exact versions the tests passed with.
pins=()
[ -f constraints.txt ] && pins=(-c constraints.txt)
stamp=.venv/.installed-$( (cat pyproject.toml constraints.txt 2>/dev/null; echo "${CMAKE_ARGS:-}") |
    sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "installing the appliance and its dependencies (the first time compiles llama.cpp: minutes)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    # Built here with these CMAKE_ARGS, never taken from pip's wheel cache (a wheel cached by
    # an earlier build with other flags would be reused silently).
    llama=$(grep -o '"llama-cpp-python[^"[]*' pyproject.toml | head -1 | tr -d '"')
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check --no-cache-dir \
        --force-reinstall --no-deps "${pins[@]}" "$llama"; then
        echo "error: llama-cpp-python did not build (CMAKE_ARGS=${CMAKE_ARGS:-})" >&2
        exit 2
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check "${pins[@]}" -e ".[test]"
    rm -f .venv/.installed-* && touch "$stamp"
fi
# From the distribution, where this runs as root with apt: Tesseract for OCR (scanned PDFs,
# pictures) and a Chinese font, so a browser on this box shows the page's Chinese (without a
# CJK font it draws boxes). Elsewhere the appliance runs without them and says so per scan.
system=()
command -v tesseract >/dev/null || system+=(tesseract-ocr)
[ -e /usr/share/tesseract-ocr/5/tessdata/osd.traineddata ] || system+=(tesseract-ocr-osd)
fc-list 2>/dev/null | grep -qiE 'CJK|WenQuanYi|Droid Sans Fallback' || system+=(fonts-wqy-microhei)
if [ "${#system[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing from the distribution: ${system[*]}"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq "${system[@]}" >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq "${system[@]}" >/dev/null; }; } ||
            echo "warning: could not install ${system[*]}: scanned files will not be read" >&2
    else
        echo "note: install ${system[*]} (Debian, Ubuntu: sudo apt-get install ${system[*]})" \
            "for OCR of scanned PDFs and pictures, and Chinese text in a browser on this box" >&2
    fi
fi
.venv/bin/appliance models fetch
