#!/bin/sh
# Write constraints.txt: the exact version of every package the appliance and its tests
# install, read from .venv (made by scripts/setup.sh). setup.sh, the Dockerfile and
# make_bundle.sh install with it (`pip -c constraints.txt`), so every box, image and bundle
# gets the versions the tests passed with, and a bundle records them.
#
# To move to newer versions: delete constraints.txt, run scripts/setup.sh (it resolves
# afresh without it), run the tests, then this script; commit the new constraints.txt.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "lock: no .venv: run scripts/setup.sh first" >&2; exit 2; }
{
    echo "# The versions the appliance and its tests were tested with (scripts/lock.sh)."
    .venv/bin/python -m pip freeze --exclude-editable --disable-pip-version-check |
        grep -v '^appliance[= @]' | LC_ALL=C sort -f
} >constraints.txt.new
mv constraints.txt.new constraints.txt
echo "lock: constraints.txt pins $(grep -c '==' constraints.txt) packages"
