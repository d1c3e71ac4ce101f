#!/usr/bin/env bash
# Container entrypoint: check the box with `appliance doctor`, then become `appliance serve`.
#
#   (no arguments) or options    doctor, then `appliance serve [options]`
#   a subcommand (ingest, ask…)  `appliance <subcommand> …` directly, e.g.
#                                docker compose -f compose.edge.yml exec appliance appliance docs
#
# A failed doctor check exits non-zero, so the container stops and `restart: unless-stopped`
# tries again later (the report is in `docker compose logs`). APPLIANCE_SKIP_DOCTOR=1 skips
# the check (it loads the generator once, which takes a while with a large model).
#
# A watchdog heals a hung server: Docker restarts containers that exit, not unhealthy ones,
# so a server that stops answering /health (stopped, deadlocked) would stay hung forever.
# Once /health has answered, the watchdog asks it every APPLIANCE_WATCHDOG_INTERVAL seconds
# (15); after APPLIANCE_WATCHDOG_FAILURES failures in a row (4, each with a 5 s timeout) it
# kills the server, the container exits and the restart policy starts a new one: healed
# within about interval × failures + 5 s (65 s). /health, not /ready: a long first indexing
# is not a hang. APPLIANCE_WATCHDOG=0 turns it off.
#
# Everything is logged to stdout. `exec` replaces this shell with the server, so SIGTERM
# from `docker stop` reaches it and it shuts down cleanly (index flushed).
set -euo pipefail
exec 2>&1

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec appliance "$@"
fi

if [ "${APPLIANCE_SKIP_DOCTOR:-0}" != "1" ]; then
    echo "entrypoint: appliance doctor"
    if ! appliance doctor; then
        echo "entrypoint: appliance doctor found problems (see above); not starting" >&2
        exit 1
    fi
fi

running() {  # running PID: it exists and is no zombie (stopped counts as running)
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

watchdog() {  # watchdog PID: kill PID when its /health stops answering
    local pid=$1 interval=${APPLIANCE_WATCHDOG_INTERVAL:-15}
    local limit=${APPLIANCE_WATCHDOG_FAILURES:-4} failures=0 answered=0 waited=0
    local url="http://127.0.0.1:${APPLIANCE_SERVER__PORT:-8000}/health"
    local probe="import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)"
    while running "$pid"; do  # looked at every second: ends as soon as the server does
        sleep 1
        waited=$((waited + 1))
        [ "$waited" -ge "$interval" ] || continue
        waited=0
        if python -c "$probe" "$url" 2>/dev/null; then
            answered=1 failures=0
        elif [ "$answered" = 1 ]; then
            failures=$((failures + 1))
            echo "entrypoint: watchdog: $url did not answer ($failures of $limit)"
            if [ "$failures" -ge "$limit" ]; then
                echo "entrypoint: watchdog: the server is hung; killing it so it is restarted"
                kill -KILL "$pid"
                return
            fi
        fi
    done
}

echo "entrypoint: appliance serve"
if [ "${APPLIANCE_WATCHDOG:-1}" != "0" ]; then
    watchdog $$ &   # $$ stays this process's id: `exec` below makes it the server
fi
exec appliance serve "$@"
