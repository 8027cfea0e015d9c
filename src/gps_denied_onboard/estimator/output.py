"""The output predictor: the fused state carried from the fused time to the newest IMU sample.

The facade fuses measurements in stamp order, so the fused time trails the newest IMU sample by
the reorder window, and by up to ``vio.max_delay_s`` while it waits for late VIO (the delayed
fusion horizon of PX4's EKF2, which runs its filter behind real time for the same reason). The
vehicle must not fly on a state that old: every IMU sample is preintegrated as it arrives
(bias-corrected with the latest fused biases), and ``predict`` composes the fused state with the
preintegrated motion since the fused time (Forster et al., "On-Manifold Preintegration", 2017):

    R_now = R_f dR,  v_now = v_f + g dt + R_f dv,  p_now = p_f + v_f dt + g dt^2 / 2 + R_f dp

An O(1) query: the entries are cumulative from a base sample, and the motion between two of them
is ``Delta(base, f)^-1 Delta(base, now)``. The covariance grows by the first-order propagation
over ``dt`` with the accelerometer and gyroscope noise (a fraction of a second: small).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import GRAVITY_MAP, FloatArray, ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import ATT, POS, VEL, NavState

NS_PER_S = 1_000_000_000
REBASE_AFTER_S = 10.0  # re-express the cumulative entries from a newer base this often (float growth)


@dataclass(frozen=True)
class _Entry:
    """Preintegrated motion from the base sample to ``t_ns``, in the base body frame."""

    t_ns: int
    rotation: FloatArray  # dR_base_t
    velocity: FloatArray  # dv (specific force only, no gravity)
    position: FloatArray  # dp


def _skew(v: FloatArray) -> FloatArray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


class OutputPredictor:
    """Preintegrates the IMU ahead of the fused time and predicts the state at the newest sample."""

    def __init__(self, horizon_ns: int) -> None:
        self._horizon_ns = horizon_ns
        self._entries: deque[_Entry] = deque()
        self._last: ImuSample | None = None
        self._accel_bias = np.zeros(3)
        self._gyro_bias = np.zeros(3)

    def clear(self) -> None:
        """Forget every sample (a reset: nothing before it may move the state)."""
        self._entries.clear()
        self._last = None

    def set_biases(self, accel_bias_mps2: FloatArray, gyro_bias_radps: FloatArray) -> None:
        """Biases for the samples integrated from now on (the latest fused estimate)."""
        self._accel_bias = accel_bias_mps2
        self._gyro_bias = gyro_bias_radps

    def add(self, sample: ImuSample) -> None:
        """Integrate one IMU sample (trapezoidal, as the backends); stamps strictly increase."""
        entries, last = self._entries, self._last
        self._last = sample
        if last is None or not entries:
            entries.clear()
            entries.append(_Entry(sample.t_ns, np.eye(3), np.zeros(3), np.zeros(3)))
            return
        dt = (sample.t_ns - last.t_ns) / NS_PER_S
        accel = 0.5 * (sample.accel_mps2 + last.accel_mps2) - self._accel_bias
        gyro = 0.5 * (sample.gyro_radps + last.gyro_radps) - self._gyro_bias
        head = entries[-1]
        rotation_next = head.rotation @ Rotation.from_rotvec(gyro * dt).as_matrix()
        accel_base = 0.5 * (head.rotation + rotation_next) @ accel
        entries.append(
            _Entry(
                sample.t_ns,
                rotation_next,
                head.velocity + accel_base * dt,
                head.position + head.velocity * dt + 0.5 * accel_base * dt * dt,
            )
        )
        if sample.t_ns - entries[0].t_ns > REBASE_AFTER_S * NS_PER_S + self._horizon_ns:
            self._rebase(sample.t_ns - self._horizon_ns)

    def predict(self, fused: NavState, noise: ImuNoise) -> NavState:
        """``fused`` carried to the newest integrated sample (itself when nothing newer was integrated)."""
        entries = self._entries
        if not entries or entries[-1].t_ns <= fused.t_ns:
            return fused
        start = self._at_or_before(fused.t_ns)
        if start is None:
            return fused  # the fused time is older than what is kept: nothing to add reliably
        head = entries[-1]
        dt = (head.t_ns - fused.t_ns) / NS_PER_S
        r_start_t = start.rotation.T
        d_rotation = r_start_t @ head.rotation
        d_velocity = r_start_t @ (head.velocity - start.velocity)
        d_position = r_start_t @ (head.position - start.position - start.velocity * dt)
        rotation_f = fused.rotation
        rotation = rotation_f @ d_rotation
        velocity = fused.velocity_mps + GRAVITY_MAP * dt + rotation_f @ d_velocity
        position = fused.position_m + fused.velocity_mps * dt + 0.5 * GRAVITY_MAP * dt * dt + rotation_f @ d_position
        # First-order growth over dt: position from velocity and attitude, velocity from attitude.
        accel_map = rotation_f @ d_velocity / dt
        phi = np.eye(fused.covariance.shape[0])
        phi[POS, VEL] = np.eye(3) * dt
        phi[POS, ATT] = -0.5 * _skew(accel_map) * dt * dt
        phi[VEL, ATT] = -_skew(accel_map) * dt
        covariance = phi @ fused.covariance @ phi.T
        covariance[VEL, VEL] += np.eye(3) * noise.accel_noise_density**2 * dt
        covariance[POS, POS] += np.eye(3) * noise.accel_noise_density**2 * dt**3 / 3.0
        covariance[ATT, ATT] += np.eye(3) * noise.gyro_noise_density**2 * dt
        return replace(
            fused,
            t_ns=head.t_ns,
            position_m=position,
            velocity_mps=velocity,
            rotation=rotation,
            covariance=0.5 * (covariance + covariance.T),
        )

    def trim(self, fused_ns: int) -> None:
        """Drop entries before the fused time (one at or before it stays: the next query starts there)."""
        entries = self._entries
        while len(entries) > 1 and entries[1].t_ns <= fused_ns:
            entries.popleft()

    def _at_or_before(self, t_ns: int) -> _Entry | None:
        for entry in reversed(self._entries):
            if entry.t_ns <= t_ns:
                return entry
        return None

    def _rebase(self, t_ns: int) -> None:
        """Re-express every entry from the one at or before ``t_ns`` (older ones are dropped)."""
        self.trim(t_ns)
        base = self._entries[0]
        r_t = base.rotation.T
        self._entries = deque(
            _Entry(
                entry.t_ns,
                r_t @ entry.rotation,
                r_t @ (entry.velocity - base.velocity),
                r_t @ (entry.position - base.position - base.velocity * ((entry.t_ns - base.t_ns) / NS_PER_S)),
            )
            for entry in self._entries
        )
