"""The snapshot and events against their ROS contracts: msg/EstimatorStatus.msg and msg/Event.msg."""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest
from estimator_synthetic import Scenario, Spoof, config_for, feed, simulate, start

from conftest import REPO_ROOT
from gps_denied_onboard.estimator.gate import GnssTrust
from gps_denied_onboard.estimator.status import BackendId, EstimatorSnapshot, SourceLabel

STATUS_MSG = REPO_ROOT / "msg" / "EstimatorStatus.msg"


def message_fields() -> tuple[dict[str, str], dict[str, int]]:
    """(field name -> type, constant name -> value) of EstimatorStatus.msg."""
    fields: dict[str, str] = {}
    constants: dict[str, int] = {}
    for raw in STATUS_MSG.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if match := re.fullmatch(r"(\w+)\s+([A-Z_0-9]+)\s*=\s*(\d+)", line):
            constants[match.group(2)] = int(match.group(3))
        else:
            type_name, name = line.split()
            fields[name] = type_name
    return fields, constants


def test_the_snapshot_carries_every_status_field() -> None:
    fields, _ = message_fields()
    snapshot_fields = {f.name for f in dataclasses.fields(EstimatorSnapshot)}
    missing = set(fields) - {"header"} - snapshot_fields
    assert not missing, f"EstimatorStatus fields without a snapshot field: {sorted(missing)}"
    assert "stamp_ns" in snapshot_fields  # the header stamp


@pytest.mark.parametrize(
    ("prefix", "enum_type"), [("SOURCE_", SourceLabel), ("BACKEND_", BackendId), ("GNSS_", GnssTrust)]
)
def test_enum_values_match_the_message_constants(prefix: str, enum_type: type) -> None:
    _, constants = message_fields()
    expected = {name.removeprefix(prefix): value for name, value in constants.items() if name.startswith(prefix)}
    assert {member.name: member.value for member in enum_type} == expected


def test_every_event_of_a_flight_serialises_to_json() -> None:
    scenario = Scenario(seed=41, duration_s=25.0, spoof=Spoof(start_s=12.0, jump_m=40.0), baro_rate_hz=5.0)
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, "eskf"))
    feed(estimator, flight.measurements)
    events = estimator.drain_events()
    names = {e.name for e in events}
    assert {"origin_set", "estimator_initialized", "gnss_trust_changed", "source_changed"} <= names
    for event in events:
        decoded = orjson.loads(orjson.dumps(dict(event.data)))
        assert decoded.keys() == event.data.keys()
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", event.name)
    trust = [e for e in events if e.name == "gnss_trust_changed"]
    assert all({"previous", "current", "reason"} <= e.data.keys() for e in trust)
