"""VIO odometry messages -> relative-pose increments for the backend, with every message accounted for.

The facade releases VIO messages in stamp order, each after the IMU samples up to its stamp (the
fused time waits for late VIO, see estimator.ordering), so an increment is always applied
between the states at its own two stamps. Consecutive messages of one VIO chain give
``T_b0_b1 = T_odom_b0^-1 T_odom_b1``; its covariance comes from the twist covariance times the
interval (VIO pose covariances are cumulative and their difference is ill-conditioned), inflated
by ``vio.covariance_scale`` (VIO covariances are optimistic: on real data the reported sigma was
3-5x below the actual error) and floored per second of interval.

A gap up to ``vio.max_bridge_s`` (frames dropped under load) is bridged by the next increment
with its covariance grown over the gap; a longer gap, or a jump no vehicle can make, starts a new
chain (the message anchors it). Each message is counted once: ``fused``, ``anchored`` (it starts
a chain), or not fused with a ``VioDrop`` reason; the sum always equals ``received``.

The drift test's GNSS-independent reference (``ReferencePoint``) is also kept here: the chain's
increments rotated into the map frame with the estimated attitude and summed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import FloatArray
from gps_denied_onboard.estimator.backend import ATT, FusionBackend, NavState, VioIncrement
from gps_denied_onboard.estimator.config import VioConfig
from gps_denied_onboard.estimator.gate import ReferencePoint
from gps_denied_onboard.estimator.intake import VioMessage

NS_PER_S = 1_000_000_000


class VioDrop(str, enum.Enum):
    """Why a VIO message did not contribute an increment."""

    LATE = "late"  # its stamp was already behind the fused time (beyond vio.max_delay_s)
    DUPLICATE = "duplicate"  # a message with this stamp was taken
    INVALID = "invalid"  # malformed content (NaN, bad covariance, non-unit quaternion)
    NOT_INITIALIZED = "not_initialized"  # before static alignment or the origin
    LOST = "lost"  # /vio/health said LOST: its odometry is not used
    GAP = "gap"  # longer gap than vio.max_bridge_s since the last message: a new chain starts here
    JUMP = "jump"  # an implausible motion since the last message (VIO reset): a new chain starts here
    GATED = "gated"  # the backend's chi-square gate refused the increment
    MERGED = "merged"  # no IMU sample since the previous message: the next increment spans both
    NO_ANCHOR = "no_anchor"  # the backend had no state at the increment's start (a reset in between)
    IMU_GAP = "imu_gap"  # no IMU carried the state to its stamp (IMU gap or reset)


@dataclass
class VioCounts:
    """Every VIO message, once: fused, anchoring a chain, or not fused for a reason."""

    received: int = 0
    fused: int = 0
    anchored: int = 0
    dropped: dict[VioDrop, int] = field(default_factory=lambda: dict.fromkeys(VioDrop, 0))

    @property
    def not_fused(self) -> int:
        """Messages that contributed no increment (anchors excluded)."""
        return sum(self.dropped.values())

    def by_reason(self) -> dict[str, int]:
        """Non-zero drop counts by reason name."""
        return {reason.value: count for reason, count in self.dropped.items() if count}


@dataclass(frozen=True)
class VioOutcome:
    """What happened to one released VIO message."""

    fused: bool
    drop: VioDrop | None = None
    detail: str = ""
    restarted: bool = False  # a new chain starts at this message


@dataclass
class _Reference:
    """The chain's displacement in map axes, for the GNSS drift test."""

    chain_id: int = 0
    t_ns: int | None = None
    position_m: FloatArray = field(default_factory=lambda: np.zeros(3))
    covariance_m2: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    velocity_map_mps: FloatArray = field(default_factory=lambda: np.zeros(3))
    velocity_covariance: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    attitude_covariance_rad2: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    rotation: FloatArray = field(default_factory=lambda: np.eye(3))  # R_map_body at the last message


