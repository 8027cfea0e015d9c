"""The graph declaration is self-consistent: one home for topics, QoS, frames and nodes."""

from __future__ import annotations

import pytest

from gps_denied_onboard.graph import (
    NODES,
    SIMULATOR_ONLY,
    TOPICS,
    Durability,
    Frame,
    QosSpec,
    Reliability,
    Topic,
    node_spec,
    topic_spec,
)
from gps_denied_onboard.graph import qos as qos_presets


def test_every_topic_is_declared_exactly_once() -> None:
    declared = [spec.topic for spec in TOPICS]
    assert sorted(declared) == sorted(Topic), "each Topic needs exactly one TopicSpec"
    assert len(set(declared)) == len(declared)


def test_topic_names_are_absolute_ros_names() -> None:
    for spec in TOPICS:
        assert spec.name.startswith("/"), spec.name
        assert spec.name == spec.name.lower(), spec.name
        assert spec.msg_type.count("/msg/") == 1, spec.msg_type


def test_sensor_streams_are_best_effort_and_state_is_reliable() -> None:
    assert topic_spec(Topic.CAMERA_IMAGE).qos.reliability is Reliability.BEST_EFFORT
    assert topic_spec(Topic.IMU).qos.depth >= 200  # one second of 200 Hz IMU
    for topic in (Topic.STATE_ODOMETRY, Topic.GEOFIX, Topic.VIO_ODOMETRY, Topic.GNSS_FIX):
        assert topic_spec(topic).qos.reliability is Reliability.RELIABLE
    for topic in (Topic.FDR_STATUS, Topic.FLIGHT_STATE, Topic.TILE_STATUS, Topic.THERMAL):
        spec = topic_spec(topic).qos
        assert (spec.durability, spec.depth) == (Durability.TRANSIENT_LOCAL, 1)


def test_qos_presets_have_unique_names() -> None:
    names = [p.name for p in qos_presets.PRESETS]
    assert len(set(names)) == len(names)


def test_qos_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth must be >= 1"):
        QosSpec("broken", Reliability.RELIABLE, Durability.VOLATILE, 0)


def test_five_nodes_with_unique_names() -> None:
    names = [n.name for n in NODES]
    assert names == ["vio_node", "state_estimator_node", "inference_node", "tile_manager_node", "fdr_node"]
    assert node_spec("fdr_node").subscribes_all


def test_every_consumed_topic_has_a_producer_or_is_external() -> None:
    external = {Topic.CAMERA_IMAGE, Topic.CAMERA_INFO, Topic.IMU, Topic.GNSS_FIX, Topic.BARO, Topic.FLIGHT_STATE}
    produced = {t for n in NODES for t in n.publishes}
    for node in NODES:
        for topic in node.subscribes:
            assert topic in produced or topic in external, f"{node.name} consumes {topic} that nobody publishes"


def test_simulator_truth_is_consumed_by_no_node() -> None:
    for node in NODES:
        assert not SIMULATOR_ONLY & set(node.subscribes), f"{node.name} consumes simulator truth"


def test_only_one_node_owns_each_topic_except_diagnostics() -> None:
    owners: dict[Topic, str] = {}
    for node in NODES:
        for topic in node.publishes:
            if topic is Topic.DIAGNOSTICS:
                continue
            assert topic not in owners, f"{topic} published by {owners[topic]} and {node.name}"
            owners[topic] = node.name


def test_unknown_node_names_the_declared_ones() -> None:
    with pytest.raises(KeyError, match="declared nodes"):
        node_spec("gps_node")


def test_frames_follow_rep105() -> None:
    assert [str(f) for f in (Frame.MAP, Frame.ODOM, Frame.BASE_LINK)] == ["map", "odom", "base_link"]


def test_each_transform_has_exactly_one_owner_and_the_tree_is_rep105() -> None:
    owners: dict[tuple[Frame, Frame], str] = {}
    for node in NODES:
        for edge in node.broadcasts_tf:
            assert edge not in owners, f"{edge} broadcast by {owners[edge]} and {node.name}"
            owners[edge] = node.name
    children = [child for _, child in owners]
    assert len(children) == len(set(children)), "a frame with two parents is not a tree"
    assert (Frame.MAP, Frame.ODOM) in owners
    assert (Frame.ODOM, Frame.BASE_LINK) in owners
