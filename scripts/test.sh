#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, with no network beyond loopback.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e" -x
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/appliance models fetch --set multilingual  # the multilingual embedder's tests

# From Debian's packages: Chromium and its driver for the browser test, docker-compose to
# validate compose.edge.yml, shellcheck for the scripts.
missing=""
for tool in /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver \
            /usr/bin/docker-compose:docker-compose /usr/bin/shellcheck:shellcheck; do
    [ -x "${tool%%:*}" ] || missing="$missing ${tool##*:}"
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
exit "$status"
