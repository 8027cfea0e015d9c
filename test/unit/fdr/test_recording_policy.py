"""What the FDR node records and how: topic filters, rosbag2-style QoS adaptation, overrides, ids."""

from __future__ import annotations

import re

import pytest

from gps_denied_onboard.fdr.errors import FdrConfigError
from gps_denied_onboard.fdr.format import check_flight_id
from gps_denied_onboard.fdr.recording_policy import (
    PublisherQos,
    TopicFilter,
    adapt_qos,
    new_flight_id,
    parse_queue_overrides,
)
from gps_denied_onboard.graph.qos import Durability, Reliability

BE, REL = Reliability.BEST_EFFORT, Reliability.RELIABLE
VOL, TL = Durability.VOLATILE, Durability.TRANSIENT_LOCAL


def test_default_filter_records_everything_but_raw_rosout() -> None:
    topics = TopicFilter()
    assert topics.accepts("/imu/data")
    assert topics.accepts("/fdr/status")
    assert not topics.accepts("/rosout")


def test_include_and_exclude_patterns() -> None:
    topics = TopicFilter(include=("^/camera/", "^/imu"), exclude=("image_raw$",))
    assert topics.accepts("/camera/camera_info")
    assert topics.accepts("/imu/data")
    assert not topics.accepts("/camera/image_raw")
    assert not topics.accepts("/state/odometry")


def test_bad_regex_names_the_parameter() -> None:
    with pytest.raises(FdrConfigError, match=re.escape("fdr exclude_patterns: invalid regular expression '(['")):
        TopicFilter(exclude=("([",))


@pytest.mark.parametrize(
    ("publishers", "expected"),
    [
        ([(REL, VOL)], (REL, VOL)),
        ([(BE, VOL)], (BE, VOL)),
        ([(REL, VOL), (BE, VOL)], (BE, VOL)),  # any best effort -> best effort, or that publisher is lost
        ([(REL, TL)], (REL, TL)),  # all latched -> latched: late joiners' samples are recorded
        ([(REL, TL), (REL, VOL)], (REL, VOL)),  # a volatile publisher cannot serve a transient-local reader
    ],
)
def test_qos_adapts_to_every_publisher(publishers: list[tuple[Reliability, Durability]], expected: object) -> None:
    qos = adapt_qos([PublisherQos(r, d) for r, d in publishers], depth=50)
    assert (qos.reliability, qos.durability) == expected
    assert qos.depth == 50


def test_adapting_to_no_publisher_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one publisher"):
        adapt_qos([], depth=1)


def test_queue_overrides_parse_and_reject_garbage() -> None:
    assert parse_queue_overrides(["/camera/image_raw=64", "/imu/data=8192"]) == {
        "/camera/image_raw": 64,
        "/imu/data": 8192,
    }
    with pytest.raises(FdrConfigError, match="must look like"):
        parse_queue_overrides(["/imu/data"])
    with pytest.raises(FdrConfigError, match="is not an integer"):
        parse_queue_overrides(["/imu/data=big"])


def test_generated_flight_ids_are_valid_sortable_and_unique() -> None:
    first, second = new_flight_id(1_795_000_000.0), new_flight_id(1_795_000_000.0)
    assert first.startswith("20261118T")
    assert first != second
    assert check_flight_id(first) == first
