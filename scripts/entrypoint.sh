#!/usr/bin/env bash
# Container entrypoint: check the box with `appliance doctor`, then become `appliance serve`.
#
#   (no arguments) or options    doctor, then `appliance serve [options]`
#   a subcommand (ingest, ask…)  `appliance <subcommand> …` directly, e.g.
#                                docker compose -f compose.edge.yml run --rm appliance docs
#
# A failed doctor check exits non-zero, so the container stops and `restart: unless-stopped`
# tries again later (the report is in `docker compose logs`). APPLIANCE_SKIP_DOCTOR=1 skips
# the check (it loads the generator once, which takes a while with a large model).
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
echo "entrypoint: appliance serve"
exec appliance serve "$@"
