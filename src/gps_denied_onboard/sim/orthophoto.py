"""The simulated ground: a georeferenced orthophoto of the plane ``up = 0`` of the map frame.

An ``Orthophoto`` is an RGB image plus a ``Georeference`` (CRS + GDAL affine transform). It is
read from a GeoTIFF, or from a PNG/JPEG with a world file or a caller-given georeference
(rasterio), or generated procedurally (``procedural_orthophoto``) so the demo needs no download.

Pixel coordinates here are OpenCV's: ``(col, row)`` with pixel *centres* at integers, so the
GDAL transform (which maps pixel *corners*) is applied to ``(col + 0.5, row + 0.5)``.
ENU -> pixel goes ENU -> WGS84 (``geometry.geodesy``) -> CRS (pyproj) -> pixel; the renderer
uses the least-squares affine ``Georeference.enu_to_pixel_affine`` instead, which is exact for
a projected CRS up to the plane/ellipsoid difference it reports as ``max_residual_px``.

``GroundOptions`` are the map-matching failure scenarios: featureless regions and repeated
texture change the ground itself (reference and scene), a seasonal colour change only the
scene the camera sees (``ground_pair``).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.crs
import rasterio.errors
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from pyproj.exceptions import CRSError, ProjError
from rasterio.enums import ColorInterp
from scipy.spatial import Voronoi

from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.errors import (
    GeoreferenceError,
    GroundOptionsError,
    OrthophotoError,
    OrthophotoNotFoundError,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
FloatArray32 = npt.NDArray[np.float32]
ImageRGB = npt.NDArray[np.uint8]

WGS84_GEOGRAPHIC_2D = "EPSG:4326"
AFFINE_FIT_POINTS_PER_SIDE = 17  # grid of the ENU->pixel least-squares fit over the raster extent
AFFINE_RESIDUAL_WARN_PX = 0.5  # above this the renderer's plane model visibly disagrees with the CRS
MAX_PROCEDURAL_SIDE_PX = 20_000  # 20k x 20k RGB is 1.2 GB: the most a simulator run should hold
SEASONAL_CHUNK_ROWS = 512  # float HSV is done in row chunks so an 8k map needs ~50 MB, not 800 MB
CIRCLE_VERTEX_SPACING_PX = 2.0  # circles are filled as polygons with a vertex every ~2 px
FIELD_CHUNK_ROWS = 256  # procedural shading works on row chunks: bounded temporaries, parallel chunks


@lru_cache(maxsize=16)
def _geographic_to(crs: CRS) -> Transformer:
    try:
        return Transformer.from_crs(WGS84_GEOGRAPHIC_2D, crs, always_xy=True)
    except (CRSError, ProjError) as exc:
        raise GeoreferenceError(f"no transformation from WGS84 to CRS {crs.name!r}: {exc}") from None


def _as_crs(crs: str | CRS) -> CRS:
    if isinstance(crs, CRS):
        return crs
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise GeoreferenceError(f"not a CRS pyproj understands: {crs!r} ({exc})") from None


@dataclass(frozen=True, eq=False)
class EnuPixelAffine:
    """The affine map (east_m, north_m, 1) -> (col, row, 1) of a raster, fitted over its extent."""

    matrix: FloatArray  # (3, 3), last row (0, 0, 1)
    max_residual_px: float  # worst disagreement with the exact ENU -> WGS84 -> CRS -> pixel chain

    @property
    def metres_per_pixel(self) -> float:
        """Ground size of one raster pixel (geometric mean of its two sides), metres."""
        return float(1.0 / math.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    def pixel_from_enu(self, points_enu: npt.ArrayLike) -> FloatArray:
        """Pixel (col, row) of ENU ground points (..., 2 or 3); the up component is ignored."""
        en = np.asarray(points_enu, dtype=np.float64)[..., :2]
        return np.asarray(en @ self.matrix[:2, :2].T + self.matrix[:2, 2], dtype=np.float64)

    def enu_from_pixel(self, pixels_colrow: npt.ArrayLike) -> FloatArray:
        """(east, north) in metres of pixel coordinates (..., 2)."""
        inverse = np.linalg.inv(self.matrix)
        px = np.asarray(pixels_colrow, dtype=np.float64)
        return np.asarray(px @ inverse[:2, :2].T + inverse[:2, 2], dtype=np.float64)


@dataclass(frozen=True)
class Georeference:
    """Where a raster lies: its CRS, the GDAL affine (pixel corner -> CRS x, y) and its size in pixels.

    Only north-up transforms (no rotation or shear, x growing with columns and y falling with rows)
    are supported; ``create`` is the validating constructor from user input.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "crs", _as_crs(self.crs))  # a WKT or "EPSG:n" string is accepted too
        if not isinstance(self.transform, Affine):
            raise GeoreferenceError(f"transform must be an affine.Affine, got {type(self.transform).__name__}")
        if isinstance(self.width, bool) or isinstance(self.height, bool) or self.width <= 0 or self.height <= 0:
            raise GeoreferenceError(f"raster size must be positive, got {self.width} x {self.height}")
        a, b, c, d, e, f = (float(v) for v in self.transform[:6])
        if not all(math.isfinite(v) for v in (a, b, c, d, e, f)):
            raise GeoreferenceError(f"transform must be finite, got {self.transform.to_gdal()}")
        if b != 0.0 or d != 0.0:
            raise GeoreferenceError(
                f"rotated or sheared transforms are not supported (GDAL geotransform {self.transform.to_gdal()}); "
                "warp the raster north-up first, e.g. gdalwarp"
            )
        if a <= 0.0 or e >= 0.0:
            raise GeoreferenceError(
                f"the transform must be north-up (pixel width > 0, pixel height < 0), got "
                f"{self.transform.to_gdal()}; an identity transform means the raster has no georeference"
            )
        _geographic_to(self.crs)  # fails here, with the CRS named, rather than at first use

    @classmethod
    def create(cls, crs: str | CRS, transform: Affine | Sequence[float], width: int, height: int) -> Georeference:
        """Validated georeference from a CRS (WKT, "EPSG:n", ...) and an Affine or a GDAL geotransform (6 numbers)."""
        if not isinstance(transform, Affine):
            values = tuple(transform)
            if len(values) != 6:
                raise GeoreferenceError(f"a GDAL geotransform has 6 numbers, got {len(values)}: {values}")
            transform = Affine.from_gdal(*(float(v) for v in values))
        return cls(_as_crs(crs), transform, int(width), int(height))

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(width, height) of one pixel in CRS units."""
        return float(self.transform.a), float(-self.transform.e)

    def crs_from_pixel(self, pixels_colrow: npt.ArrayLike) -> FloatArray:
        """CRS (x, y) of pixel coordinates (..., 2), pixel centres at integers."""
        px = np.asarray(pixels_colrow, dtype=np.float64)
        t = self.transform
        col, row = px[..., 0] + 0.5, px[..., 1] + 0.5
        return np.stack((t.a * col + t.c, t.e * row + t.f), axis=-1)

    def pixel_from_crs(self, xy: npt.ArrayLike) -> FloatArray:
        """Pixel coordinates (..., 2) of CRS points (x, y)."""
        pts = np.asarray(xy, dtype=np.float64)
        t = self.transform
        return np.stack(((pts[..., 0] - t.c) / t.a - 0.5, (pts[..., 1] - t.f) / t.e - 0.5), axis=-1)

    def pixel_from_enu(self, points_enu: npt.ArrayLike, ltp: LocalTangentPlane) -> FloatArray:
        """Pixel coordinates (..., 2) of ENU ground points (..., 2 or 3) of the map frame ``ltp``."""
        enu = _ground_points(points_enu)
        latitude, longitude, _ = ltp.geodetic_from_enu(enu)
        x, y = _geographic_to(self.crs).transform(longitude, latitude)
        return self.pixel_from_crs(np.stack((np.asarray(x), np.asarray(y)), axis=-1))

    def enu_from_pixel(self, pixels_colrow: npt.ArrayLike, ltp: LocalTangentPlane) -> FloatArray:
        """ENU points (..., 3) on the ground plane (up = 0) seen at pixel coordinates (..., 2)."""
        xy = self.crs_from_pixel(pixels_colrow)
        longitude, latitude = _geographic_to(self.crs).transform(xy[..., 0], xy[..., 1], direction="INVERSE")
        # At the origin's height the point is d^2/2R below the plane; along the normal that moves it
        # horizontally by (d^2/2R)(d/R), 1e-5 m at 1 km, so only the up component needs setting.
        enu = ltp.enu_from_geodetic(latitude, longitude, np.full(np.shape(latitude), ltp.altitude_m))
        enu[..., 2] = 0.0
        return enu

    def enu_to_pixel_affine(self, ltp: LocalTangentPlane) -> EnuPixelAffine:
        """Least-squares affine ENU -> pixel over the raster's extent, with its worst residual in pixels."""
        cols = np.linspace(-0.5, self.width - 0.5, AFFINE_FIT_POINTS_PER_SIDE)
        rows = np.linspace(-0.5, self.height - 0.5, AFFINE_FIT_POINTS_PER_SIDE)
        pixels = np.stack(np.meshgrid(cols, rows), axis=-1).reshape(-1, 2)
        enu = self.enu_from_pixel(pixels, ltp)
        design = np.column_stack((enu[:, 0], enu[:, 1], np.ones(len(enu))))
        solution, *_ = np.linalg.lstsq(design, pixels, rcond=None)
        residual = design @ solution - pixels
        matrix = np.eye(3)
        matrix[:2, :] = solution.T
        max_residual = float(np.max(np.linalg.norm(residual, axis=1)))
        if max_residual > AFFINE_RESIDUAL_WARN_PX:
            logger.warning(
                "the ENU plane and CRS %r differ by up to %.2f px over this raster: rendered geometry is off that much",
                self.crs.name,
                max_residual,
            )
        return EnuPixelAffine(matrix, max_residual)


