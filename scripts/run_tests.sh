#!/usr/bin/env bash
# The test suite against the colcon install: linters, unit/contract, node, integration.
# Extra arguments go to pytest. Exit 5 (no test collected) is a failure, not a pass.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/with_env.sh" python -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "run_tests: pytest collected no tests; treating as failure" >&2
  exit 1
fi
exit "$code"
