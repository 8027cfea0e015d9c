"""QoS profiles named by purpose, as pure data (converted to rclpy in ros/qos.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reliability(enum.Enum):
    """DDS reliability kind."""

    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"


class Durability(enum.Enum):
    """DDS durability kind."""

    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"


@dataclass(frozen=True)
class QosSpec:
    """A KEEP_LAST QoS profile: reliability, durability and history depth."""

    name: str
    reliability: Reliability
    durability: Durability
    depth: int

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"QoS {self.name!r}: depth must be >= 1, got {self.depth}")


# Camera frames: a late frame is worthless, and a reliable writer would stall the driver.
SENSOR_DATA = QosSpec("sensor_data", Reliability.BEST_EFFORT, Durability.VOLATILE, 5)
# IMU at 200 Hz: best effort like any sensor, deep enough to ride out a 1 s executor stall.
IMU_DATA = QosSpec("imu_data", Reliability.BEST_EFFORT, Durability.VOLATILE, 200)
# Estimates and fixes: every sample matters to the consumer, so none may be dropped silently.
STATE = QosSpec("state", Reliability.RELIABLE, Durability.VOLATILE, 10)
# Slow status: a late joiner (rviz, Foxglove, the FDR) must get the current value at once.
LATCHED_STATUS = QosSpec("latched_status", Reliability.RELIABLE, Durability.TRANSIENT_LOCAL, 1)
# /diagnostics as diagnostic_aggregator expects it (the rclpy default profile).
DIAGNOSTICS = QosSpec("diagnostics", Reliability.RELIABLE, Durability.VOLATILE, 10)

# /rosout as rcl publishes it (reliable, transient local, 1000): matching it receives the
# recent logs of nodes that started earlier; a volatile offer would not match such readers.
ROSOUT = QosSpec("rosout", Reliability.RELIABLE, Durability.TRANSIENT_LOCAL, 1000)

# Component events: rare, but they come in bursts (a trust change and its reason together) and
# every one belongs in the flight record, so a deeper reliable queue than state.
EVENTS = QosSpec("events", Reliability.RELIABLE, Durability.VOLATILE, 100)

PRESETS: tuple[QosSpec, ...] = (SENSOR_DATA, IMU_DATA, STATE, LATCHED_STATUS, DIAGNOSTICS, ROSOUT, EVENTS)
