"""Stamp ordering: measurements are queued and released to the fusion in stamp order.

The queue releases everything up to a *fusion horizon*: ``timing.reorder_window_s`` behind the
newest IMU stamp, and, while VIO is live, no later than the newest VIO stamp received. VIO
reaches the estimator tens to hundreds of milliseconds after its stamp (a keyframe solve, a
loaded CPU), bunched behind solves; waiting for it (at most ``vio.max_delay_s`` behind the newest
IMU, plus one VIO period: the next message is due a period after the newest one) puts every VIO
message between the IMU samples of its own stamp, so no late increment has to be moved or
skipped. The output predictor (estimator.output) carries the fused state to the newest IMU
sample, so the published state does not lag.

A message whose stamp is already behind the fused time is late: refused as OUT_OF_ORDER, except
a GeoFix up to ``timing.max_measurement_delay_s`` late (map-matching inference takes 100-500 ms;
the facade applies it at the fused time with a grown covariance). An IMU stamp never goes back.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Iterator
from typing import Any

from gps_denied_onboard.estimator.intake import IntakeReason, Rejected


class Sensor(str, enum.Enum):
    """Measurement streams the facade takes (also their order at equal stamps: IMU first)."""

    IMU = "imu"
    VIO = "vio"
    GEOFIX = "geofix"
    GNSS = "gnss"
    BARO = "baro"


_PRIORITY = {sensor: index for index, sensor in enumerate(Sensor)}


class MeasurementQueue:
    """The reorder queue with the VIO-aware fusion horizon (module docstring)."""

    def __init__(self, window_ns: int, vio_wait_ns: int, geofix_delay_ns: int) -> None:
        self._window_ns = window_ns
        self._vio_wait_ns = vio_wait_ns
        self._geofix_delay_ns = geofix_delay_ns
        self.clear()

    def clear(self) -> None:
        """Drop everything queued and every stamp seen (a new epoch)."""
        self._heap: list[tuple[int, int, int, Sensor, Any]] = []
        self._queued: set[tuple[Sensor, int]] = set()
        self._sequence = 0
        self.newest_ns: int | None = None
        self.newest_imu_ns: int | None = None
        self.newest_vio_ns: int | None = None
        self._vio_period_ns = 0  # the last interval between consecutive VIO stamps
        self.fused_ns: int | None = None
        self._last_released: dict[Sensor, int] = {}
        self._vio_waiting = True

    def stop_waiting_for_vio(self) -> None:
        """VIO said it is lost: release without waiting for it until its next message."""
        self._vio_waiting = False

    def check(self, sensor: Sensor, stamp: int, window_ms: float) -> None:
        """Refuse a duplicate or late stamp (``Rejected``); ``window_ms`` only words the message."""
        last = self._last_released.get(sensor)
        if (sensor, stamp) in self._queued or last == stamp:
            raise Rejected(IntakeReason.DUPLICATE_STAMP, f"a {sensor.value} sample with stamp {stamp} was taken")
        fused = self.fused_ns
        if sensor is Sensor.IMU:
            if (fused is not None and stamp < fused) or (last is not None and stamp < last):
                behind_ms = ((fused or 0) - stamp) / 1e6
                raise Rejected(
                    IntakeReason.OUT_OF_ORDER,
                    f"stamp {behind_ms:.1f} ms behind the fused time (reorder window {window_ms:.0f} ms)",
                )
            return
        if fused is None or stamp >= fused:
            return
        if sensor is Sensor.GEOFIX and fused - stamp <= self._geofix_delay_ns:
            return  # inference latency: applied at the fused time with a grown covariance
        behind_ms = (fused - stamp) / 1e6
        raise Rejected(
            IntakeReason.OUT_OF_ORDER,
            f"stamp {behind_ms:.1f} ms behind the fused time: a late {sensor.value} message "
            f"(the fusion waits {self._vio_wait_ns / 1e6:.0f} ms for VIO, reorder window {window_ms:.0f} ms; "
            "only the IMU stream can reset the estimator)",
        )

    def push(self, sensor: Sensor, stamp: int, payload: Any) -> None:
        """Queue a checked measurement."""
        self._sequence += 1
        heapq.heappush(self._heap, (stamp, _PRIORITY[sensor], self._sequence, sensor, payload))
        self._queued.add((sensor, stamp))
        if self.newest_ns is None or stamp > self.newest_ns:
            self.newest_ns = stamp
        if sensor is Sensor.IMU:
            self.newest_imu_ns = stamp

    def note_vio(self, stamp: int) -> None:
        """A VIO message arrived (taken or late): the horizon waits for the ones after it."""
        self._vio_waiting = True
        newest = self.newest_vio_ns
        if newest is None or stamp > newest:
            if newest is not None:
                self._vio_period_ns = min(stamp - newest, self._vio_wait_ns)
            self.newest_vio_ns = stamp

    def horizon_ns(self) -> int | None:
        """The newest stamp that may be released now (None before any IMU sample)."""
        if self.newest_imu_ns is None or self.newest_ns is None:
            return None
        limit = self.newest_ns - self._window_ns
        vio = self.newest_vio_ns
        wait = self._vio_wait_ns + self._vio_period_ns  # a message ``vio_wait`` late is due a period later
        if self._vio_waiting and vio is not None and vio < limit and self.newest_imu_ns - vio < wait:
            limit = vio
        return limit

    def release(self, limit_ns: int | None) -> Iterator[tuple[int, Sensor, Any]]:
        """Pop measurements with stamps up to ``limit_ns`` (all when None), in stamp order.

        A generator over the live heap: a reset while the caller processes one clears what is left.
        """
        while self._heap and (limit_ns is None or self._heap[0][0] <= limit_ns):
            stamp, _, _, sensor, payload = heapq.heappop(self._heap)
            self._queued.discard((sensor, stamp))
            self._last_released[sensor] = stamp
            self.fused_ns = stamp if self.fused_ns is None else max(self.fused_ns, stamp)
            yield stamp, sensor, payload