class VioFusion:
    """Forms increments from consecutive VIO messages and hands them to the backend."""

    def __init__(self, config: VioConfig, reference_max_age_s: float) -> None:
        self._config = config
        self._reference_max_age_s = reference_max_age_s
        self.counts = VioCounts()
        self._previous: VioMessage | None = None
        self._previous_imu_ns: int | None = None
        self._reference = _Reference()

    def restart(self) -> None:
        """No increment across a reset: the next message starts a new chain."""
        self._previous = None
        self._previous_imu_ns = None
        self._reference = _Reference(chain_id=self._reference.chain_id + 1)

    def count_drop(self, reason: VioDrop) -> None:
        """Count a message refused before it reached the chain (at intake or release)."""
        self.counts.received += 1
        self.counts.dropped[reason] += 1

    def process(self, vio: VioMessage, backend: FusionBackend, last_imu_ns: int) -> VioOutcome:
        """Fuse ``vio`` as the increment from the previous message (or anchor a new chain)."""
        counts = self.counts
        counts.received += 1
        previous = self._previous
        if previous is None:
            return self._anchor(vio, backend, last_imu_ns, None, "")
        dt_s = (vio.t_ns - previous.t_ns) / NS_PER_S
        rotation = previous.rotation.T @ vio.rotation
        translation = previous.rotation.T @ (vio.position_m - previous.position_m)
        broken = self._discontinuity(rotation, translation, dt_s)
        if broken is not None:
            return self._anchor(vio, backend, last_imu_ns, *broken)
        if last_imu_ns == self._previous_imu_ns:
            # No IMU sample between the two stamps: no state to tie this one to; the next spans both.
            counts.dropped[VioDrop.MERGED] += 1
            return VioOutcome(False, VioDrop.MERGED, "no IMU sample since the previous VIO message")
        config = self._config
        covariance = self._increment_covariance(previous, vio, dt_s)
        self._extend_reference(translation, covariance[3:, 3:])
        increment = VioIncrement(
            t0_ns=previous.t_ns,
            t1_ns=vio.t_ns,
            rotation=rotation,
            translation_m=translation,
            covariance=covariance,
            velocity_body_mps=vio.velocity_body_mps,
            velocity_covariance=vio.velocity_covariance * config.covariance_scale,
        )
        outcome = backend.update_vio(increment)
        self._previous, self._previous_imu_ns = vio, last_imu_ns
        self._set_reference_velocity(vio, backend.state())
        if outcome.accepted:
            counts.fused += 1
            return VioOutcome(True)
        drop = VioDrop.NO_ANCHOR if "anchor" in outcome.reason else VioDrop.GATED
        counts.dropped[drop] += 1
        return VioOutcome(False, drop, outcome.reason)

    def reference_at(self, t_ns: int) -> ReferencePoint | None:
        """The chain's displacement at ``t_ns`` (extrapolated from the last message), or None if stale."""
        reference = self._reference
        if reference.t_ns is None:
            return None
        age_s = (t_ns - reference.t_ns) / NS_PER_S
        if age_s > self._reference_max_age_s or age_s < 0.0:
            return None
        return ReferencePoint(
            position_m=reference.position_m + reference.velocity_map_mps * age_s,
            covariance_m2=reference.covariance_m2 + reference.velocity_covariance * age_s**2,
            chain_id=reference.chain_id,
            attitude_covariance_rad2=reference.attitude_covariance_rad2,
        )

    def _discontinuity(self, rotation: FloatArray, translation: FloatArray, dt_s: float) -> tuple[VioDrop, str] | None:
        """Why the chain cannot continue across this increment (a long gap, an impossible motion), if it cannot."""
        config = self._config
        angle = float(np.linalg.norm(Rotation.from_matrix(rotation).as_rotvec()))
        distance = float(np.linalg.norm(translation))
        if dt_s > config.max_bridge_s:
            return VioDrop.GAP, f"gap of {dt_s:.3f} s"
        if distance > config.max_speed_mps * dt_s:
            return VioDrop.JUMP, f"jump of {distance:.2f} m in {dt_s:.3f} s"
        if angle > config.max_rate_radps * dt_s:
            return VioDrop.JUMP, f"rotation of {angle:.2f} rad in {dt_s:.3f} s"
        return None

    def _anchor(
        self, vio: VioMessage, backend: FusionBackend, last_imu_ns: int, drop: VioDrop | None, problem: str
    ) -> VioOutcome:
        """``vio`` starts a new chain: the backend anchors at it, the drift reference restarts."""
        backend.anchor_vio(vio.t_ns)
        self._previous, self._previous_imu_ns = vio, last_imu_ns
        self._reference = _Reference(chain_id=self._reference.chain_id + 1)
        self._set_reference_velocity(vio, backend.state())
        if drop is None:
            self.counts.anchored += 1
        else:
            self.counts.dropped[drop] += 1
        return VioOutcome(False, drop, problem, restarted=True)

    def _increment_covariance(self, previous: VioMessage, vio: VioMessage, dt_s: float) -> FloatArray:
        """[dtheta, dp] covariance of the increment, body frame at t0 (see the module docstring)."""
        config = self._config
        scale = config.covariance_scale
        covariance = np.zeros((6, 6))
        rate = 0.5 * (previous.rate_covariance + vio.rate_covariance) * scale
        velocity = 0.5 * (previous.velocity_covariance + vio.velocity_covariance) * scale
        covariance[:3, :3] = rate * dt_s**2 + np.eye(3) * config.rotation_sigma_floor_rad_per_sqrt_s**2 * dt_s
        covariance[3:, 3:] = velocity * dt_s**2 + np.eye(3) * config.translation_sigma_floor_m_per_sqrt_s**2 * dt_s
        return covariance

    def _extend_reference(self, translation: FloatArray, covariance: FloatArray) -> None:
        reference = self._reference
        rotation = reference.rotation  # the attitude at the increment's start
        reference.position_m = reference.position_m + rotation @ translation
        reference.covariance_m2 = reference.covariance_m2 + rotation @ covariance @ rotation.T

    def _set_reference_velocity(self, vio: VioMessage, state: NavState) -> None:
        reference = self._reference
        reference.t_ns = vio.t_ns
        reference.rotation = state.rotation
        scale = self._config.covariance_scale
        reference.velocity_map_mps = state.rotation @ vio.velocity_body_mps
        reference.velocity_covariance = state.rotation @ (vio.velocity_covariance * scale) @ state.rotation.T
        reference.attitude_covariance_rad2 = state.covariance[ATT, ATT].copy()
