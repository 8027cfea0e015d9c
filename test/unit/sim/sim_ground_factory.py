"""Small synthetic orthophotos and poses for the simulator's ground and camera tests."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import Transformer
from scipy.spatial.transform import Rotation

from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.orthophoto import Georeference, Orthophoto, utm_crs

LTP = LocalTangentPlane(47.3977, 8.5456, 488.0)  # a field near Zurich, UTM zone 32N
MARKER_BACKGROUND = 40
MARKER_VALUE = 230


def utm_georef(ltp: LocalTangentPlane, size_m: float, gsd_m: float) -> Georeference:
    """A north-up UTM georeference of a square raster centred on the take-off origin."""
    crs = utm_crs(ltp.latitude_deg, ltp.longitude_deg)
    x0, y0 = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(ltp.longitude_deg, ltp.latitude_deg)
    side = round(size_m / gsd_m)
    half = side * gsd_m / 2.0
    return Georeference(crs, Affine(gsd_m, 0.0, x0 - half, 0.0, -gsd_m, y0 + half), side, side)


def uniform_orthophoto(
    ltp: LocalTangentPlane, *, size_m: float = 200.0, gsd_m: float = 0.25, value: int = 100
) -> Orthophoto:
    """A flat grey orthophoto (every pixel ``value``)."""
    georef = utm_georef(ltp, size_m, gsd_m)
    return Orthophoto(np.full((georef.height, georef.width, 3), value, dtype=np.uint8), georef)


def square_corners(centre_enu: npt.ArrayLike, side_m: float, samples_per_side: int = 1) -> npt.NDArray[np.float64]:
    """The boundary of an axis-aligned ENU square, counter-clockwise, ``4 * samples_per_side`` points."""
    c = np.asarray(centre_enu, dtype=np.float64)
    h = side_m / 2.0
    corners = c + np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    t = np.arange(samples_per_side)[:, None] / samples_per_side
    return np.vstack([corners[i] + t * (corners[(i + 1) % 4] - corners[i]) for i in range(4)])


def marker_orthophoto(
    ltp: LocalTangentPlane, markers_enu: npt.ArrayLike, *, side_m: float, size_m: float = 160.0, gsd_m: float = 0.05
) -> Orthophoto:
    """Bright squares on a dark ground, painted through the exact ENU -> CRS -> pixel chain.

    Each square is filled at 8x resolution and area-averaged, so its edge pixels hold the covered
    fraction and its painted area is the true one (a plain fillPoly covers boundary pixels whole).
    """
    georef = utm_georef(ltp, size_m, gsd_m)
    image = np.full((georef.height, georef.width, 3), MARKER_BACKGROUND, dtype=np.uint8)
    up = 8
    for centre in np.asarray(markers_enu, dtype=np.float64):
        pixels = georef.pixel_from_enu(square_corners(centre, side_m), ltp)
        c0, r0 = np.floor(pixels.min(axis=0)).astype(int) - 2
        c1, r1 = np.ceil(pixels.max(axis=0)).astype(int) + 3
        fine = np.zeros(((r1 - r0) * up, (c1 - c0) * up), dtype=np.float32)
        fine_vertices = ((pixels - (c0, r0)) + 0.5) * up - 0.5
        cv2.fillPoly(fine, [np.round(fine_vertices * 16).astype(np.int32)], 1.0, cv2.LINE_8, 4)
        cover = cv2.resize(fine, (c1 - c0, r1 - r0), interpolation=cv2.INTER_AREA)[..., None]
        patch = image[r0:r1, c0:c1].astype(np.float32)
        image[r0:r1, c0:c1] = np.round(patch * (1.0 - cover) + MARKER_VALUE * cover).astype(np.uint8)
    return Orthophoto(image, georef)


def attitude(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> npt.NDArray[np.float64]:
    """R_map_body from intrinsic z-y-x (yaw about up, pitch about body y, roll about body x) angles."""
    return Rotation.from_euler("ZYX", [yaw_deg, pitch_deg, roll_deg], degrees=True).as_matrix()
