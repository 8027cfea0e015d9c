"""gps_denied_onboard: the onboard navigation suite of a UAV flying without trusted GNSS.

Pure component cores live in subpackages (``graph``, ``doctor``, ...); the ROS 2 node
adapters live in ``gps_denied_onboard.ros``, the only place that imports rclpy.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("gps_denied_onboard")
except metadata.PackageNotFoundError:  # running from a source tree that was never built
    __version__ = "0+unknown"

__all__ = ["__version__"]
