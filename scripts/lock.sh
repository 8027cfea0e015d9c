#!/usr/bin/env bash
# Regenerate requirements/constraints.txt: install the intent files into a throw-away
# venv and freeze it. Review the diff before committing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${ONBOARD_PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q -r requirements/ros-jazzy.txt -r requirements/python.txt -r requirements/dev.txt
{
  echo "# Full lock of every Python package in .venv (PyPI mode), used as pip constraints."
  echo "# Regenerate with: make lock"
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable
} > requirements/constraints.txt
echo "wrote requirements/constraints.txt"
