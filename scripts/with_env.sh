#!/usr/bin/env bash
# Run a command inside the bootstrapped environment: scripts/with_env.sh CMD ARGS...
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$ROOT/env.sh" ] || { echo "env.sh missing: run 'make bootstrap' first" >&2; exit 1; }
# shellcheck disable=SC1091
. "$ROOT/env.sh"   # colcon's setup scripts are not nounset-clean: source before set -u
set -u
cd "$ROOT"
exec "$@"
