"""Reading trajectories, phases and status from rosbag2 bags (MCAP and sqlite3); each bad input a typed error."""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np
import pytest
from eval_factory import NS, T0_NS, BagMsg, MessageFactory, noisy, wavy_flight, write_eval_bag

from gps_denied_onboard.evaluation.bag_input import EvalBag
from gps_denied_onboard.evaluation.errors import (
    BagNotFoundError,
    BagReadError,
    InvalidPhaseError,
    InvalidStatusError,
    InvalidTrajectoryError,
    TopicMissingError,
    TopicTypeError,
)
from gps_denied_onboard.evaluation.phases import EstimatorSource, GnssTrust, PhaseKind
from gps_denied_onboard.evaluation.trajectory import Trajectory
from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.rosbag_types import onboard_typestore

FACTORY = MessageFactory()
GT, STATE = Topic.GROUND_TRUTH.value, Topic.STATE_ODOMETRY.value


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_reads_odometry_phases_and_status(tmp_path: Path, storage: str) -> None:
    truth = wavy_flight(30)
    estimate = noisy(truth)
    messages = [
        *FACTORY.odometry(GT, truth),
        *FACTORY.odometry(STATE, estimate),
        FACTORY.phase(T0_NS + 3 * NS, T0_NS + 4 * NS, PhaseKind.GNSS_SPOOF_JUMP, "jump"),
        FACTORY.phase(T0_NS + NS, T0_NS + 2 * NS, PhaseKind.GNSS_DENIED, "denied"),
        *FACTORY.status([T0_NS, T0_NS + NS], [0, 2], [1, 3]),
    ]
    with EvalBag(write_eval_bag(tmp_path / "bag", messages, storage)) as bag:
        read_truth = bag.read_odometry(GT)
        read_estimate = bag.read_odometry(STATE)
        phases = bag.read_phases()
        status = bag.read_status()
    assert read_truth.stamps_ns.tolist() == truth.stamps_ns.tolist()  # header stamps, not the 1 ms later receipt
    np.testing.assert_array_equal(read_truth.positions_xyz, truth.positions_xyz)
    np.testing.assert_allclose(read_estimate.orientations_quat_wxyz, estimate.orientations_quat_wxyz, atol=1e-15)
    assert read_truth.frame_id == "map"
    assert read_truth.name == GT
    assert [(w.name, w.kind, w.start_ns, w.end_ns) for w in phases] == [
        ("denied", PhaseKind.GNSS_DENIED, T0_NS + NS, T0_NS + 2 * NS),
        ("jump", PhaseKind.GNSS_SPOOF_JUMP, T0_NS + 3 * NS, T0_NS + 4 * NS),
    ]
    assert status is not None
    assert status.source.tolist() == [0, 2]
    assert status.gnss_trust.tolist() == [1, 3]


def test_out_of_order_header_stamps_are_sorted(tmp_path: Path) -> None:
    truth = wavy_flight(10)
    messages = FACTORY.odometry(GT, truth)
    reordered = [BagMsg(m.topic, m.msg_type, T0_NS + k, m.cdr) for k, m in enumerate(reversed(messages))]
    with EvalBag(write_eval_bag(tmp_path / "bag", reordered)) as bag:
        assert bag.read_odometry(GT).stamps_ns.tolist() == truth.stamps_ns.tolist()


def test_bag_without_phases_or_status(tmp_path: Path) -> None:
    with EvalBag(write_eval_bag(tmp_path / "bag", FACTORY.odometry(GT, wavy_flight(5)))) as bag:
        assert bag.read_phases() == ()
        assert bag.read_status() is None
        assert bag.missing_reason(STATE) == "not in bag"
        assert bag.missing_reason(GT) is None


def test_missing_bag_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(BagNotFoundError, match="does not exist"):
        EvalBag(tmp_path / "nope")


def test_directory_without_metadata_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagReadError, match=r"is not a rosbag2 bag: it has no metadata\.yaml"):
        EvalBag(tmp_path / "empty")


def test_garbage_metadata_is_a_typed_error(tmp_path: Path) -> None:
    bag = write_eval_bag(tmp_path / "bag", FACTORY.odometry(GT, wavy_flight(5)))
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed\n")
    with pytest.raises(BagReadError, match="cannot read bag"):
        EvalBag(bag)


def test_missing_topic_is_a_typed_error_listing_what_the_bag_has(tmp_path: Path) -> None:
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", FACTORY.odometry(GT, wavy_flight(5)))) as bag,
        pytest.raises(TopicMissingError, match=rf"topic {STATE} is not in bag .*; it has \['{GT}'\]"),
    ):
        bag.read_odometry(STATE)