def _ground_points(points_enu: npt.ArrayLike) -> FloatArray:
    pts = np.asarray(points_enu, dtype=np.float64)
    if pts.ndim == 0 or pts.shape[-1] not in (2, 3) or not np.all(np.isfinite(pts)):
        raise GeoreferenceError(f"ENU ground points must be finite (..., 2 or 3) arrays, got shape {pts.shape}")
    ground = np.zeros((*pts.shape[:-1], 3))
    ground[..., :2] = pts[..., :2]
    return ground


@dataclass(frozen=True, eq=False)
class Orthophoto:
    """An RGB orthophoto (H, W, 3) uint8 and its georeference. Treat the image as read-only.

    Equality is identity: comparing two large images element by element is never what is meant.
    """

    image_rgb: ImageRGB
    georef: Georeference

    def __post_init__(self) -> None:
        image = self.image_rgb
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise OrthophotoError(f"an orthophoto image is (H, W, 3) uint8 RGB, got shape {shape} dtype {dtype}")
        if image.shape[:2] != (self.georef.height, self.georef.width):
            raise GeoreferenceError(
                f"image is {image.shape[1]} x {image.shape[0]} px but its georeference is "
                f"{self.georef.width} x {self.georef.height}"
            )

    @classmethod
    def load(cls, path: str | Path, *, georef: Georeference | None = None, crs: str | CRS | None = None) -> Orthophoto:
        """Read a GeoTIFF, or a PNG/JPEG georeferenced by a world file (.pgw/.jgw/.tfw, with ``crs``) or ``georef``.

        ``georef`` overrides the file's own georeference. Bands must be uint8: 1 band is grey (or a
        palette, expanded), 3 are RGB, a 4th (alpha) band is dropped.
        """
        path = Path(path)
        if not path.exists():
            raise OrthophotoNotFoundError(f"orthophoto {path} does not exist")
        if not path.is_file():
            raise OrthophotoError(f"orthophoto {path} is not a file")
        try:
            with warnings.catch_warnings():
                # An image without georeference is a normal input here (georef= supplies it).
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                with rasterio.open(path) as dataset:
                    image, file_crs, file_transform = _read_rgb(path, dataset)
        except rasterio.errors.RasterioIOError as exc:
            raise OrthophotoError(f"{path} is not a raster GDAL can read: {exc}") from None
        height, width = image.shape[:2]
        if georef is None:
            georef = _file_georeference(path, file_crs, file_transform, crs, (width, height))
        elif (georef.width, georef.height) != (width, height):
            raise GeoreferenceError(
                f"{path} is {width} x {height} px but the given georeference is {georef.width} x {georef.height}"
            )
        logger.debug("loaded orthophoto %s: %d x %d px, CRS %s", path, width, height, georef.crs.name)
        return cls(image, georef)

    def save_geotiff(self, path: str | Path, *, overwrite: bool = False, compress: str = "deflate") -> None:
        """Write the orthophoto as a tiled RGB GeoTIFF; refuses to replace a file unless ``overwrite``."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise OrthophotoError(f"{path} exists; pass overwrite=True to replace it")
        epsg = self.georef.crs.to_epsg()
        rio_crs = rasterio.crs.CRS.from_epsg(epsg) if epsg else rasterio.crs.CRS.from_wkt(self.georef.crs.to_wkt())
        height, width = self.image_rgb.shape[:2]
        tiled = width >= 256 and height >= 256  # GeoTIFF blocks must fit in the raster
        profile = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": 3,
            "dtype": "uint8",
            "crs": rio_crs,
            "transform": self.georef.transform,
            "photometric": "RGB",
            "compress": compress,
            "tiled": tiled,
        }
        if tiled:
            profile |= {"blockxsize": 256, "blockysize": 256}
        try:
            with rasterio.open(path, "w", **profile) as dataset:
                dataset.write(np.moveaxis(self.image_rgb, 2, 0))
        except (rasterio.errors.RasterioError, OSError) as exc:
            raise OrthophotoError(f"cannot write GeoTIFF {path}: {exc}") from None


def _read_rgb(path: Path, dataset: rasterio.io.DatasetReader) -> tuple[ImageRGB, object, Affine]:
    if dataset.width == 0 or dataset.height == 0:
        raise OrthophotoError(f"{path} is an empty raster ({dataset.width} x {dataset.height} px)")
    if dataset.count not in (1, 3, 4):
        raise OrthophotoError(f"{path} has {dataset.count} bands; supported are 1 (grey), 3 (RGB) and 4 (RGBA)")
    if any(dtype != "uint8" for dtype in dataset.dtypes):
        raise OrthophotoError(
            f"{path} has band types {dataset.dtypes}; only uint8 is supported (gdal_translate -ot Byte -scale)"
        )
    has_mask = dataset.nodata is not None or dataset.count == 4
    if has_mask and not np.any(dataset.dataset_mask()):
        raise OrthophotoError(f"{path} is an empty raster: every pixel is nodata")
    if dataset.count == 1:
        band = dataset.read(1)
        if dataset.colorinterp[0] == ColorInterp.palette:  # paletted: expand the colour table
            lut = np.zeros((256, 3), dtype=np.uint8)
            for index, rgba in dataset.colormap(1).items():
                lut[index] = rgba[:3]
            return lut[band], dataset.crs, dataset.transform
        return np.ascontiguousarray(np.dstack((band, band, band))), dataset.crs, dataset.transform
    image = np.ascontiguousarray(np.moveaxis(dataset.read(indexes=[1, 2, 3]), 0, 2))
    return image, dataset.crs, dataset.transform


def _file_georeference(
    path: Path, file_crs: object, file_transform: Affine, crs: str | CRS | None, size: tuple[int, int]
) -> Georeference:
    width, height = size
    if file_transform.is_identity and file_crs is None:
        raise GeoreferenceError(
            f"{path} has no georeference: use a GeoTIFF, add a world file (.pgw/.jgw/.tfw) and pass crs=, "
            "or pass georef="
        )
    if file_crs is None:
        if crs is None:
            raise GeoreferenceError(f"{path} has a transform (world file) but no CRS: pass crs=, e.g. 'EPSG:32633'")
        return Georeference.create(crs, file_transform, width, height)
    wkt = file_crs.to_wkt()  # type: ignore[attr-defined]  # rasterio's CRS; rasterio has no type stubs
    resolved = _as_crs(wkt)
    if crs is not None and not _as_crs(crs).equals(resolved, ignore_axis_order=True):
        raise GeoreferenceError(f"{path} declares CRS {resolved.name!r}, which differs from the given {crs!r}")
    return Georeference.create(resolved, file_transform, width, height)


# --- scenario options ------------------------------------------------------------------------


def _pair(name: str, value: Sequence[float]) -> tuple[float, float]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise GroundOptionsError(f"{name} must be two numbers (east_m, north_m), got {value!r}") from None
    if len(out) != 2 or not all(math.isfinite(v) for v in out):
        raise GroundOptionsError(f"{name} must be two finite numbers (east_m, north_m), got {value!r}")
    return out[0], out[1]


def _colour(name: str, value: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(value)
    if len(values) != 3 or not all(isinstance(v, int | np.integer) and 0 <= v <= 255 for v in values):
        raise GroundOptionsError(f"{name} must be three integers in [0, 255] (R, G, B), got {value!r}")
    return int(values[0]), int(values[1]), int(values[2])


@dataclass(frozen=True)
class FeaturelessCircle:
    """A disc of flat, untextured colour (a lake, fresh snow) centred at an ENU point."""

    center_enu_m: tuple[float, float]
    radius_m: float
    colour_rgb: tuple[int, int, int] = (62, 84, 98)  # dark still water

    def __post_init__(self) -> None:
        object.__setattr__(self, "center_enu_m", _pair("center_enu_m", self.center_enu_m))
        object.__setattr__(self, "colour_rgb", _colour("colour_rgb", self.colour_rgb))
        if not (math.isfinite(self.radius_m) and self.radius_m > 0.0):
            raise GroundOptionsError(f"radius_m must be a positive number, got {self.radius_m!r}")

    def polygon_enu_m(self, metres_per_vertex: float) -> FloatArray:
        """The circle as a polygon (N, 2) with a vertex every ``metres_per_vertex`` (at least 32)."""
        count = max(32, math.ceil(2.0 * math.pi * self.radius_m / metres_per_vertex))
        angles = np.linspace(0.0, 2.0 * math.pi, count, endpoint=False)
        ring = np.column_stack((np.cos(angles), np.sin(angles)))
        return np.asarray(ring * self.radius_m + np.asarray(self.center_enu_m), dtype=np.float64)


@dataclass(frozen=True)
class FeaturelessPolygon:
    """A simple polygon of flat, untextured colour, vertices (east_m, north_m) in order."""

    vertices_enu_m: tuple[tuple[float, float], ...]
    colour_rgb: tuple[int, int, int] = (236, 238, 242)  # fresh snow

    def __post_init__(self) -> None:
        vertices = tuple(_pair(f"vertices_enu_m[{i}]", v) for i, v in enumerate(self.vertices_enu_m))
        object.__setattr__(self, "vertices_enu_m", vertices)
        object.__setattr__(self, "colour_rgb", _colour("colour_rgb", self.colour_rgb))
        if len(vertices) < 3:
            raise GroundOptionsError(f"a featureless polygon needs at least 3 vertices, got {len(vertices)}")
        if abs(cv2.contourArea(np.asarray(vertices, dtype=np.float32))) < 1.0:
            raise GroundOptionsError(f"featureless polygon {vertices} has (nearly) zero area")

    def polygon_enu_m(self, metres_per_vertex: float) -> FloatArray:  # noqa: ARG002  # one signature for both shapes
        """The polygon's vertices (N, 2); a polygon needs no extra vertices, whatever the spacing."""
        return np.asarray(self.vertices_enu_m, dtype=np.float64)


