"""Coordinate frame ids (REP-103/105): map is ENU at the take-off origin."""

from __future__ import annotations

import enum


class Frame(str, enum.Enum):
    """Frame ids used in headers and on TF; the value is the frame_id string."""

    MAP = "map"  # ENU, origin at the take-off point; global estimates live here
    ODOM = "odom"  # continuous, drifting frame of the VIO
    BASE_LINK = "base_link"  # body frame: x forward, y left, z up
    CAMERA = "camera"  # optical frame of the downward camera: z along the optical axis
    IMU = "imu_link"  # IMU axes as mounted

    def __str__(self) -> str:
        return self.value