def test_topic_of_another_type_is_a_typed_error(tmp_path: Path) -> None:
    messages = [*FACTORY.odometry(GT, wavy_flight(5)), *FACTORY.status([T0_NS], [0], [1])]
    with EvalBag(write_eval_bag(tmp_path / "bag", messages)) as bag:
        status_type = topic_spec(Topic.STATE_STATUS).msg_type
        with pytest.raises(TopicTypeError, match=f"is {status_type}, not nav_msgs/msg/Odometry"):
            bag.read_odometry(Topic.STATE_STATUS.value)


def test_undecodable_message_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    good = FACTORY.odometry(GT, wavy_flight(3))
    broken = BagMsg(good[2].topic, good[2].msg_type, good[2].stamp_ns, good[2].cdr[:30])
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", [*good[:2], broken])) as bag,
        pytest.raises(BagReadError, match=f"cannot decode message 2 of {GT} .* as nav_msgs/msg/Odometry"),
    ):
        bag.read_odometry(GT)


def test_nan_pose_in_a_bag_is_a_typed_error(tmp_path: Path) -> None:
    truth = wavy_flight(4)
    positions = truth.positions_xyz.copy()
    positions[2, 1] = np.nan
    bad = Trajectory.__new__(Trajectory)  # bypass validation: a producer that published NaN
    object.__setattr__(bad, "stamps_ns", truth.stamps_ns)
    object.__setattr__(bad, "positions_xyz", positions)
    object.__setattr__(bad, "orientations_quat_wxyz", truth.orientations_quat_wxyz)
    object.__setattr__(bad, "frame_id", "map")
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", FACTORY.odometry(GT, bad))) as bag,
        pytest.raises(InvalidTrajectoryError, match=f"{GT}: positions_xyz of pose 2 .* is not finite"),
    ):
        bag.read_odometry(GT)


def test_unknown_phase_kind_in_a_bag_is_a_typed_error(tmp_path: Path) -> None:
    messages = [*FACTORY.odometry(GT, wavy_flight(5)), FACTORY.phase(T0_NS, T0_NS + NS, 42, "odd")]
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", messages)) as bag,
        pytest.raises(InvalidPhaseError, match="unknown scenario phase kind 42"),
    ):
        bag.read_phases()


def test_phase_ending_at_its_start_in_a_bag_is_a_typed_error(tmp_path: Path) -> None:
    messages = [*FACTORY.odometry(GT, wavy_flight(5)), FACTORY.phase(T0_NS + NS, T0_NS, 0, "backwards")]
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", messages)) as bag,
        pytest.raises(InvalidPhaseError, match="phase backwards ends at"),
    ):
        bag.read_phases()


@pytest.mark.parametrize(
    ("msg_type", "enum_type", "prefix"),
    [
        ("onboard/msg/ScenarioPhase", PhaseKind, ""),
        ("onboard/msg/EstimatorStatus", EstimatorSource, "SOURCE_"),
        ("onboard/msg/EstimatorStatus", GnssTrust, "GNSS_"),
    ],
)
def test_enums_mirror_the_msg_constants(msg_type: str, enum_type: type[enum.IntEnum], prefix: str) -> None:
    constants, _ = onboard_typestore().fielddefs[msg_type]
    from_msg = {name.removeprefix(prefix): value for name, _, value in constants if name.startswith(prefix)}
    assert from_msg == {member.name: member.value for member in enum_type}


def test_unknown_status_label_in_a_bag_is_a_typed_error(tmp_path: Path) -> None:
    messages = [*FACTORY.odometry(GT, wavy_flight(5)), *FACTORY.status([T0_NS], [9], [1])]
    with (
        EvalBag(write_eval_bag(tmp_path / "bag", messages)) as bag,
        pytest.raises(InvalidStatusError, match=r"source value\(s\) \[9\] are unknown"),
    ):
        bag.read_status()


def test_topic_recorded_without_messages_is_missing(tmp_path: Path) -> None:
    path = write_eval_bag(tmp_path / "bag", FACTORY.odometry(GT, wavy_flight(5)), extra_topics=[STATE])
    with EvalBag(path) as bag:
        assert bag.missing_reason(STATE) == "no messages"
        with pytest.raises(TopicMissingError, match=rf"topic {STATE} is empty in bag"):
            bag.read_odometry(STATE)
