"""WGS84 geodetic <-> ECEF <-> local ENU at a take-off origin: the one place these conversions live.

The map frame (REP-105) is the East-North-Up tangent plane at the take-off origin. Geodetic
coordinates are WGS84 latitude/longitude in degrees and height above the ellipsoid in metres
(as in sensor_msgs/NavSatFix). The ellipsoidal transforms are pyproj's (PROJ: EPSG:4979 to
EPSG:4978); the ECEF -> ENU rotation is the textbook one at the origin.

Every function accepts scalars or arrays (broadcast), so a whole trajectory converts in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from gps_denied_onboard.geometry.errors import GeometryError

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | npt.ArrayLike

WGS84_GEODETIC_3D = "EPSG:4979"  # latitude, longitude (degrees), ellipsoidal height (m)
WGS84_ECEF = "EPSG:4978"  # geocentric x, y, z (m)


class InvalidGeodeticError(GeometryError):
    """A latitude/longitude/altitude that is not finite or out of range."""


@cache
def _to_ecef() -> Transformer:
    return Transformer.from_crs(WGS84_GEODETIC_3D, WGS84_ECEF, always_xy=True)


@cache
def _from_ecef() -> Transformer:
    return Transformer.from_crs(WGS84_ECEF, WGS84_GEODETIC_3D, always_xy=True)


def check_geodetic(latitude_deg: ArrayLike, longitude_deg: ArrayLike, altitude_m: ArrayLike) -> None:
    """Raise InvalidGeodeticError unless every value is finite and in range."""
    lat = np.asarray(latitude_deg, dtype=np.float64)
    lon = np.asarray(longitude_deg, dtype=np.float64)
    alt = np.asarray(altitude_m, dtype=np.float64)
    for name, values in (("latitude_deg", lat), ("longitude_deg", lon), ("altitude_m", alt)):
        if not np.all(np.isfinite(values)):
            raise InvalidGeodeticError(f"{name} must be finite, got {values}")
    if np.any(np.abs(lat) > 90.0):
        raise InvalidGeodeticError(f"latitude_deg must be within [-90, 90], got {lat}")
    if np.any(np.abs(lon) > 180.0):
        raise InvalidGeodeticError(f"longitude_deg must be within [-180, 180], got {lon}")
    if np.any(np.abs(alt) > 1.0e5):
        raise InvalidGeodeticError(f"altitude_m must be within +-100 km of the ellipsoid, got {alt}")


def ecef_from_geodetic(latitude_deg: ArrayLike, longitude_deg: ArrayLike, altitude_m: ArrayLike) -> FloatArray:
    """ECEF coordinates (..., 3) of WGS84 points."""
    check_geodetic(latitude_deg, longitude_deg, altitude_m)
    x, y, z = _to_ecef().transform(longitude_deg, latitude_deg, altitude_m)
    return np.stack(np.broadcast_arrays(np.asarray(x), np.asarray(y), np.asarray(z)), axis=-1).astype(np.float64)


def geodetic_from_ecef(ecef: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(latitude_deg, longitude_deg, altitude_m) of ECEF points (..., 3)."""
    xyz = np.asarray(ecef, dtype=np.float64)
    if xyz.shape[-1:] != (3,) or not np.all(np.isfinite(xyz)):
        raise InvalidGeodeticError(f"ECEF points must be finite (..., 3) arrays, got shape {xyz.shape}")
    lon, lat, alt = _from_ecef().transform(xyz[..., 0], xyz[..., 1], xyz[..., 2])
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64), np.asarray(alt, dtype=np.float64)


def enu_rotation(latitude_deg: float, longitude_deg: float) -> FloatArray:
    """R_enu_ecef: rotates ECEF vectors into the ENU axes at (latitude, longitude)."""
    lat, lon = math.radians(latitude_deg), math.radians(longitude_deg)
    sl, cl, sp, cp = math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)
    return np.array(
        [
            [-sl, cl, 0.0],
            [-sp * cl, -sp * sl, cp],
            [cp * cl, cp * sl, sp],
        ]
    )


@dataclass(frozen=True)
class LocalTangentPlane:
    """The map frame: ENU axes with their origin at a WGS84 point (the take-off origin)."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    origin_ecef: FloatArray = field(init=False, repr=False, compare=False)
    r_enu_ecef: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_geodetic(self.latitude_deg, self.longitude_deg, self.altitude_m)
        origin = ecef_from_geodetic(self.latitude_deg, self.longitude_deg, self.altitude_m)
        object.__setattr__(self, "origin_ecef", origin)
        object.__setattr__(self, "r_enu_ecef", enu_rotation(self.latitude_deg, self.longitude_deg))

    def enu_from_geodetic(self, latitude_deg: ArrayLike, longitude_deg: ArrayLike, altitude_m: ArrayLike) -> FloatArray:
        """ENU coordinates (..., 3) in metres of WGS84 points."""
        ecef = ecef_from_geodetic(latitude_deg, longitude_deg, altitude_m)
        return np.asarray((ecef - self.origin_ecef) @ self.r_enu_ecef.T, dtype=np.float64)

    def geodetic_from_enu(self, enu: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(latitude_deg, longitude_deg, altitude_m) of ENU points (..., 3)."""
        local = np.asarray(enu, dtype=np.float64)
        if local.shape[-1:] != (3,) or not np.all(np.isfinite(local)):
            raise InvalidGeodeticError(f"ENU points must be finite (..., 3) arrays, got shape {local.shape}")
        return geodetic_from_ecef(local @ self.r_enu_ecef + self.origin_ecef)