FeaturelessRegion = FeaturelessCircle | FeaturelessPolygon


@dataclass(frozen=True)
class RepeatedTexture:
    """An ENU rectangle whose first ``tile_m`` x ``tile_m`` tile repeats along the raster axes (aliasing)."""

    min_enu_m: tuple[float, float]
    max_enu_m: tuple[float, float]
    tile_m: float

    def __post_init__(self) -> None:
        low, high = _pair("min_enu_m", self.min_enu_m), _pair("max_enu_m", self.max_enu_m)
        object.__setattr__(self, "min_enu_m", low)
        object.__setattr__(self, "max_enu_m", high)
        if not (high[0] > low[0] and high[1] > low[1]):
            raise GroundOptionsError(f"repeated texture region needs max_enu_m > min_enu_m, got {low} .. {high}")
        if not (math.isfinite(self.tile_m) and self.tile_m > 0.0):
            raise GroundOptionsError(f"tile_m must be a positive number, got {self.tile_m!r}")
        if 2.0 * self.tile_m > min(high[0] - low[0], high[1] - low[1]):
            raise GroundOptionsError(
                f"tile_m {self.tile_m} must fit at least twice in the region {low} .. {high} to repeat"
            )


@dataclass(frozen=True)
class SeasonalChange:
    """A colour change of the scene against the reference: hue rotation and saturation/value scaling."""

    hue_shift_deg: float = 0.0
    saturation_scale: float = 1.0
    value_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hue_shift_deg) and -180.0 <= self.hue_shift_deg <= 180.0):
            raise GroundOptionsError(f"hue_shift_deg must be within [-180, 180], got {self.hue_shift_deg!r}")
        for name in ("saturation_scale", "value_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 4.0):
                raise GroundOptionsError(f"{name} must be within [0, 4], got {value!r}")


@dataclass(frozen=True)
class GroundOptions:
    """Map-matching failure scenarios applied to the ground (see the module docstring)."""

    featureless_regions: tuple[FeaturelessRegion, ...] = ()
    repeated_texture: tuple[RepeatedTexture, ...] = ()
    seasonal_change: SeasonalChange | None = None

    def __post_init__(self) -> None:
        regions = tuple(self.featureless_regions)
        repeated = tuple(self.repeated_texture)
        for region in regions:
            if not isinstance(region, FeaturelessCircle | FeaturelessPolygon):
                raise GroundOptionsError(
                    f"featureless_regions holds FeaturelessCircle/FeaturelessPolygon, got {type(region).__name__}"
                )
        for item in repeated:
            if not isinstance(item, RepeatedTexture):
                raise GroundOptionsError(f"repeated_texture holds RepeatedTexture, got {type(item).__name__}")
        if self.seasonal_change is not None and not isinstance(self.seasonal_change, SeasonalChange):
            raise GroundOptionsError(f"seasonal_change must be a SeasonalChange, got {self.seasonal_change!r}")
        object.__setattr__(self, "featureless_regions", regions)
        object.__setattr__(self, "repeated_texture", repeated)


@dataclass(frozen=True)
class GroundPair:
    """What the tile cache holds (``reference``) and what the camera sees (``scene``)."""

    reference: Orthophoto
    scene: Orthophoto
    options: GroundOptions = field(default_factory=GroundOptions)


def ground_pair(base: Orthophoto, ltp: LocalTangentPlane, options: GroundOptions) -> GroundPair:
    """Apply the scenario options to ``base``: repeated and featureless to both images, seasonal to the scene."""
    affine = base.georef.enu_to_pixel_affine(ltp)
    image = base.image_rgb.copy()
    for repeated in options.repeated_texture:
        _paint_repeated(image, affine, repeated)
    for region in options.featureless_regions:
        vertices = affine.pixel_from_enu(region.polygon_enu_m(CIRCLE_VERTEX_SPACING_PX * affine.metres_per_pixel))
        _fill_polygon(image, vertices, region.colour_rgb)
    reference = Orthophoto(image, base.georef)
    if options.seasonal_change is None:
        return GroundPair(reference, reference, options)
    scene = Orthophoto(apply_seasonal_change(image, options.seasonal_change), base.georef)
    return GroundPair(reference, scene, options)


def apply_seasonal_change(image_rgb: ImageRGB, change: SeasonalChange) -> ImageRGB:
    """A copy of ``image_rgb`` with the hue rotated and saturation/value scaled (float HSV, clipped)."""
    out = np.empty_like(image_rgb)
    for start in range(0, image_rgb.shape[0], SEASONAL_CHUNK_ROWS):
        rgb = image_rgb[start : start + SEASONAL_CHUNK_ROWS].astype(np.float32) * np.float32(1.0 / 255.0)
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360), S and V in [0, 1]
        hsv[..., 0] = np.mod(hsv[..., 0] + np.float32(change.hue_shift_deg), np.float32(360.0))
        hsv[..., 1] = np.clip(hsv[..., 1] * np.float32(change.saturation_scale), 0.0, 1.0)
        hsv[..., 2] = np.clip(hsv[..., 2] * np.float32(change.value_scale), 0.0, 1.0)
        shifted = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        out[start : start + SEASONAL_CHUNK_ROWS] = np.clip(shifted * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
    return out


def repeat_period_px(affine: EnuPixelAffine, repeated: RepeatedTexture) -> int:
    """The repeat period in raster pixels (both axes) of a repeated-texture region."""
    return max(2, round(repeated.tile_m / affine.metres_per_pixel))


def _fill_polygon(image: npt.NDArray[np.uint8], vertices_px: FloatArray, colour: tuple[int, ...]) -> None:
    shift = 4  # sub-pixel vertices: 1/16 px
    points = np.round(vertices_px * (1 << shift)).astype(np.int32)
    cv2.fillPoly(image, [points], colour, lineType=cv2.LINE_8, shift=shift)


def _paint_repeated(image: ImageRGB, affine: EnuPixelAffine, repeated: RepeatedTexture) -> None:
    (e0, n0), (e1, n1) = repeated.min_enu_m, repeated.max_enu_m
    corners = affine.pixel_from_enu(np.array([[e0, n0], [e1, n0], [e1, n1], [e0, n1]]))
    height, width = image.shape[:2]
    c0, r0 = max(0, math.floor(corners[:, 0].min())), max(0, math.floor(corners[:, 1].min()))
    c1, r1 = min(width, math.ceil(corners[:, 0].max()) + 1), min(height, math.ceil(corners[:, 1].max()) + 1)
    period = repeat_period_px(affine, repeated)
    if c1 - c0 < period or r1 - r0 < period:
        logger.warning("repeated texture %s lies (mostly) outside the orthophoto: not painted", repeated)
        return
    mask = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
    _fill_polygon(mask, corners - (c0, r0), (1,))
    window = image[r0:r1, c0:c1]
    tile = window[:period, :period].copy()
    reps = (math.ceil((r1 - r0) / period), math.ceil((c1 - c0) / period), 1)
    tiled = np.tile(tile, reps)[: r1 - r0, : c1 - c0]
    inside = mask.astype(bool)
    window[inside] = tiled[inside]


# --- procedural ground -----------------------------------------------------------------------


def utm_crs(latitude_deg: float, longitude_deg: float) -> CRS:
    """The WGS84 UTM zone CRS containing a point (pyproj's database; UTM stops at 84N/80S)."""
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(longitude_deg, latitude_deg, longitude_deg, latitude_deg),
    )
    if not infos:
        raise GroundOptionsError(f"no UTM zone covers latitude {latitude_deg}, longitude {longitude_deg}")
    # On a zone edge two zones match; the lower code is the western one, deterministic either way.
    return CRS.from_epsg(min(int(info.code) for info in infos))


