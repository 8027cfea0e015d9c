"""Individual environment checks. Pure: modules are located with find_spec, never imported
(rclpy especially), except onnxruntime whose execution providers can only be asked."""

from __future__ import annotations

import enum
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SUPPORTED_PYTHON = ((3, 10), (3, 12))
DEFAULT_RMW = "rmw_fastrtps_cpp"
REQUIRED_MESSAGE_PACKAGES = ("std_msgs", "geometry_msgs", "sensor_msgs", "nav_msgs", "diagnostic_msgs")

# ROS packages absent from PyPI: what each one's absence costs.
OPTIONAL_ROS_PACKAGES = {
    "launch": "`ros2 launch` unavailable; start the executables in install/onboard/lib/onboard",
    "launch_ros": "`ros2 launch` unavailable; start the executables in install/onboard/lib/onboard",
    "launch_testing": "launch_testing-style tests are skipped",
    "tf2_ros": "TF (map->odom->base_link) is not broadcast",
    "message_filters": "no time-synchronised subscriptions; nodes buffer by stamp themselves",
    "rosbag2_py": "bags are read and written with `rosbags` instead",
}


class Level(enum.Enum):
    """Whether a failed check stops the suite (REQUIRED) or only degrades it (OPTIONAL)."""

    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    level: Level
    ok: bool
    detail: str


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package failed to import
        return False


def check_python() -> CheckResult:
    """The interpreter is one the ROS 2 Jazzy wheels and our pins support."""
    version = sys.version_info[:2]
    low, high = SUPPORTED_PYTHON
    ok = low <= version <= high
    return CheckResult(
        "python",
        Level.REQUIRED,
        ok,
        f"{sys.version.split()[0]} at {sys.executable}"
        + ("" if ok else f" (need {low[0]}.{low[1]}-{high[0]}.{high[1]})"),
    )


def check_ros_distro() -> CheckResult:
    """A ROS 2 distribution is present: a sourced system install or the PyPI wheels."""
    distro = os.environ.get("ROS_DISTRO")
    if distro:
        return CheckResult("ros_distro", Level.REQUIRED, True, f"{distro} (sourced system install)")
    try:
        rclpy_version = metadata.version("ros-jazzy-rclpy")
    except metadata.PackageNotFoundError:
        return CheckResult(
            "ros_distro", Level.REQUIRED, False, "no ROS_DISTRO and no ros-jazzy-* wheels; run `make bootstrap`"
        )
    return CheckResult("ros_distro", Level.REQUIRED, True, f"jazzy (PyPI wheels, rclpy {rclpy_version})")


def check_rclpy() -> CheckResult:
    """rclpy is importable."""
    ok = _has_module("rclpy")
    return CheckResult("rclpy", Level.REQUIRED, ok, "importable" if ok else "not importable")


def _ament_prefixes() -> list[Path]:
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(Path(sys.prefix))  # the PyPI wheels install their ament index into the venv root
    return prefixes


def check_rmw() -> CheckResult:
    """The selected RMW implementation is registered in an ament index."""
    rmw = os.environ.get("RMW_IMPLEMENTATION") or DEFAULT_RMW
    for prefix in _ament_prefixes():
        marker = prefix / "share" / "ament_index" / "resource_index" / "rmw_typesupport" / rmw
        if marker.exists():
            return CheckResult("rmw", Level.REQUIRED, True, f"{rmw} (from {prefix})")
    return CheckResult("rmw", Level.REQUIRED, False, f"{rmw} is not in any ament index")


def check_interfaces() -> CheckResult:
    """The project's generated messages and the standard message packages import."""
    missing = [pkg for pkg in ("onboard", *REQUIRED_MESSAGE_PACKAGES) if not _has_module(f"{pkg}.msg")]
    if missing:
        hint = "; source install/setup.bash" if "onboard" in missing else ""
        return CheckResult("interfaces", Level.REQUIRED, False, f"missing: {', '.join(missing)}{hint}")
    return CheckResult(
        "interfaces", Level.REQUIRED, True, f"onboard.msg + {len(REQUIRED_MESSAGE_PACKAGES)} std packages"
    )


