#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, with no network beyond loopback.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e" -x
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# The browser test needs Chromium and its driver from Debian's packages.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            chromium chromium-driver >/dev/null
    else
        echo "warning: install chromium and chromium-driver for the browser test" >&2
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
exit "$status"
