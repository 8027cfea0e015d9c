"""What a replay publishes: QoS per topic, skipped topics, subscribers to wait for, and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from gps_denied_onboard.graph import NODES, Durability, QosSpec, Reliability, Topic, topic_spec
from gps_denied_onboard.graph.nodes import NodeSpec
from gps_denied_onboard.replay.bag import BagTopic
from gps_denied_onboard.replay.errors import BadRemapError, ReplayError
from gps_denied_onboard.replay.plan import (
    CLOCK_QOS,
    DEFAULT_QOS,
    MAX_HISTORY_DEPTH,
    SKIP_CLOCK,
    SKIP_EMPTY,
    ReplayOptions,
    expected_subscribers,
    plan_topics,
    publish_qos,
)
from gps_denied_onboard.replay.report import ReplayReport, format_report, report_to_json

BEST_EFFORT_5 = QosSpec("bag_offered", Reliability.BEST_EFFORT, Durability.VOLATILE, 5)
RELIABLE_LATCHED_3 = QosSpec("bag_offered", Reliability.RELIABLE, Durability.TRANSIENT_LOCAL, 3)


def test_a_declared_topic_keeps_the_graphs_qos_whatever_the_bag_says() -> None:
    assert publish_qos(Topic.IMU.value, [RELIABLE_LATCHED_3], 400) == topic_spec(Topic.IMU).qos, (
        "best effort: no deep history"
    )
    gps = publish_qos(Topic.GNSS_FIX.value, [BEST_EFFORT_5], 20)
    assert (gps.reliability, gps.durability, gps.depth) == (Reliability.RELIABLE, Durability.VOLATILE, 20)


def test_reliable_history_holds_the_window_up_to_the_cap() -> None:
    assert publish_qos(Topic.GNSS_FIX.value, [], 3).depth == 10, "never shallower than declared"
    assert publish_qos(Topic.FLIGHT_STATE.value, [], 7).depth == 7
    assert publish_qos(Topic.GNSS_FIX.value, [], 10**6).depth == MAX_HISTORY_DEPTH


def test_an_undeclared_topic_uses_the_recorded_offer_when_publishers_agreed() -> None:
    assert publish_qos("/px4/status", [BEST_EFFORT_5], 100) == BEST_EFFORT_5
    deeper = QosSpec("bag_offered", Reliability.BEST_EFFORT, Durability.VOLATILE, 50)
    assert publish_qos("/px4/status", [BEST_EFFORT_5, deeper], 100) == deeper
    latched = publish_qos("/px4/latched", [RELIABLE_LATCHED_3], 2)
    assert (latched.reliability, latched.durability, latched.depth) == (
        Reliability.RELIABLE,
        Durability.TRANSIENT_LOCAL,
        3,
    )


def test_disagreeing_or_missing_offers_fall_back_to_the_default() -> None:
    assert publish_qos("/mixed", [BEST_EFFORT_5, RELIABLE_LATCHED_3], 4) == DEFAULT_QOS
    assert publish_qos("/old_bag", [], 4) == DEFAULT_QOS
    assert publish_qos("/old_bag", [], 400).depth == 400


def bag_topic(name: str, *types: str, count: int = 5) -> BagTopic:
    return BagTopic(name, types or ("std_msgs/msg/String",), count, ())


def test_plan_publishes_each_topic_under_its_output_name() -> None:
    topics = [bag_topic("/gps/fix", "sensor_msgs/msg/NavSatFix"), bag_topic("/a")]
    plan = plan_topics(topics, {"/gps/fix": "/gps/fix", "/a": "/b"}, {"/gps/fix": 20, "/a": 4})
    assert [(p.bag_topic, p.topic, p.count) for p in plan.topics] == [("/gps/fix", "/gps/fix", 20), ("/a", "/b", 4)]
    assert plan.topics[0].qos.reliability is Reliability.RELIABLE
    assert plan.skipped == {}
    assert plan.clock_qos.depth == max(CLOCK_QOS.depth, 24)
    assert plan.clock_qos.reliability is Reliability.RELIABLE


def test_plan_skips_what_it_cannot_replay_with_reasons() -> None:
    topics = [
        bag_topic("/clock", "rosgraph_msgs/msg/Clock"),
        bag_topic("/two", "std_msgs/msg/String", "std_msgs/msg/Int32"),
        bag_topic("/quiet"),
        bag_topic("/ros1/2nd_camera"),
        bag_topic("/ok"),
    ]
    counts = {"/clock": 5, "/two": 5, "/quiet": 0, "/ros1/2nd_camera": 3, "/ok": 1}
    plan = plan_topics(topics, {}, counts)
    assert [p.topic for p in plan.topics] == ["/ok"]
    assert plan.skipped == {
        "/clock": SKIP_CLOCK,
        "/two": "2 message types on one topic: ['std_msgs/msg/String', 'std_msgs/msg/Int32']",
        "/quiet": SKIP_EMPTY,
        "/ros1/2nd_camera": "not a valid ROS 2 topic name",
    }
    kept = plan_topics(topics[:1], {"/clock": "/bag/clock"}, counts)
    assert [p.topic for p in kept.topics] == ["/bag/clock"], "a remapped recorded /clock is replayed"


def test_nothing_may_be_remapped_onto_clock() -> None:
    with pytest.raises(BadRemapError, match="cannot remap /a onto /clock"):
        plan_topics([bag_topic("/a")], {"/a": "/clock"}, {"/a": 1})


def test_expected_subscribers_follow_the_declaration() -> None:
    # /imu/data: vio_node and state_estimator_node declare it, and the recorder subscribes to everything.
    assert expected_subscribers(Topic.IMU.value) == 3
    assert expected_subscribers(Topic.FLIGHT_STATE.value) == 2  # tile_manager_node + recorder
    assert expected_subscribers("/not/declared") == 1  # the recorder
    assert expected_subscribers("/clock") == len(NODES) + 1, "each node's time source, and the recorder"
    assert expected_subscribers("/clock", sim_time=False) == 1


def test_expected_subscribers_apply_node_remappings() -> None:
    node = NodeSpec("n", "c", publishes=(), subscribes=(Topic.IMU,), remappings=((Topic.IMU.value, "/imu/raw"),))
    assert expected_subscribers("/imu/raw", [node], sim_time=False) == 1
    assert expected_subscribers(Topic.IMU.value, [node], sim_time=False) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"wait_for_subscribers_s": -1.0}, "--wait-for-subscribers"), ({"quiet_s": 0.0}, "--quiet-period")],
)
def test_bad_options_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        ReplayOptions(bag=Path("b"), **kwargs)  # type: ignore[arg-type]


def report(**overrides: object) -> ReplayReport:
    values: dict[str, object] = {
        "bag": Path("/bags/flight"),
        "published": {"/gps/fix": 20, "/imu/data": 398},
        "in_window": {"/gps/fix": 20, "/imu/data": 400},
        "clock_published": 418,
        "bag_duration_s": 1.995,
        "wall_duration_s": 1.0012,
        "skipped": {"/fmu/status": "message type not importable: px4_msgs"},
        "unmatched": ("/imu/data",),
        "rate": 2.0,
        "deterministic": False,
    }
    values.update(overrides)
    return ReplayReport(**values)  # type: ignore[arg-type]


def test_report_table() -> None:
    text = format_report(report())
    lines = text.splitlines()
    assert lines[0] == "replayed /bags/flight (rate 2x)"
    assert lines[1].split() == ["topic", "published", "in", "window"]
    assert lines[2].split() == ["/gps/fix", "20", "20"]
    assert lines[3].split() == ["/imu/data", "398", "400"]
    assert lines[4].split() == ["/clock", "418", "-"]
    assert "418 messages; bag time 1.995 s, wall time 1.001 s" in text
    assert "  /fmu/status: message type not importable: px4_msgs" in text
    assert "short of subscribers at the start (first messages may be lost): /imu/data" in text
    assert "INTERRUPTED" in format_report(report(interrupted=True)).splitlines()[0]
    assert "(as fast as possible)" in format_report(report(rate=None))
    assert "(deterministic" in format_report(report(rate=None, deterministic=True))


def test_report_json() -> None:
    data = report_to_json(report())
    assert data["messages_published"] == 418
    assert data["published"] == {"/gps/fix": 20, "/imu/data": 398}
    assert data["rate"] == 2.0
    assert data["unmatched"] == ["/imu/data"]
    assert data["bag"] == "/bags/flight"
