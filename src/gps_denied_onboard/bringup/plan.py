"""The launch plan: for each node of the graph declaration, the exact command that starts it.

Launch arguments that target one node (``fdr_root``) or all (``use_sim_time``) are written
to an overlay parameter file given after the flight configuration, so they win over it and
reach only the nodes they name. ``flight.launch.py`` and ``onboard launch`` build the same
``--ros-args`` from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from gps_denied_onboard.bringup.errors import BringupError
from gps_denied_onboard.graph.nodes import NODES, NodeSpec, start_order

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
STEPPED_INLINE_NODES = ("vio_node", "state_estimator_node")  # nodes with a `worker_thread` parameter
_NAMESPACE_RE = re.compile(r"^(/[A-Za-z][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class LaunchArgs:
    """The arguments of the flight graph, as ``flight.launch.py`` declares them."""

    config: Path
    fdr_root: Path | None = None
    namespace: str = ""
    log_level: str = "info"
    use_sim_time: bool = False
    stepped: bool = False  # deterministic replay steps the graph: nodes run their worker threads inline

    def __post_init__(self) -> None:
        if self.log_level not in LOG_LEVELS:
            raise BringupError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        namespace = self.namespace if not self.namespace or self.namespace.startswith("/") else "/" + self.namespace
        if not _NAMESPACE_RE.match(namespace.rstrip("/")):
            raise BringupError(f"namespace {self.namespace!r} is not a valid ROS namespace")
        object.__setattr__(self, "namespace", namespace.rstrip("/"))
        if not self.config.is_file():
            raise BringupError(f"parameter file {self.config} does not exist")
        check_params_file(self.config)


def check_params_file(path: Path) -> None:
    """A ROS 2 parameter file: YAML mapping node names to ``{ros__parameters: {...}}``."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BringupError(f"parameter file {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise BringupError(f"parameter file {path} must map node names to parameters, got {type(doc).__name__}")
    for node, section in doc.items():
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters"), dict):
            raise BringupError(f"parameter file {path}: section {node!r} needs a 'ros__parameters' mapping")


@dataclass(frozen=True)
class ProcessSpec:
    """One node process: its name, its command line, and whether it stops last."""

    node: str
    argv: tuple[str, ...]
    stop_last: bool


def overlay_parameters(args: LaunchArgs) -> dict[str, dict[str, dict[str, object]]]:
    """The parameters the launch arguments set, in params-file form."""
    overlay: dict[str, dict[str, dict[str, object]]] = {"/**": {"ros__parameters": {"use_sim_time": args.use_sim_time}}}
    if args.stepped:
        # A node that hands work to its own thread produces outputs whose timing depends on the
        # scheduler; stepped message by message, the graph must compute everything inline.
        for node in STEPPED_INLINE_NODES:
            overlay.setdefault(node, {"ros__parameters": {}})["ros__parameters"]["worker_thread"] = False
    if args.fdr_root is not None:
        overlay["fdr_node"] = {"ros__parameters": {"fdr_root": str(args.fdr_root)}}
    return overlay


def write_overlay(args: LaunchArgs, directory: Path) -> Path:
    """Write the overlay parameter file into ``directory`` and return its path."""
    path = directory / "launch_overrides.yaml"
    path.write_text(yaml.safe_dump(overlay_parameters(args), sort_keys=True), encoding="utf-8")
    return path


def ros_arguments(spec: NodeSpec, args: LaunchArgs, overlay: Path) -> list[str]:
    """The ``--ros-args`` of one node: parameter files, log level, namespace, remappings."""
    ros_args = [
        "--ros-args",
        "--params-file",
        str(args.config),
        "--params-file",
        str(overlay),
        "--log-level",
        args.log_level,
    ]
    if args.namespace:
        ros_args += ["-r", f"__ns:={args.namespace}"]
    for source, target in spec.remappings:
        ros_args += ["-r", f"{source}:={target}"]
    return ros_args


def plan(prefix: Path, args: LaunchArgs, overlay: Path, nodes: tuple[NodeSpec, ...] = NODES) -> list[ProcessSpec]:
    """Commands for every node, in start order; ``prefix`` is the install prefix of `onboard`."""
    processes = []
    for spec in start_order(nodes):
        executable = prefix / "lib" / "onboard" / spec.executable
        if not executable.is_file():
            raise BringupError(f"executable of {spec.name} not installed at {executable}: run `make bootstrap`")
        processes.append(ProcessSpec(spec.name, (str(executable), *ros_arguments(spec, args, overlay)), spec.stop_last))
    return processes


def installed_prefix(ament_prefix_path: str) -> Path:
    """The install prefix holding share/onboard, from an AMENT_PREFIX_PATH value."""
    for entry in ament_prefix_path.split(":"):
        if entry and (Path(entry) / "share" / "onboard" / "package.xml").is_file():
            return Path(entry)
    raise BringupError("package `onboard` is not on AMENT_PREFIX_PATH: source env.sh (or install/setup.bash)")