def check_optional_ros_packages() -> list[CheckResult]:
    """ROS packages that exist on a distro install but not on PyPI."""
    results = []
    for package, consequence in OPTIONAL_ROS_PACKAGES.items():
        ok = _has_module(package)
        results.append(CheckResult(package, Level.OPTIONAL, ok, "importable" if ok else consequence))
    return results


def _postgres_bin_dirs() -> list[Path]:
    dirs = [Path(p).parent for p in (shutil.which("pg_ctl"),) if p]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return dirs


def check_postgresql() -> CheckResult:
    """The PostgreSQL server binaries the tile cache (and its tests) start."""
    for bin_dir in _postgres_bin_dirs():
        postgres, pg_ctl = bin_dir / "postgres", bin_dir / "pg_ctl"
        if postgres.exists() and pg_ctl.exists():
            version = _first_line([str(postgres), "--version"])
            return CheckResult("postgresql", Level.OPTIONAL, True, f"{version} in {bin_dir}")
    return CheckResult(
        "postgresql", Level.OPTIONAL, False, "postgres/pg_ctl not found: tile_manager_node cannot start its cache"
    )


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{cmd[0]} failed: {exc}"
    return out.strip().splitlines()[0] if out.strip() else "?"


def check_gpu() -> CheckResult:
    """An NVIDIA GPU (discrete or Jetson) is visible."""
    if Path("/etc/nv_tegra_release").exists():
        return CheckResult(
            "gpu", Level.OPTIONAL, True, "Jetson (L4T) " + Path("/etc/nv_tegra_release").read_text().split(",")[0]
        )
    if shutil.which("nvidia-smi"):
        return CheckResult("gpu", Level.OPTIONAL, True, _first_line(["nvidia-smi", "-L"]))
    if Path("/dev/nvidia0").exists():
        return CheckResult("gpu", Level.OPTIONAL, True, "/dev/nvidia0 present")
    return CheckResult("gpu", Level.OPTIONAL, False, "no NVIDIA GPU: inference runs on the CPU backend")


def check_tensorrt() -> CheckResult:
    """The TensorRT Python bindings."""
    ok = _has_module("tensorrt")
    return CheckResult(
        "tensorrt", Level.OPTIONAL, ok, "importable" if ok else "not installed: TensorRT backend unavailable"
    )


def check_onnxruntime() -> CheckResult:
    """ONNX Runtime and the execution providers it offers (TensorRT, CUDA, CPU)."""
    if not _has_module("onnxruntime"):
        return CheckResult("onnxruntime", Level.OPTIONAL, False, "not installed: ORT backends unavailable")
    import onnxruntime  # noqa: PLC0415 - heavy and optional: imported only when present

    providers = ", ".join(onnxruntime.get_available_providers())
    return CheckResult("onnxruntime", Level.OPTIONAL, True, f"{onnxruntime.__version__}: {providers}")


def check_fdr_root(fdr_root: Path, min_free_bytes: int) -> CheckResult:
    """The flight root (or its nearest existing parent) is writable with enough free space."""
    probe = fdr_root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    writable = os.access(probe, os.W_OK)
    ok = writable and free >= min_free_bytes
    detail = f"{fdr_root}: {free / 2**30:.1f} GiB free"
    if not writable:
        detail += f", {probe} not writable"
    elif free < min_free_bytes:
        detail += f" (< {min_free_bytes / 2**30:.1f} GiB minimum)"
    return CheckResult("fdr_root", Level.REQUIRED, ok, detail)


def run_checks(*, fdr_root: Path, min_free_bytes: int) -> list[CheckResult]:
    """Run every check, required ones first."""
    return [
        check_python(),
        check_ros_distro(),
        check_rclpy(),
        check_rmw(),
        check_interfaces(),
        check_fdr_root(fdr_root, min_free_bytes),
        *check_optional_ros_packages(),
        check_postgresql(),
        check_gpu(),
        check_tensorrt(),
        check_onnxruntime(),
    ]


def failed_required(results: list[CheckResult]) -> list[CheckResult]:
    """The required checks that failed: any one of them means the suite cannot run."""
    return [r for r in results if r.level is Level.REQUIRED and not r.ok]
