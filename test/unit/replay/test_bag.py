"""Reading bags for replay: topics, bag order, window, remapping, and typed errors for bad bags."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from bag_factory import T0_NS, UNKNOWN_TYPE, Msg, WrittenBag, write_bag, write_flight

from gps_denied_onboard.graph import Reliability, Topic
from gps_denied_onboard.replay.bag import Bag, Window, parse_remaps
from gps_denied_onboard.replay.errors import BadRemapError, BadWindowError, BagNotFoundError, BagReadError

pytestmark = pytest.mark.ros  # the bags hold CDR serialized by rclpy

STORAGES = ["mcap", "sqlite3"]
S = 1_000_000_000


@pytest.fixture(params=STORAGES)
def flight(request: pytest.FixtureRequest, tmp_path: Path) -> WrittenBag:
    return write_flight(tmp_path / f"bag-{request.param}", request.param)


def storage_file(bag: Path) -> Path:
    return next(p for p in bag.iterdir() if p.name != "metadata.yaml")


def test_topics_with_type_count_and_offered_qos(flight: WrittenBag) -> None:
    with Bag(flight.path) as bag:
        topics = {t.name: t for t in bag.topics}
        assert set(topics) == {Topic.IMU.value, Topic.GNSS_FIX.value, Topic.FLIGHT_STATE.value}
        assert {name: t.count for name, t in topics.items()} == flight.counts()
        assert topics[Topic.IMU.value].msg_types == ("sensor_msgs/msg/Imu",)
        assert topics[Topic.FLIGHT_STATE.value].msg_types == ("onboard/msg/FlightState",)
        imu_qos = topics[Topic.IMU.value].offered_qos
        assert [(q.reliability, q.depth) for q in imu_qos] == [(Reliability.BEST_EFFORT, 200)]
        assert topics[Topic.GNSS_FIX.value].offered_qos[0].reliability is Reliability.RELIABLE
        assert bag.start_ns == T0_NS
        assert bag.end_ns == flight.messages[-1].stamp_ns


def test_messages_in_bag_order_byte_identical(flight: WrittenBag) -> None:
    with Bag(flight.path) as bag:
        got = list(bag.messages(Window()))
    assert got == [tuple(m) for m in flight.messages]
    assert [m.stamp_ns for m in got] == sorted(m.stamp_ns for m in got)


def test_window_is_inclusive_and_relative_to_the_bag_start(flight: WrittenBag) -> None:
    first, last = T0_NS + S // 2, T0_NS + S  # [0.5 s, 1.0 s]: the IMU sample at exactly 1.0 s is in
    expected = [tuple(m) for m in flight.messages if first <= m.stamp_ns <= last]
    with Bag(flight.path) as bag:
        got = list(bag.messages(Window(start_s=0.5, duration_s=0.5)))
        counts = bag.counts(Window(start_s=0.5, duration_s=0.5))
        assert bag.window_ns(Window(start_s=0.5, duration_s=0.5)) == (first, last)
    assert got == expected
    assert got[-1][2] == last
    assert counts == {
        topic: sum(1 for m in expected if m[0] == topic)
        for topic in (Topic.IMU.value, Topic.GNSS_FIX.value, Topic.FLIGHT_STATE.value)
    }
    assert counts[Topic.IMU.value] == 101


def test_window_to_the_end_and_topic_selection(flight: WrittenBag) -> None:
    with Bag(flight.path) as bag:
        got = list(bag.messages(Window(start_s=1.5), topics=[Topic.GNSS_FIX.value]))
    assert got == [tuple(m) for m in flight.on(Topic.GNSS_FIX.value) if m.stamp_ns >= T0_NS + 3 * S // 2]
    assert len(got) == 5


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (lambda: Window(start_s=-1.0), "--start must be"),
        (lambda: Window(duration_s=0.0), "--duration must be"),
        (lambda: Window(duration_s=float("nan")), "--duration must be"),
        (lambda: Window(start_s=float("inf")), "--start must be"),
    ],
    ids=["negative-start", "zero-duration", "nan-duration", "infinite-start"],
)
def test_bad_windows_are_refused(window: object, message: str) -> None:
    with pytest.raises(BadWindowError, match=message):
        window()  # type: ignore[operator]


def test_a_window_past_the_end_is_refused(flight: WrittenBag) -> None:
    with Bag(flight.path) as bag, pytest.raises(BadWindowError, match=r"past the end .* \(1\.995 s long\)"):
        list(bag.messages(Window(start_s=3.0)))


def test_remap_renames_only_the_named_topic(flight: WrittenBag) -> None:
    remaps = parse_remaps(["/gps/fix:=/replay/gps_fix"])
    with Bag(flight.path) as bag:
        got = list(bag.messages(Window(), remaps))
    assert {m.topic for m in got} == {Topic.IMU.value, "/replay/gps_fix", Topic.FLIGHT_STATE.value}
    assert [m.cdr for m in got if m.topic == "/replay/gps_fix"] == [m.cdr for m in flight.on(Topic.GNSS_FIX.value)]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["/gps/fix=/x"], "not of the form FROM:=TO"),
        (["gps/fix:=/x"], "source 'gps/fix' is not an absolute ROS topic name"),
        (["/gps/fix:=/x/1st"], "target '/x/1st' is not an absolute"),
        (["/gps/fix:=/x/"], "target '/x/' is not an absolute"),
        (["/gps/fix:=/x//y"], "target '/x//y' is not an absolute"),
        (["/gps/fix:=/x-y"], "target '/x-y' is not an absolute"),
        (["/gps/fix:=/a", "/gps/fix:=/b"], "remapped twice"),
    ],
    ids=["no-separator", "relative", "digit-token", "trailing-slash", "double-slash", "bad-char", "twice"],
)
def test_malformed_remaps_are_refused(specs: list[str], message: str) -> None:
    with pytest.raises(BadRemapError, match=message):
        parse_remaps(specs)


def test_remaps_are_checked_against_the_bag(flight: WrittenBag) -> None:
    with Bag(flight.path) as bag:
        with pytest.raises(BadRemapError, match=r"\['/gps/fixx'\] not in bag"):
            bag.check_remaps(parse_remaps(["/gps/fixx:=/a"]))
        with pytest.raises(
            BadRemapError, match=r"would publish bag topics \['/gps/fix', '/imu/data'\] all on /imu/data"
        ):
            bag.check_remaps(parse_remaps(["/gps/fix:=/imu/data"]))
        swapped = bag.check_remaps(parse_remaps(["/gps/fix:=/imu/data", "/imu/data:=/gps/fix"]))
    assert swapped[Topic.GNSS_FIX.value] == Topic.IMU.value, "a swap publishes each topic on one name"


def test_a_missing_bag_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(BagNotFoundError, match=r"bag .*/nope does not exist"):
        Bag(tmp_path / "nope")


def test_a_directory_without_metadata_is_not_a_bag(tmp_path: Path) -> None:
    (tmp_path / "junk.bin").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(BagReadError, match=r"is not a rosbag2 bag: it has no metadata\.yaml$"):
        Bag(tmp_path)


def test_an_fdr_flight_directory_gets_a_hint(tmp_path: Path) -> None:
    (tmp_path / "segment-0000.fdr").write_bytes(b"FDR")
    with pytest.raises(BagReadError, match=r"it is an FDR flight: `onboard fdr export"):
        Bag(tmp_path)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("damage", ["garbage-metadata", "garbage-storage", "truncated-storage", "missing-storage"])
def test_corrupt_bags_are_typed_errors(tmp_path: Path, storage: str, damage: str) -> None:
    written = write_flight(tmp_path / "bag", storage)
    data = storage_file(written.path)
    if damage == "garbage-metadata":
        (written.path / "metadata.yaml").write_text("rosbag2_bagfile_information: [1, 2\n")
    elif damage == "garbage-storage":
        data.write_bytes(b"\x13\x37" * 4096)
    elif damage == "truncated-storage":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    else:
        data.unlink()
    pattern = rf"cannot read .*bag {re.escape(str(written.path))}: \w+"
    with pytest.raises(BagReadError, match=pattern), Bag(written.path) as bag:
        list(bag.messages(Window()))


def test_corruption_inside_the_data_is_a_typed_error(tmp_path: Path) -> None:
    """A bag whose index is intact but whose message bytes are not: it opens, and the error comes
    while iterating; that too is a BagReadError, never the parser's own exception."""
    written = write_flight(tmp_path / "bag", "mcap")
    data = storage_file(written.path)
    raw = bytearray(data.read_bytes())
    # The last message's record (rosbags stores chunks uncompressed, without CRC): opcode 0x05, u64
    # length, then channel id, sequence, log and publish times (22 bytes) before the CDR.
    record = raw.find(written.messages[-1].cdr) - 22 - 8 - 1
    assert record > 0
    assert raw[record] == 0x05
    raw[record + 1 : record + 9] = (4).to_bytes(8, "little")  # too short for its own header
    data.write_bytes(bytes(raw))
    with Bag(written.path) as bag:
        messages = bag.messages(Window())
        with pytest.raises(BagReadError, match=r"cannot read the messages of bag .*: struct\.error: unpack requires"):
            list(messages)


