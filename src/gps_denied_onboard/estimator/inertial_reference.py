"""Free-inertial copies of the state: the GNSS drift test's reference when no VIO chain spans its window.

A copy of the estimate (position, velocity, attitude, biases and their covariance) is taken at a
chain start and propagated with the same IMU samples by the ESKF's own propagation, with no update
at all. A new copy starts every ``gate.inertial_window_s / 4`` and lives ``inertial_window_s``,
so one always spans between 3/4 and a whole window. Its position covariance starts at zero, so
the propagated position covariance is that of the inertial displacement since the start (see
estimator.gate for how the test uses it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gps_denied_onboard.common.inertial import ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import POS, NavState
from gps_denied_onboard.estimator.config import EskfConfig, SensorGatingConfig
from gps_denied_onboard.estimator.eskf import EskfBackend
from gps_denied_onboard.estimator.gate import ReferencePoint


class InertialReference:
    """The live free-inertial copies, keyed by chain id."""

    def __init__(self, window_ns: int, eskf: EskfConfig, gating: SensorGatingConfig, noise: ImuNoise) -> None:
        self._window_ns = window_ns
        self._eskf = eskf
        self._gating = gating
        self._noise = noise
        self._chains: dict[int, tuple[int, EskfBackend]] = {}  # chain id -> (start stamp, copy)
        self._next_id = 0

    def clear(self) -> None:
        """No copy across a reset or an unobserved interval."""
        self._chains.clear()

    def step(self, sample: ImuSample, state: NavState) -> None:
        """Propagate the copies, retire old ones and start one from ``state`` every quarter window."""
        chains = self._chains
        for chain_id, (start_ns, chain) in list(chains.items()):
            if sample.t_ns - start_ns > self._window_ns:
                del chains[chain_id]
            else:
                chain.propagate(sample)
        newest_start = max((start_ns for start_ns, _ in chains.values()), default=None)
        if newest_start is not None and 4 * (sample.t_ns - newest_start) < self._window_ns:
            return
        covariance = state.covariance.copy()
        # Position error does not enter the dynamics: with it zeroed, the propagated position
        # covariance is that of the displacement since the start.
        covariance[POS, :] = 0.0
        covariance[:, POS] = 0.0
        chain = EskfBackend(self._eskf, self._gating)
        chain.initialize(replace(state, covariance=covariance), self._noise)
        self._next_id += 1
        chains[self._next_id] = (sample.t_ns, chain)

    def points(self) -> dict[int, ReferencePoint]:
        """Each live copy's position and displacement covariance (at the latest IMU sample)."""
        points = {}
        for chain_id, (_, chain) in self._chains.items():
            position, covariance = chain.position_prior()
            points[chain_id] = ReferencePoint(position, covariance, chain_id, np.zeros((3, 3)))
        return points