def procedural_orthophoto(
    ltp: LocalTangentPlane, *, size_m: float = 2000.0, gsd_m: float = 0.25, seed: int = 0
) -> Orthophoto:
    """A seeded synthetic landscape (fields, roads, tracks, hedges, villages, woods) centred on the origin.

    It lies in the origin's UTM zone, ``size_m`` x ``size_m`` CRS metres at ``gsd_m`` per pixel.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GroundOptionsError(f"seed must be a non-negative integer, got {seed!r}")
    if not (math.isfinite(size_m) and math.isfinite(gsd_m) and size_m > 0.0 and gsd_m > 0.0):
        raise GroundOptionsError(f"size_m and gsd_m must be positive numbers, got {size_m!r}, {gsd_m!r}")
    side_px = round(size_m / gsd_m)
    if not 64 <= side_px <= MAX_PROCEDURAL_SIDE_PX:
        raise GroundOptionsError(
            f"size_m / gsd_m = {side_px} px per side; the procedural map supports 64 .. {MAX_PROCEDURAL_SIDE_PX}"
        )
    crs = utm_crs(ltp.latitude_deg, ltp.longitude_deg)
    x0, y0 = _geographic_to(crs).transform(ltp.longitude_deg, ltp.latitude_deg)
    half = side_px * gsd_m / 2.0
    georef = Georeference(crs, Affine(gsd_m, 0.0, x0 - half, 0.0, -gsd_m, y0 + half), side_px, side_px)
    image = _Landscape(side_px, gsd_m, np.random.default_rng(seed)).paint()
    return Orthophoto(image, georef)


def procedural_ground(
    ltp: LocalTangentPlane,
    *,
    size_m: float = 2000.0,
    gsd_m: float = 0.25,
    seed: int = 0,
    options: GroundOptions | None = None,
) -> GroundPair:
    """``procedural_orthophoto`` with the scenario options applied: the reference and the scene."""
    return ground_pair(
        procedural_orthophoto(ltp, size_m=size_m, gsd_m=gsd_m, seed=seed), ltp, options or GroundOptions()
    )


# Field kinds and their palettes (RGB). Texture parameters per kind: stripe period range (m),
# stripe contrast, noise contrast. Chosen by eye against rural aerial imagery at 0.1-0.3 m/px.
_CROP, _MEADOW, _SOIL, _FOREST, _ORCHARD, _VILLAGE = range(6)
_KIND_WEIGHTS = np.array([0.30, 0.22, 0.16, 0.12, 0.08, 0.12])
_PALETTES = {
    _CROP: [(104, 138, 62), (128, 152, 74), (176, 166, 96), (196, 178, 110), (146, 150, 78)],
    _MEADOW: [(96, 132, 66), (112, 140, 78), (84, 116, 58)],
    _SOIL: [(124, 98, 72), (142, 114, 84), (104, 84, 64), (156, 132, 100)],
    _FOREST: [(46, 74, 40), (52, 80, 44), (40, 64, 38)],
    _ORCHARD: [(112, 142, 82), (120, 148, 90)],
    _VILLAGE: [(128, 132, 118), (120, 128, 108)],
}
_STRIPES = {  # kind: (period_min_m, period_max_m, contrast)
    _CROP: (2.0, 5.0, 0.16),
    _MEADOW: (6.0, 12.0, 0.05),  # mowing swaths
    _SOIL: (1.2, 3.0, 0.20),  # plough furrows
    _FOREST: (4.0, 4.0, 0.0),
    _ORCHARD: (4.0, 4.0, 0.0),
    _VILLAGE: (4.0, 4.0, 0.0),
}
_NOISE_CONTRAST = {_CROP: 0.10, _MEADOW: 0.16, _SOIL: 0.14, _FOREST: 0.10, _ORCHARD: 0.10, _VILLAGE: 0.08}
_ROOFS = [(168, 76, 56), (148, 64, 50), (96, 96, 100), (120, 110, 104), (70, 60, 56), (186, 108, 80)]
_SHADOW_RGB = (36, 40, 34)
_TREE_RGB = [(38, 66, 34), (48, 78, 40), (56, 86, 46)]
_SHIFT = 4  # OpenCV drawing with 1/16 px vertex precision
_SUN_SHADOW = np.array([0.55, 0.35])  # shadow offset per metre of object height, raster (col, row)


class _Landscape:
    """Paints one procedural landscape; vectorised per layer, Python loops only over objects."""

    def __init__(self, side_px: int, gsd_m: float, rng: np.random.Generator) -> None:
        self.n = side_px
        self.gsd = gsd_m
        self.rng = rng

    def px(self, metres: float) -> float:
        """Metres on the ground in raster pixels."""
        return metres / self.gsd

    def paint(self) -> ImageRGB:
        """The RGB image: field parcels, then orchards, villages, hedges, tracks, roads and trees on top."""
        seeds, cells, vor = self._parcels()
        kinds = self.rng.choice(len(_KIND_WEIGHTS), size=len(seeds), p=_KIND_WEIGHTS)
        image = self._fields(cells, kinds)
        self._orchards_and_villages(image, seeds, kinds)
        self._field_edges(image, vor, len(seeds))
        self._roads(image)
        self._scattered_trees(image)
        return image

    def _parcels(self) -> tuple[FloatArray, list[tuple[int, npt.NDArray[np.int32], float, float]], Voronoi]:
        """Field seeds, their Voronoi cells as (label, polygon at 1/16 px, top row, bottom row), the diagram."""
        spacing_px = self.px(float(self.rng.uniform(70.0, 110.0)))
        count = max(2, math.ceil(self.n / spacing_px) + 1)
        grid = (np.stack(np.meshgrid(np.arange(count), np.arange(count)), axis=-1).reshape(-1, 2) - 0.5) * spacing_px
        seeds = grid + self.rng.uniform(-0.35, 0.35, grid.shape) * spacing_px
        # A far ring of guard points makes every real seed's cell finite.
        angles = np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
        guard = self.n / 2.0 + 4.0 * self.n * np.column_stack((np.cos(angles), np.sin(angles)))
        vor = Voronoi(np.vstack((seeds, guard)))
        cells = []
        for i in range(len(seeds)):
            region = vor.regions[vor.point_region[i]]
            if -1 in region or not region:
                continue
            vertices = vor.vertices[region]
            polygon = np.round(vertices * (1 << _SHIFT)).astype(np.int32)
            cells.append((i, polygon, float(vertices[:, 1].min()), float(vertices[:, 1].max())))
        return seeds, cells, vor

    def _octave(self, cell_m: float) -> tuple[npt.NDArray[np.float32], int]:
        """A value-noise octave: unit Gaussians on a grid of whole pixels near ``cell_m``, and that cell size."""
        cell_px = max(1, round(self.px(cell_m)))
        cells = math.ceil(self.n / cell_px) + 4
        return self.rng.standard_normal((cells, cells), dtype=np.float32), cell_px

    def _fields(
        self, cells: list[tuple[int, npt.NDArray[np.int32], float, float]], kinds: npt.NDArray[np.int64]
    ) -> ImageRGB:
        count = len(kinds)
        colour = np.zeros((count, 4), dtype=np.uint8)  # RGBA, gathered as one uint32 per pixel
        kx, ky = np.zeros(count, np.float32), np.zeros(count, np.float32)
        stripe, grain = np.zeros(count, np.float32), np.zeros(count, np.float32)
        for i, kind in enumerate(kinds):
            palette = _PALETTES[int(kind)]
            base = np.asarray(palette[self.rng.integers(len(palette))]) + self.rng.normal(0.0, 6.0, 3)
            colour[i, :3] = np.clip(base, 0, 255)
            low, high, contrast = _STRIPES[int(kind)]
            period_px, angle = self.px(float(self.rng.uniform(low, high))), self.rng.uniform(0.0, math.pi)
            kx[i], ky[i] = 2.0 * math.pi * math.cos(angle) / period_px, 2.0 * math.pi * math.sin(angle) / period_px
            stripe[i], grain[i] = contrast, _NOISE_CONTRAST[int(kind)]
        packed = colour.view(np.uint32).reshape(count)
        forest = kinds == _FOREST
        # Within-field blotches (30, 8, 2 m) down to pixel-scale grain (0.6 m); small clumps (2.5,
        # 0.8 m) make tree crowns in woods and bushes and tussocks elsewhere.
        fbm = [(self._octave(m), w) for m, w in ((30.0, 0.45), (8.0, 0.30), (2.0, 0.25), (0.6, 0.35))]
        clump_octaves = [(self._octave(m), w) for m, w in ((2.5, 0.7), (0.8, 0.3))]
        image = np.empty((self.n, self.n, 3), dtype=np.uint8)
        cols = np.arange(self.n, dtype=np.float32)

        def noise(octaves: list[tuple[tuple[npt.NDArray[np.float32], int], float]], r0: int, r1: int) -> FloatArray32:
            total = np.zeros((r1 - r0, self.n), dtype=np.float32)
            for (grid, cell), weight in octaves:
                # Cubic upsampling of just the grid rows these image rows need: with a whole-pixel
                # cell every chunk samples the same continuous field, so chunks join seamlessly.
                k0, k1 = max(0, r0 // cell - 2), min(len(grid), (r1 - 1) // cell + 4)
                size = (grid.shape[1] * cell, (k1 - k0) * cell)
                block = cv2.resize(grid[k0:k1], size, interpolation=cv2.INTER_CUBIC)
                total += weight * np.asarray(block, dtype=np.float32)[r0 - k0 * cell : r1 - k0 * cell, : self.n]
            return total

        def shade_rows(r0: int) -> None:
            r1 = min(r0 + FIELD_CHUNK_ROWS, self.n)
            labels = np.zeros((r1 - r0, self.n), dtype=np.uint16)
            offset = np.array([0, r0 << _SHIFT], dtype=np.int32)
            for label, polygon, top, bottom in cells:
                if bottom >= r0 - 1 and top <= r1 + 1:
                    cv2.fillPoly(labels, [polygon - offset], label, lineType=cv2.LINE_8, shift=_SHIFT)
            lab = labels.astype(np.intp)
            rows = np.arange(r0, r1, dtype=np.float32)[:, None]
            shade = cols * kx[lab]
            shade += rows * ky[lab]
            np.sin(shade, out=shade)
            shade *= stripe[lab]
            shade += grain[lab] * noise(fbm, r0, r1)
            shade += 1.0
            woods = forest[lab]
            clump = noise(clump_octaves, r0, r1)
            if woods.any():
                # Crowns: bright where the clump noise is high, dark gaps between them.
                crowns = np.clip(clump * 1.4 + 0.2, -1.0, 1.0)
                shade[woods] *= 0.92 + 0.3 * crowns[woods]
            spots = np.clip((clump - 1.1) * 2.5, 0.0, 1.0)
            spots[woods] = 0.0
            shade *= 1.0 - 0.35 * spots
            rgba = packed[lab].view(np.uint8).reshape(*lab.shape, 4)
            lit = cv2.multiply(rgba, cv2.merge([shade, shade, shade, shade]), dtype=cv2.CV_8U)
            image[r0:r1] = cv2.cvtColor(lit, cv2.COLOR_RGBA2RGB)

        # Row chunks keep every temporary small (no full-size float layers) and shade in parallel:
        # numpy and OpenCV release the GIL, and no random draws happen inside, so the result does
        # not depend on the schedule.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(shade_rows, range(0, self.n, FIELD_CHUNK_ROWS)))
        return image

    def _inside(self, points_px: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray(np.all((points_px >= 0.0) & (points_px < self.n - 1), axis=-1), dtype=np.bool_)

    def _tree(self, image: ImageRGB, centre_px: FloatArray, radius_m: float) -> None:
        radius = max(1, round(self.px(radius_m)))
        height_m = 2.5 * radius_m
        shadow = np.round(centre_px + _SUN_SHADOW * self.px(height_m)).astype(int)
        cv2.circle(image, (int(shadow[0]), int(shadow[1])), radius, _SHADOW_RGB, -1, cv2.LINE_AA)
        colour = _TREE_RGB[int(self.rng.integers(len(_TREE_RGB)))]
        centre = np.round(centre_px).astype(int)
        cv2.circle(image, (int(centre[0]), int(centre[1])), radius, colour, -1, cv2.LINE_AA)
        # A lit crown side: the sun-facing highlight that gives trees their corner-like blobs.
        highlight = np.round(centre_px - _SUN_SHADOW * radius * 0.6).astype(int)
        lit = tuple(min(255, c + 28) for c in colour)
        cv2.circle(image, (int(highlight[0]), int(highlight[1])), max(1, radius // 2), lit, -1, cv2.LINE_AA)

    def _orchards_and_villages(self, image: ImageRGB, seeds: FloatArray, kinds: npt.NDArray[np.int64]) -> None:
        for seed, kind in zip(seeds, kinds, strict=True):
            if kind == _ORCHARD:
                self._orchard(image, seed)
            elif kind == _VILLAGE:
                self._village(image, seed)

    def _orchard(self, image: ImageRGB, centre_px: FloatArray) -> None:
        spacing_m, extent_m = float(self.rng.uniform(5.0, 8.0)), float(self.rng.uniform(25.0, 40.0))
        angle = self.rng.uniform(0.0, math.pi / 2.0)
        axes = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        steps = np.arange(-extent_m, extent_m + 1e-9, spacing_m)
        offsets = np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 2) @ axes
        trees = centre_px + self.px(1.0) * (offsets + self.rng.normal(0.0, 0.3, offsets.shape))
        for tree in trees[self._inside(trees)]:
            self._tree(image, tree, float(self.rng.uniform(1.4, 2.2)))

    def _village(self, image: ImageRGB, centre_px: FloatArray) -> None:
        angle = float(self.rng.uniform(0.0, math.pi / 2.0))
        for _ in range(int(self.rng.integers(8, 22))):
            offset = self.rng.normal(0.0, 22.0, 2)
            self._building(image, centre_px + self.px(1.0) * offset, angle + float(self.rng.normal(0.0, 0.05)))

    def _building(self, image: ImageRGB, centre_px: FloatArray, angle: float) -> None:
        if not self._inside(centre_px):
            return
        length_m, width_m = float(self.rng.uniform(9.0, 22.0)), float(self.rng.uniform(6.0, 12.0))
        height_m = float(self.rng.uniform(4.0, 9.0))
        along = np.array([math.cos(angle), math.sin(angle)]) * self.px(length_m) / 2.0
        across = np.array([-math.sin(angle), math.cos(angle)]) * self.px(width_m) / 2.0
        corners = centre_px + np.array([-along - across, along - across, along + across, -along + across])
        shift = 4
        shadow = np.round((corners + _SUN_SHADOW * self.px(height_m)) * (1 << shift)).astype(np.int32)
        cv2.fillPoly(image, [shadow], _SHADOW_RGB, cv2.LINE_AA, shift)
        roof = np.asarray(_ROOFS[int(self.rng.integers(len(_ROOFS)))], dtype=np.float64)
        # Two roof halves split along the ridge, lit differently: a gable roof seen from above.
        halves = (
            np.array([corners[0], corners[1], centre_px + along, centre_px - along]),
            np.array([centre_px - along, centre_px + along, corners[2], corners[3]]),
        )
        for half, light in zip(halves, (1.0, 0.72), strict=True):
            colour = tuple(float(c) for c in np.clip(roof * light, 0, 255))
            cv2.fillPoly(image, [np.round(half * (1 << shift)).astype(np.int32)], colour, cv2.LINE_AA, shift)

    def _field_edges(self, image: ImageRGB, vor: Voronoi, real_seeds: int) -> None:
        for (p, q), (a, b) in zip(vor.ridge_points, vor.ridge_vertices, strict=True):
            if a < 0 or b < 0 or p >= real_seeds or q >= real_seeds:
                continue
            start, end = vor.vertices[a], vor.vertices[b]
            roll = self.rng.random()
            if roll < 0.25:  # hedgerow: a line of trees
                length = float(np.linalg.norm(end - start))
                step = self.px(float(self.rng.uniform(4.0, 7.0)))
                for t in np.arange(0.0, 1.0, step / max(length, 1.0)):
                    tree = start + t * (end - start) + self.rng.normal(0.0, self.px(0.4), 2)
                    if self._inside(tree):
                        self._tree(image, tree, float(self.rng.uniform(1.5, 3.0)))
            elif roll < 0.45:  # farm track
                width = max(1, round(self.px(float(self.rng.uniform(2.5, 3.5)))))
                colour = (int(self.rng.integers(150, 175)), int(self.rng.integers(135, 150)), 112)
                _polyline(image, np.array([start, end]), colour, width)

    def _roads(self, image: ImageRGB) -> None:
        for _ in range(int(self.rng.integers(2, 4))):
            points = self._road_path()
            width_m = float(self.rng.uniform(5.5, 7.5))
            _polyline(image, points, (150, 146, 132), max(2, round(self.px(width_m + 2.0))))  # gravel verge
            _polyline(image, points, (84, 86, 88), max(1, round(self.px(width_m))))  # asphalt
            self._dashes(image, points, max(1, round(self.px(0.15))))

    def _road_path(self) -> FloatArray:
        # A road enters on one side and wanders across with slowly changing heading.
        side = int(self.rng.integers(4))
        along = self.rng.uniform(0.1, 0.9) * self.n
        start = [np.array([0.0, along]), np.array([self.n, along]), np.array([along, 0.0]), np.array([along, self.n])]
        heading = [0.0, math.pi, math.pi / 2.0, -math.pi / 2.0][side] + self.rng.normal(0.0, 0.3)
        points, point, step = [start[side]], start[side].copy(), self.px(15.0)
        turn, general = 0.0, heading
        while self._inside(point) or len(points) < 3:
            # Gentle bends that keep the road's general direction, as roads follow the land.
            turn = 0.9 * turn + self.rng.normal(0.0, 0.012)
            heading += turn + 0.05 * (general - heading)
            point = point + step * np.array([math.cos(heading), math.sin(heading)])
            points.append(point)
            if len(points) > 4 * self.n / step:
                break
        return np.asarray(points)

    def _dashes(self, image: ImageRGB, points: FloatArray, thickness: int) -> None:
        lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
        arc = np.concatenate(([0.0], np.cumsum(lengths)))
        stations = np.arange(0.0, arc[-1], self.px(0.5))
        dense = np.column_stack([np.interp(stations, arc, points[:, i]) for i in range(2)])
        on = np.mod(stations, self.px(9.0)) < self.px(3.0)
        starts = np.flatnonzero(on & ~np.concatenate(([False], on[:-1])))
        for first in starts:
            last = first
            while last + 1 < len(on) and on[last + 1]:
                last += 1
            if last > first:
                _polyline(image, dense[first : last + 1], (232, 232, 224), thickness)

    def _scattered_trees(self, image: ImageRGB) -> None:
        area_ha = (self.n * self.gsd) ** 2 / 1e4
        for tree in self.rng.uniform(0.0, self.n - 1, (int(area_ha * 3), 2)):
            self._tree(image, tree, float(self.rng.uniform(2.0, 4.0)))


def _polyline(image: ImageRGB, points_px: FloatArray, colour: tuple[int, int, int], thickness: int) -> None:
    shift = 4
    pts = np.round(points_px * (1 << shift)).astype(np.int32)
    cv2.polylines(image, [pts], False, colour, thickness, cv2.LINE_AA, shift)