def test_unknown_message_types_are_read_like_any_other(tmp_path: Path) -> None:
    """The core does not need a type's Python class; whether it can be published is the node's call."""
    messages = [Msg("/fmu/out/vehicle_status", UNKNOWN_TYPE, T0_NS + i, bytes([0, 1, 0, 0, i])) for i in range(3)]
    written = write_bag(tmp_path / "bag", "mcap", messages)
    with Bag(written.path) as bag:
        assert [(t.name, t.msg_types, t.count) for t in bag.topics] == [("/fmu/out/vehicle_status", (UNKNOWN_TYPE,), 3)]
        assert [m.cdr for m in bag.messages(Window())] == [m.cdr for m in messages]


def test_an_empty_bag_has_no_messages(tmp_path: Path) -> None:
    written = write_bag(tmp_path / "bag", "sqlite3", [])
    with Bag(written.path) as bag:
        assert bag.topics == ()
        assert bag.duration_ns == 0
        assert list(bag.messages(Window())) == []


def test_a_bag_that_is_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a bag")
    with pytest.raises(BagReadError, match="Unrecognized storage format"):
        Bag(path)


def test_copying_a_bag_keeps_it_readable(flight: WrittenBag, tmp_path: Path) -> None:
    """The reader depends on nothing but the directory (relative storage paths in metadata.yaml)."""
    copy = tmp_path / "copy"
    shutil.copytree(flight.path, copy)
    with Bag(copy) as bag:
        assert len(list(bag.messages(Window()))) == len(flight.messages)
