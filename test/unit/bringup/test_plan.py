"""The launch plan: arguments validated, every node's --ros-args, start/stop order from the declaration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gps_denied_onboard.bringup.errors import BringupError
from gps_denied_onboard.bringup.plan import (
    LaunchArgs,
    installed_prefix,
    overlay_parameters,
    plan,
    ros_arguments,
    write_overlay,
)
from gps_denied_onboard.graph.nodes import NODES, NodeSpec, node_spec, start_order, stop_order


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "flight.yaml"
    path.write_text("/**:\n  ros__parameters:\n    use_sim_time: false\n")
    return path


def fake_prefix(tmp_path: Path, nodes: tuple[NodeSpec, ...] = NODES) -> Path:
    prefix = tmp_path / "install" / "onboard"
    (prefix / "lib" / "onboard").mkdir(parents=True)
    (prefix / "share" / "onboard").mkdir(parents=True)
    (prefix / "share" / "onboard" / "package.xml").write_text("<package/>")
    for spec in nodes:
        (prefix / "lib" / "onboard" / spec.executable).write_text("#!/bin/sh\n")
    return prefix


def test_recorder_starts_first_and_stops_last() -> None:
    assert start_order()[0].name == "fdr_node"
    assert stop_order()[-1].name == "fdr_node"
    assert {n.name for n in start_order()} == {n.name for n in NODES}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"log_level": "verbose"}, "log_level must be one of debug, info, warn, error, fatal"),
        ({"namespace": "/1bad"}, "not a valid ROS namespace"),
        ({"namespace": "/a b"}, "not a valid ROS namespace"),
    ],
)
def test_bad_launch_arguments_are_typed_errors(config: Path, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(BringupError, match=message):
        LaunchArgs(config=config, **kwargs)  # type: ignore[arg-type]


def test_missing_parameter_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BringupError, match=r"parameter file .*nope.yaml does not exist"):
        LaunchArgs(config=tmp_path / "nope.yaml")


def test_namespace_is_normalised(config: Path) -> None:
    assert LaunchArgs(config=config, namespace="uav1/").namespace == "/uav1"


def test_overlay_targets_only_the_nodes_it_names(config: Path, tmp_path: Path) -> None:
    args = LaunchArgs(config=config, fdr_root=tmp_path / "flights", use_sim_time=True)
    overlay = yaml.safe_load(write_overlay(args, tmp_path).read_text())
    assert overlay == overlay_parameters(args)
    assert overlay["/**"]["ros__parameters"] == {"use_sim_time": True}
    assert overlay["fdr_node"]["ros__parameters"] == {"fdr_root": str(tmp_path / "flights")}
    assert set(overlay) == {"/**", "fdr_node"}


def test_ros_arguments_order_files_and_remaps(config: Path, tmp_path: Path) -> None:
    spec = NodeSpec("x_node", "test", (), (), remappings=(("/imu/data", "/imu/filtered"),))
    args = LaunchArgs(config=config, namespace="/uav1", log_level="warn")
    ros_args = ros_arguments(spec, args, tmp_path / "overlay.yaml")
    assert ros_args == [
        "--ros-args",
        "--params-file",
        str(config),
        "--params-file",
        str(tmp_path / "overlay.yaml"),
        "--log-level",
        "warn",
        "-r",
        "__ns:=/uav1",
        "-r",
        "/imu/data:=/imu/filtered",
    ]


def test_plan_covers_every_node_in_start_order(config: Path, tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    processes = plan(prefix, LaunchArgs(config=config), tmp_path / "overlay.yaml")
    assert [p.node for p in processes] == [n.name for n in start_order()]
    assert processes[0].stop_last
    assert processes[0].argv[0] == str(prefix / "lib" / "onboard" / "fdr_node")


def test_plan_names_a_missing_executable(config: Path, tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path, nodes=tuple(n for n in NODES if n.name != "vio_node"))
    with pytest.raises(BringupError, match="executable of vio_node not installed"):
        plan(prefix, LaunchArgs(config=config), tmp_path / "overlay.yaml")


def test_installed_prefix_is_found_or_explained(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    assert installed_prefix(f"/nonexistent:{prefix}") == prefix
    with pytest.raises(BringupError, match="not on AMENT_PREFIX_PATH"):
        installed_prefix("/nonexistent")


def test_declared_remappings_connect_declared_topics() -> None:
    from gps_denied_onboard.graph import TOPICS

    names = {t.name for t in TOPICS}
    for spec in NODES:
        for source, target in spec.remappings:
            assert source in names, f"{spec.name} remaps undeclared {source}"
            assert target in names, f"{spec.name} remaps to undeclared {target}"
    assert node_spec("fdr_node").params_file == "flight.yaml"


@pytest.mark.parametrize(
    ("text", "message"),
    [("a: [b\n", "is not valid YAML"), ("- 1\n", "must map node names"), ("n:\n  p: 1\n", "needs a 'ros__parameters'")],
)
def test_malformed_parameter_files_are_refused_before_anything_starts(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BringupError, match=message):
        LaunchArgs(config=path)
