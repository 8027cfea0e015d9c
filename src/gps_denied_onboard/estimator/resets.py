"""The states the estimator restarts its backend from (the facade, estimator.core, decides when).

- ``carried_over_gap``: a soft reset (an IMU gap, a backend failure) restarts from the last good
  state moved over the unobserved time at constant velocity, its covariance grown by an assumed
  acceleration (``timing.jump_accel_sigma_mps2``) and rotation rate (``timing.jump_rate_sigma_radps``)
  over the gap; the biases keep theirs. Cross-covariances are dropped: after a gap they say nothing.
- ``vertical_reanchored``: the height re-anchor (estimator.baro) replaces the height and vertical
  velocity with the baro's, with the anchor's variances, and cuts their correlation with the rest
  of the state (the old height was what was wrong); everything else is kept as the backend had it.

A hard reset (a backward time jump) needs no state: the facade re-aligns from scratch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gps_denied_onboard.estimator.backend import ATT, BA, BG, POS, STATE_DIM, VEL, NavState
from gps_denied_onboard.estimator.baro import VerticalAnchor
from gps_denied_onboard.estimator.config import TimingConfig

NS_PER_S = 1_000_000_000
_UP = POS.start + 2
_UP_RATE = VEL.start + 2


def carried_over_gap(last: NavState, stamp_ns: int, timing: TimingConfig) -> NavState:
    """``last`` at ``stamp_ns``, moved at constant velocity, its covariance grown over the gap."""
    gap_s = max((stamp_ns - last.t_ns) / NS_PER_S, 0.0)
    accel_var = timing.jump_accel_sigma_mps2**2
    covariance = np.zeros((STATE_DIM, STATE_DIM))
    old = last.covariance
    covariance[POS, POS] = old[POS, POS] + old[VEL, VEL] * gap_s**2 + np.eye(3) * accel_var * gap_s**4 / 4.0
    covariance[VEL, VEL] = old[VEL, VEL] + np.eye(3) * accel_var * gap_s**2
    covariance[ATT, ATT] = old[ATT, ATT] + np.eye(3) * (timing.jump_rate_sigma_radps * gap_s) ** 2
    covariance[BA, BA] = old[BA, BA]
    covariance[BG, BG] = old[BG, BG]
    return NavState(
        t_ns=stamp_ns,
        position_m=last.position_m + last.velocity_mps * gap_s,
        velocity_mps=last.velocity_mps.copy(),
        rotation=last.rotation.copy(),
        accel_bias_mps2=last.accel_bias_mps2.copy(),
        gyro_bias_radps=last.gyro_bias_radps.copy(),
        covariance=0.5 * (covariance + covariance.T),
    )


def vertical_reanchored(state: NavState, anchor: VerticalAnchor) -> NavState:
    """``state`` with the anchor's height and vertical velocity, uncorrelated with the rest."""
    covariance = state.covariance.copy()
    for index in (_UP, _UP_RATE):
        covariance[index, :] = 0.0
        covariance[:, index] = 0.0
    covariance[_UP, _UP] = anchor.up_variance_m2
    covariance[_UP_RATE, _UP_RATE] = anchor.up_rate_variance_m2ps2
    position = state.position_m.copy()
    velocity = state.velocity_mps.copy()
    position[2], velocity[2] = anchor.up_m, anchor.up_rate_mps
    return replace(state, position_m=position, velocity_mps=velocity, covariance=covariance)
