"""What the facade reports: the source label, the estimate, the status snapshot and its events.

``EstimatorSnapshot`` carries every EstimatorStatus.msg field under the same name (a contract
test checks it); the enums carry the message's constant values.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from gps_denied_onboard.estimator.backend import NavState
from gps_denied_onboard.estimator.gate import GnssTrust

# Event names (Event.msg ``name``), one per kind of decision.
EVENT_ORIGIN_SET = "origin_set"
EVENT_INITIALIZED = "estimator_initialized"
EVENT_RESET = "estimator_reset"
EVENT_GNSS_TRUST = "gnss_trust_changed"
EVENT_SOURCE = "source_changed"
EVENT_VIO_DISCONTINUITY = "vio_discontinuity"
EVENT_VIO_NOT_FUSED = "vio_not_fused"
EVENT_ALIGNMENT_WAITING = "alignment_waiting"
EVENT_GEOFIX_REJECTED = "geofix_rejected"
EVENT_ACCEL_CLIPPING = "accel_clipping"


class SourceLabel(enum.IntEnum):
    """Source of the horizontal position, with the values of EstimatorStatus.SOURCE_*."""

    GNSS = 0
    VISUAL = 1
    VIO_ONLY = 2
    DEAD_RECKONING = 3


class BackendId(enum.IntEnum):
    """EstimatorStatus.BACKEND_* values."""

    ISAM2 = 0
    ESKF = 1


@dataclass(frozen=True)
class Event:
    """A discrete decision for /events and the flight record (data is JSON-serialisable)."""

    name: str
    stamp_ns: int
    data: Mapping[str, object]


@dataclass(frozen=True)
class Estimate:
    """The navigation state at the newest IMU stamp and its position in WGS84 (ellipsoidal height)."""

    state: NavState
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    fused_ns: int = 0  # the fused time the state was predicted forward from (<= state.t_ns)


@dataclass(frozen=True)
class EstimatorSnapshot:
    """Every EstimatorStatus field (same names and enum values), plus a few diagnostics."""

    stamp_ns: int
    source: SourceLabel
    backend: BackendId
    gnss_trust: GnssTrust
    gnss_reject_reason: str
    gnss_innovation_mahalanobis: float
    gnss_horizontal_delta_m: float
    gnss_dwell_s: float
    horizontal_sigma_m: float
    vertical_sigma_m: float
    origin_set: bool
    origin_latitude_deg: float
    origin_longitude_deg: float
    origin_altitude_m: float
    imu_samples: int
    vio_updates: int
    geofix_accepted: int
    geofix_rejected: int
    gnss_accepted: int
    gnss_rejected: int
    update_latency_ms: float
    initialized: bool = False
    resets: int = 0
    gnss_drift_mahalanobis: float = math.nan
    vio_rejected: int = 0
    baro_updates: int = 0
    events_dropped: int = 0
    vio_received: int = 0
    vio_not_fused: int = 0
    vio_anchored: int = 0  # messages that started a VIO chain (the first, after a reset)
    vio_not_fused_by_reason: Mapping[str, int] = field(default_factory=dict)
    fusion_delay_ms: float = math.nan
    baro_gnss_offset_m: float = math.nan
    gnss_vertical_rejected: int = 0
    accel_clipped: int = 0
    geofix_heading_accepted: int = 0
    geofix_heading_rejected: int = 0
