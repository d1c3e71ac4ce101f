#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, with no network beyond loopback.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e" -x
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# From Debian's packages: Chromium and its driver for the browser test, docker-compose to
# validate compose.edge.yml, shellcheck for the scripts, Tesseract's Chinese pack and a
# Chinese font to draw and read test scans (setup.sh installs Tesseract itself).
missing=""
tessdata=/usr/share/tesseract-ocr/5/tessdata
for tool in /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver \
            /usr/bin/docker-compose:docker-compose /usr/bin/shellcheck:shellcheck \
            $tessdata/chi_sim.traineddata:tesseract-ocr-chi-sim \
            /usr/share/fonts/truetype/wqy/wqy-microhei.ttc:fonts-wqy-microhei; do
    [ -e "${tool%%:*}" ] || missing="$missing ${tool##*:}"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing:$missing"
        # shellcheck disable=SC2086  # one package name per word
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            $missing >/dev/null
    else
        echo "warning: install$missing (Debian packages) for the browser and packaging tests" >&2
    fi
fi

# Where we may, run the tests in a network namespace with only loopback: a hard proof that
# nothing phones home (the suite's own socket guard checks the same thing everywhere else).
run=(.venv/bin/python -m pytest "$@")
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    echo "running the tests with the network cut off (unshare -n, loopback only)"
    set +e
    unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "${run[@]}"
    status=$?
else
    set +e
    "${run[@]}"
    status=$?
fi
if [ "$status" = 5 ]; then
    echo "error: pytest collected no tests" >&2
fi

# The deploy tier, after a whole run that passed (no arguments): the CPU image built with
# Docker (network: packages; cached between runs), then compose and the bundle on it, in this
# namespace (the containers are reached on the host's loopback). APPLIANCE_DEPLOY_TESTS=0
# skips it (a box without Docker).
if [ "$#" = 0 ] && [ "$status" = 0 ] && [ "${APPLIANCE_DEPLOY_TESTS:-1}" != 0 ]; then
    echo "deploy tier: scripts/build_test_image.sh, then pytest -m deploy"
    ./scripts/build_test_image.sh
    built=$?
    if [ "$built" = 0 ]; then
        .venv/bin/python -m pytest -m deploy -s tests/deploy/test_docker.py
        status=$?
        [ "$status" = 5 ] && echo "error: pytest collected no deploy tests" >&2
    elif [ "$built" = 3 ]; then
        echo "WARNING: the deploy tier did NOT run: Docker cannot run on this machine" >&2
    else
        status=1
    fi
fi
exit "$status"
