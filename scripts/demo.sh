#!/usr/bin/env bash
# The main job on the embedded default: simulate the default flight (cached after the first run),
# run the whole graph on it through replay, export what the recorder recorded, evaluate it
# against ground truth. The last line printed is the report directory (report.json + plots).
# Options go to `onboard demo` (e.g. `make demo DEMO_ARGS="--backend isam2"`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$ROOT/scripts/with_env.sh" onboard demo "$@"
