#!/usr/bin/env bash
# The main job on the embedded default. Today: the environment report, because the
# replayed flight through the whole graph (simulator + replay + evaluation) has not landed
# yet; this script will run it once it does.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
echo "onboard demo: the replayed flight is not built yet (simulator, replay and evaluation are open issues)."
echo "onboard demo: running the environment report instead: onboard doctor"
echo
exec "$ROOT/scripts/with_env.sh" onboard doctor "$@"
