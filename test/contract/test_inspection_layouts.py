"""The inspection layouts (config/onboard.rviz, config/foxglove_layout.json) speak the graph's language:
its frames, its topics with their declared types and QoS, and only panels and displays that exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gps_denied_onboard.graph import TOPICS, Frame, QosSpec
from gps_denied_onboard.graph.qos import Durability, Reliability

RVIZ = REPO_ROOT / "config" / "onboard.rviz"
FOXGLOVE = REPO_ROOT / "config" / "foxglove_layout.json"

# Topics every ROS graph has, which the layouts may name.
ROS_TOPICS = {"/rosout": "rcl_interfaces/msg/Log"}

# rviz_default_plugins displays the layout may use, with the message type each one subscribes to.
RVIZ_DISPLAYS: dict[str, str | None] = {
    "rviz_default_plugins/Grid": None,
    "rviz_default_plugins/TF": None,
    "rviz_default_plugins/Odometry": "nav_msgs/msg/Odometry",
    "rviz_default_plugins/Path": "nav_msgs/msg/Path",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/PointCloud2": "sensor_msgs/msg/PointCloud2",
}
RVIZ_RELIABILITY = {"Reliable": Reliability.RELIABLE, "Best Effort": Reliability.BEST_EFFORT}
RVIZ_DURABILITY = {"Volatile": Durability.VOLATILE, "Transient Local": Durability.TRANSIENT_LOCAL}
RVIZ_FIXED_FRAME = "<Fixed Frame>"

# Foxglove built-in panel types (the part of a panel id before "!") the layout may use.
FOXGLOVE_PANELS = {"3D", "map", "Plot", "RawMessages", "RosOut"}
FOXGLOVE_3D_TYPES = {
    "nav_msgs/msg/Odometry",
    "nav_msgs/msg/Path",
    "visualization_msgs/msg/MarkerArray",
    "sensor_msgs/msg/PointCloud2",
}
NAVSAT = "sensor_msgs/msg/NavSatFix"
TF_FRAMES = {Frame.MAP.value, Frame.ODOM.value, Frame.BASE_LINK.value, Frame.CAMERA.value}
GRAPH_FRAMES = {frame.value for frame in Frame}


def declared_topics() -> dict[str, tuple[str, QosSpec]]:
    """Every topic a layout may show: the graph's."""
    return {spec.name: (spec.msg_type, spec.qos) for spec in TOPICS}


def message_type(topic: str) -> str:
    if topic in ROS_TOPICS:
        return ROS_TOPICS[topic]
    return declared_topics()[topic][0]


