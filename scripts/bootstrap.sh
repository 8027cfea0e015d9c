#!/usr/bin/env bash
# Idempotent bootstrap of a development/flight environment from a fresh clone:
#   1. .venv with a supported Python (3.10-3.12)
#   2. pinned ROS 2 Jazzy wheels from PyPI (skipped when a system ROS 2 is sourced)
#      plus the project's Python dependencies
#   3. colcon build of the `onboard` package (messages, library, executables)
#   4. env.sh, the one file to source afterwards
# Each step is skipped when its inputs are unchanged, so a second run takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
# Inside an activated venv (ours or another), `python3` would be that venv's interpreter:
# step out of it so the venv is always made from, and keyed on, a real interpreter.
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$VIRTUAL_ENV/bin" | paste -sd: -)
  unset VIRTUAL_ENV
fi
log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

python_ok() { "$1" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; }

pick_python() {
  if [ -n "${ONBOARD_PYTHON:-}" ]; then
    python_ok "$ONBOARD_PYTHON" || die "ONBOARD_PYTHON=$ONBOARD_PYTHON is not Python 3.10-3.12"
    command -v "$ONBOARD_PYTHON"; return
  fi
  if [ -n "${ROS_DISTRO:-}" ]; then  # rclpy of a system ROS is built for the system python3
    python_ok python3 || die "ROS_DISTRO=$ROS_DISTRO is sourced but python3 is not 3.10-3.12"
    command -v python3; return
  fi
  local candidate
  for candidate in python3.12 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      command -v "$candidate"; return
    fi
  done
  die "no Python 3.10-3.12 found on PATH (set ONBOARD_PYTHON)"
}

ensure_build_tools() {
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v c++ >/dev/null 2>&1 || missing+=(g++)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing build tools: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing build tools: ${missing[*]} (rosidl compiles C/C++ typesupport); install them and re-run"
  fi
}

inputs_hash() { sha256sum "$@" | sha256sum | cut -c1-64; }

# --- 1. virtual environment -------------------------------------------------------
PYTHON=$(pick_python)
MODE=pypi
[ -n "${ROS_DISTRO:-}" ] && MODE="system-$ROS_DISTRO"
if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python" || [ "$(cat "$VENV/.onboard-mode" 2>/dev/null)" != "$MODE" ]; then
  rm -rf "$VENV"
  log "creating .venv with $PYTHON ($MODE)"
  venv_args=()
  [ "$MODE" != pypi ] && venv_args+=(--system-site-packages)  # see the sourced ROS's rclpy
  "$PYTHON" -m venv "${venv_args[@]}" "$VENV" || die "'$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"
  echo "$MODE" > "$VENV/.onboard-mode"
fi

# --- 2. Python packages ---------------------------------------------------------------
req_files=(requirements/python.txt requirements/dev.txt requirements/constraints.txt)
[ "$MODE" = pypi ] && req_files+=(requirements/ros-jazzy.txt)
deps_hash=$(inputs_hash "${req_files[@]}")
if [ "$(cat "$VENV/.onboard-deps" 2>/dev/null)" != "$deps_hash" ]; then
  log "installing pinned Python packages (${MODE})"
  pip_args=(-r requirements/python.txt -r requirements/dev.txt)
  [ "$MODE" = pypi ] && pip_args+=(-r requirements/ros-jazzy.txt -c requirements/constraints.txt)
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${pip_args[@]}" 2>&1 \
    | grep -v "^WARNING: Location 'file:" >&2 || true
  "$VENV/bin/python" -m pip check >/dev/null || die "pip check failed: inconsistent environment"
  [ "$MODE" = pypi ] || "$VENV/bin/python" -m pip install -q colcon-common-extensions 2>/dev/null || true
  echo "$deps_hash" > "$VENV/.onboard-deps"
fi

# --- 3. colcon build ---------------------------------------------------------------------
# Contents of what CMake reads; only the *names* of library files, because
# --symlink-install links them (an edit needs no rebuild, a new file does).
build_inputs=(CMakeLists.txt package.xml colcon.meta)
while IFS= read -r -d '' f; do build_inputs+=("$f"); done \
  < <(find msg cmake launch config -type f ! -path '*/__pycache__/*' -print0 | sort -z)
library_files=$(find src -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | sort)
build_hash=$( { inputs_hash "${build_inputs[@]}"; echo "$library_files"; echo "$MODE"; "$VENV/bin/python" -V; } | sha256sum | cut -c1-64)
if [ "$(cat "$ROOT/install/.onboard-build" 2>/dev/null)" != "$build_hash" ] || [ ! -f "$ROOT/install/setup.bash" ]; then
  ensure_build_tools
  log "colcon build (messages, library, executables)"
  if [ "$MODE" = pypi ]; then
    export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  fi
  COLCON="$VENV/bin/colcon"
  [ -x "$COLCON" ] || COLCON=$(command -v colcon) || die "colcon not found"
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  if ! "$COLCON" --log-base log build --base-paths "$ROOT" --build-base build --install-base install \
      --symlink-install --cmake-args "-DPython3_EXECUTABLE=$VENV/bin/python" > build.log 2>&1; then
    tail -n 60 build.log >&2
    die "colcon build failed; full log in build.log and log/latest_build/"
  fi
  echo "$build_hash" > "$ROOT/install/.onboard-build"
fi

# --- 4. environment file ------------------------------------------------------------------
cat > "$ROOT/env.sh" <<ENV
# Generated by scripts/bootstrap.sh. Source it: . env.sh
# Puts the venv (rclpy, tools), the ROS 2 underlay and the built \`onboard\` package on the environment.
. "$VENV/bin/activate"
$( [ "$MODE" = pypi ] && echo "export AMENT_PREFIX_PATH=\"$VENV\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}\"" )
. "$ROOT/install/setup.bash"
ENV
log "ready ($MODE, $("$VENV/bin/python" -c 'import platform; print("Python", platform.python_version())')): . env.sh"
