"""The estimate's own IMU-propagated motion over the last fraction of a second, for measurements that
arrive late (VIO behind a keyframe solve or a loaded CPU).

A late relative measurement is applied between states that are each some delay after its stamps;
what moved it there is the motion over those delays. That motion must be the IMU propagation
alone: the difference of two estimates would also carry every correction fused in between.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from gps_denied_onboard.estimator.backend import FloatArray, NavState


@dataclass(frozen=True)
class PropagatedMotion:
    """Motion from a past stamp to now by propagation alone, in the body frame at the stamp."""

    rotation: FloatArray  # R_bt_bnow
    translation_m: FloatArray  # position now, body frame at the stamp
    body_velocity_change_mps: FloatArray  # R_now^T v_now - R_t^T v_t, propagation only


class PropagationChain:
    """Propagation steps composed into one chain, kept for ``horizon_ns`` behind the newest."""

    def __init__(self, horizon_ns: int) -> None:
        self._horizon_ns = horizon_ns
        # (t_ns, R_chain, p_chain, accumulated body-velocity change)
        self._entries: deque[tuple[int, FloatArray, FloatArray, FloatArray]] = deque()

    def clear(self) -> None:
        """Forget every step (after a reset nothing before it may move a measurement)."""
        self._entries.clear()

    def step(self, t_ns: int, before: NavState, after: NavState) -> None:
        """Record one propagation from ``before`` to ``after`` (stamped ``t_ns``)."""
        entries = self._entries
        if entries:
            _, rotation, position, velocity_change = entries[-1]
        else:
            rotation, position, velocity_change = np.eye(3), np.zeros(3), np.zeros(3)
        d_rotation = before.rotation.T @ after.rotation
        d_position = before.rotation.T @ (after.position_m - before.position_m)
        d_velocity = after.rotation.T @ after.velocity_mps - before.rotation.T @ before.velocity_mps
        entries.append((t_ns, rotation @ d_rotation, position + rotation @ d_position, velocity_change + d_velocity))
        while entries and entries[0][0] < t_ns - self._horizon_ns:
            entries.popleft()

    def since(self, t_ns: int) -> PropagatedMotion | None:
        """The motion from the last step at or before ``t_ns`` to the newest (None: not recorded)."""
        if not self._entries:
            return None
        _, rotation_now, position_now, change_now = self._entries[-1]
        for stamp, rotation, position, change in reversed(self._entries):
            if stamp <= t_ns:
                return PropagatedMotion(
                    rotation.T @ rotation_now, rotation.T @ (position_now - position), change_now - change
                )
        return None