@pytest.fixture(scope="module")
def rviz() -> dict[str, Any]:
    document = yaml.safe_load(RVIZ.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "onboard.rviz is not a YAML mapping"
    return document


@pytest.fixture(scope="module")
def foxglove() -> dict[str, Any]:
    document = json.loads(FOXGLOVE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "foxglove_layout.json is not a JSON object"
    return document


# ----------------------------------------------------------------------------- rviz2


def rviz_displays(displays: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every display, descending into groups."""
    for display in displays:
        yield display
        yield from rviz_displays(display.get("Displays", []))


def rviz_topics(node: object) -> Iterator[str]:
    """Every topic named anywhere in the document: `Topic: /x` or `Topic: {Value: /x, ...}`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Topic":
                yield value["Value"] if isinstance(value, dict) else value
            else:
                yield from rviz_topics(value)
    elif isinstance(node, list):
        for item in node:
            yield from rviz_topics(item)


def tree_frames(tree: dict[str, Any]) -> Iterator[str]:
    for frame, children in tree.items():
        yield frame
        yield from tree_frames(children or {})


def test_rviz_uses_only_known_display_classes(rviz: dict[str, Any]) -> None:
    classes = [d["Class"] for d in rviz_displays(rviz["Visualization Manager"]["Displays"])]
    assert classes, "no displays found"
    unknown = sorted(set(classes) - set(RVIZ_DISPLAYS))
    assert not unknown, f"display classes outside rviz_default_plugins' allow-list: {unknown}"
    others = [p["Class"] for p in rviz["Panels"]] + [t["Class"] for t in rviz["Visualization Manager"]["Tools"]]
    others.append(rviz["Visualization Manager"]["Views"]["Current"]["Class"])
    assert all(c.startswith(("rviz_common/", "rviz_default_plugins/")) for c in others), others


def test_rviz_frames_are_graph_frames(rviz: dict[str, Any]) -> None:
    manager = rviz["Visualization Manager"]
    fixed = manager["Global Options"]["Fixed Frame"]
    assert fixed == Frame.MAP.value, f"fixed frame {fixed!r}: the graph's global frame is {Frame.MAP.value!r}"
    tf_displays = [d for d in rviz_displays(manager["Displays"]) if d["Class"] == "rviz_default_plugins/TF"]
    assert len(tf_displays) == 1
    shown = {name for name in tf_displays[0]["Frames"] if name != "All Enabled"}
    assert shown == TF_FRAMES, f"TF display frames {sorted(shown)}, expected {sorted(TF_FRAMES)}"
    assert set(tree_frames(tf_displays[0]["Tree"])) <= GRAPH_FRAMES
    references = [d["Reference Frame"] for d in rviz_displays(manager["Displays"]) if "Reference Frame" in d]
    references.append(manager["Views"]["Current"]["Target Frame"])
    assert all(f == RVIZ_FIXED_FRAME or f in GRAPH_FRAMES for f in references), references


def test_rviz_topics_are_declared(rviz: dict[str, Any]) -> None:
    topics = list(rviz_topics(rviz))
    assert topics, "no topics found"
    undeclared = sorted(set(topics) - set(declared_topics()))
    assert not undeclared, f"topics neither in the graph nor pending: {undeclared}"


def test_rviz_subscriptions_match_declared_type_and_qos(rviz: dict[str, Any]) -> None:
    """A display whose reliability or durability differs from the publisher's sees nothing or loses samples."""
    for display in rviz_displays(rviz["Visualization Manager"]["Displays"]):
        if "Topic" not in display:
            continue
        topic = display["Topic"]
        msg_type, spec = declared_topics()[topic["Value"]]
        assert RVIZ_DISPLAYS[display["Class"]] == msg_type, (
            f"{display['Name']}: {display['Class']} cannot show {msg_type}"
        )
        asked = (RVIZ_RELIABILITY[topic["Reliability Policy"]], RVIZ_DURABILITY[topic["Durability Policy"]])
        assert asked == (spec.reliability, spec.durability), (
            f"{display['Name']}: rviz asks {asked}, {topic['Value']} is published {spec.reliability, spec.durability}"
        )


def test_rviz_shows_every_displayable_topic_with_covariance(rviz: dict[str, Any]) -> None:
    displays = [d for d in rviz_displays(rviz["Visualization Manager"]["Displays"]) if "Topic" in d]
    shown = {d["Topic"]["Value"] for d in displays}
    displayable = {name for name, (msg_type, _) in declared_topics().items() if msg_type in RVIZ_DISPLAYS.values()}
    assert displayable <= shown, f"not shown in rviz: {sorted(displayable - shown)}"
    odometry = [d for d in displays if d["Class"] == "rviz_default_plugins/Odometry"]
    assert {d["Topic"]["Value"] for d in odometry} == {"/state/odometry", "/vio/odometry", "/ground_truth/odometry"}
    estimates = [d for d in odometry if d["Topic"]["Value"] != "/ground_truth/odometry"]
    assert all(d["Covariance"]["Value"] is True and d["Enabled"] is True for d in estimates)


# ----------------------------------------------------------------------------- Foxglove


def layout_panel_ids(node: object) -> Iterator[str]:
    """Panel ids of a Foxglove mosaic layout tree."""
    if isinstance(node, str):
        yield node
    else:
        assert isinstance(node, dict), node
        assert node["direction"] in {"row", "column"}, node
        yield from layout_panel_ids(node["first"])
        yield from layout_panel_ids(node["second"])


def panels(foxglove: dict[str, Any], panel_type: str) -> list[dict[str, Any]]:
    return [config for panel_id, config in foxglove["configById"].items() if panel_id.split("!")[0] == panel_type]


def path_topic(message_path: str) -> tuple[str, list[str]]:
    """Topic and field chain of a simple Foxglove message path ("/topic.field.sub")."""
    topic, *fields = message_path.split(".")
    assert all(f.isidentifier() for f in fields), f"only plain field paths are checked: {message_path!r}"
    return topic, fields


def foxglove_topics(foxglove: dict[str, Any]) -> Iterator[str]:
    for config in panels(foxglove, "3D"):
        yield from config.get("topics", {})
    for config in panels(foxglove, "Plot"):
        yield from (path_topic(p["value"])[0] for p in config["paths"])
    for config in panels(foxglove, "RawMessages"):
        yield path_topic(config["topicPath"])[0]
    for config in panels(foxglove, "RosOut"):
        yield config["topicToRender"]
    for config in panels(foxglove, "map"):
        yield from (t for t in (config.get("followTopic"), *config.get("topicColors", {})) if t)
        yield from config.get("disabledTopics", [])


def test_foxglove_layout_has_the_exported_shape(foxglove: dict[str, Any]) -> None:
    assert {"configById", "layout", "globalVariables", "userNodes", "playbackConfig"} <= set(foxglove)
    in_layout = list(layout_panel_ids(foxglove["layout"]))
    assert len(in_layout) == len(set(in_layout))
    assert set(in_layout) == set(foxglove["configById"]), "every configured panel is placed, and only those"
    types = {panel_id.split("!")[0] for panel_id in in_layout}
    assert types <= FOXGLOVE_PANELS, f"unknown panel types: {sorted(types - FOXGLOVE_PANELS)}"
    assert types == FOXGLOVE_PANELS, f"missing panels: {sorted(FOXGLOVE_PANELS - types)}"


def test_foxglove_topics_are_declared(foxglove: dict[str, Any]) -> None:
    topics = set(foxglove_topics(foxglove))
    undeclared = sorted(topics - set(declared_topics()) - set(ROS_TOPICS))
    assert not undeclared, f"topics neither in the graph nor pending: {undeclared}"


def test_foxglove_3d_panel_uses_graph_frames_and_shows_every_3d_topic(foxglove: dict[str, Any]) -> None:
    (scene,) = panels(foxglove, "3D")
    assert scene["followTf"] in GRAPH_FRAMES
    frames = {key.removeprefix("frame:") for key in scene["transforms"]}
    assert frames == TF_FRAMES
    assert all(layer.get("frameId", Frame.MAP.value) in GRAPH_FRAMES for layer in scene["layers"].values())
    wanted = {name for name, (msg_type, _) in declared_topics().items() if msg_type in FOXGLOVE_3D_TYPES}
    assert set(scene["topics"]) == wanted
    assert all(settings["visible"] for settings in scene["topics"].values())


def test_foxglove_map_shows_both_navsat_fixes(foxglove: dict[str, Any]) -> None:
    (map_panel,) = panels(foxglove, "map")
    navsat = {name for name, (msg_type, _) in declared_topics().items() if msg_type == NAVSAT}
    assert navsat == {"/state/navsat", "/gps/fix"}
    assert set(map_panel["topicColors"]) == navsat
    assert map_panel["followTopic"] == "/state/navsat"
    assert not set(map_panel["disabledTopics"]) & navsat


def test_foxglove_log_and_raw_panels(foxglove: dict[str, Any]) -> None:
    (log,) = panels(foxglove, "RosOut")
    assert message_type(log["topicToRender"]) == "rcl_interfaces/msg/Log"
    (raw,) = panels(foxglove, "RawMessages")
    assert message_type(raw["topicPath"]) == "onboard/msg/EstimatorStatus"


def test_foxglove_plotted_fields_exist_in_the_messages(foxglove: dict[str, Any]) -> None:
    pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")
    from gps_denied_onboard.ros.msg_types import message_class

    plotted = [path_topic(p["value"]) for config in panels(foxglove, "Plot") for p in config["paths"]]
    assert {topic for topic, _ in plotted} == {"/state/status", "/fdr/status"}
    for topic, fields in plotted:
        assert len(fields) == 1, f"only top-level fields are checked: {topic}.{'.'.join(fields)}"
        known = message_class(message_type(topic)).get_fields_and_field_types()
        assert fields[0] in known, f"{message_type(topic)} has no field {fields[0]!r}; fields: {sorted(known)}"
        assert known[fields[0]] in {"double", "float", "uint64", "uint32", "int64", "int32"}, (topic, known[fields[0]])
