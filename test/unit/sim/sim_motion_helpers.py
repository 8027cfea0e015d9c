"""Independent oracles for the simulator's motion tests: a strapdown integrator and the Allan deviation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

FloatArray = npt.NDArray[np.float64]
GRAVITY_ENU = np.array([0.0, 0.0, -9.80665])  # written out here, not imported: the oracle is independent


def strapdown(
    t_s: FloatArray,
    accel_body: FloatArray,
    gyro_body: FloatArray,
    *,
    rotation0: FloatArray,
    p0: FloatArray,
    v0: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Integrate IMU samples in a flat ENU frame: second-order rotation (two-sample coning correction)
    and trapezoidal velocity/position. Returns (R (N, 3, 3), p (N, 3), v (N, 3))."""
    h = np.diff(t_s)
    w0, w1 = gyro_body[:-1], gyro_body[1:]
    increments = h[:, None] * (w0 + w1) / 2.0 + (h[:, None] ** 2 / 12.0) * np.cross(w0, w1)
    rotations = [Rotation.from_matrix(rotation0)]
    for step in Rotation.from_rotvec(increments):
        rotations.append(rotations[-1] * step)
    attitude = Rotation.concatenate(rotations).as_matrix()
    accel_map = np.einsum("nij,nj->ni", attitude, accel_body) + GRAVITY_ENU
    p = np.empty_like(accel_map)
    v = np.empty_like(accel_map)
    p[0], v[0] = p0, v0
    for k in range(len(t_s) - 1):
        a0, a1, dt = accel_map[k], accel_map[k + 1], h[k]
        p[k + 1] = p[k] + dt * v[k] + dt * dt / 6.0 * (2.0 * a0 + a1)  # exact for linear acceleration
        v[k + 1] = v[k] + dt / 2.0 * (a0 + a1)
    return attitude, p, v


def rotation_error_rad(rotation_a: FloatArray, rotation_b: FloatArray) -> FloatArray:
    """Angle (N,) of rotation_a^T rotation_b."""
    relative = np.einsum("nji,njk->nik", rotation_a, rotation_b)
    cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return np.asarray(np.arccos(cos), dtype=np.float64)


def allan_deviation(samples: FloatArray, rate_hz: float, tau_s: float) -> float:
    """Overlapping Allan deviation of a rate signal (1-D) at averaging time ``tau_s``."""
    m = round(tau_s * rate_hz)
    theta = np.concatenate([[0.0], np.cumsum(samples)]) / rate_hz  # integrated signal
    second_difference = theta[2 * m :] - 2.0 * theta[m:-m] + theta[: -2 * m]
    return float(np.sqrt(np.mean(second_difference**2) / (2.0 * tau_s**2)))
