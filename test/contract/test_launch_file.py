"""flight.launch.py against the graph declaration: static checks here, execution where `launch` exists."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from gps_denied_onboard.graph import NODES, TOPICS

LAUNCH_FILE = REPO_ROOT / "launch" / "flight.launch.py"
ARGUMENTS = {"config", "fdr_root", "namespace", "log_level", "use_sim_time"}


def test_launch_file_declares_the_arguments_and_reads_the_declaration() -> None:
    tree = ast.parse(LAUNCH_FILE.read_text())
    names = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert names >= ARGUMENTS
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert "start_order" in imported, "nodes must come from the graph declaration, not a list of its own"
    literals = {n for n in names if n.endswith("_node")}
    assert not literals - {"fdr_node"}, f"node names hard-coded in the launch file: {literals}"


def test_every_declared_executable_is_installed(onboard_prefix: Path) -> None:
    for spec in NODES:
        executable = onboard_prefix / "lib" / "onboard" / spec.executable
        assert executable.is_file(), f"{spec.name}: {executable} missing"


def test_every_parameter_file_is_installed_and_names_only_declared_nodes(onboard_prefix: Path) -> None:
    declared = {spec.name for spec in NODES}
    for params_file in {spec.params_file for spec in NODES}:
        path = onboard_prefix / "share" / "onboard" / "config" / params_file
        assert path.is_file(), path
        sections = set(yaml.safe_load(path.read_text()))
        assert sections - {"/**"} <= declared, f"{params_file} configures undeclared nodes: {sections - declared}"


def test_every_remap_target_is_declared() -> None:
    names = {t.name for t in TOPICS}
    for spec in NODES:
        for source, target in spec.remappings:
            assert {source, target} <= names, f"{spec.name}: {source} -> {target}"


def test_launch_file_is_installed(onboard_prefix: Path) -> None:
    assert (onboard_prefix / "share" / "onboard" / "launch" / "flight.launch.py").is_file()


@pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None,
    reason="needs launch and launch_ros (not on PyPI): the launch file is only parsed here",
)
def test_launch_description_has_one_node_per_declaration() -> None:  # pragma: no cover - ROS machines only
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location("flight_launch", LAUNCH_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description().entities
    assert len([e for e in entities if isinstance(e, Node)]) == len(NODES)
