#!/usr/bin/env bash
# Set up (if needed) and start the appliance: indexes kb/ and serves http://127.0.0.1:8000.
# Extra arguments go to `appliance serve`, e.g. ./scripts/run.sh --host 0.0.0.0 --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/appliance serve --config appliance.yaml "$@"
