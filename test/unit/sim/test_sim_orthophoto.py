"""The simulated ground: georeference round trips, GeoTIFF/world-file I/O, procedural map, scenario options."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from affine import Affine
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from pyproj import CRS, Geod, Transformer
from sim_ground_factory import LTP, utm_georef

from gps_denied_onboard.errors import OnboardError
from gps_denied_onboard.sim.errors import (
    GeoreferenceError,
    GroundOptionsError,
    OrthophotoError,
    OrthophotoNotFoundError,
    SimError,
)
from gps_denied_onboard.sim.orthophoto import (
    FeaturelessCircle,
    FeaturelessPolygon,
    Georeference,
    GroundOptions,
    Orthophoto,
    RepeatedTexture,
    SeasonalChange,
    apply_seasonal_change,
    ground_pair,
    procedural_ground,
    procedural_orthophoto,
    repeat_period_px,
    utm_crs,
)

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def small_map() -> Orthophoto:
    return procedural_orthophoto(LTP, size_m=300.0, gsd_m=0.25, seed=7)


def test_errors_share_the_library_root() -> None:
    assert issubclass(OrthophotoNotFoundError, OrthophotoError)
    assert issubclass(GeoreferenceError, OrthophotoError)
    assert issubclass(OrthophotoError, SimError)
    assert issubclass(SimError, OnboardError)


# --- georeference --------------------------------------------------------------------------


def test_enu_pixel_round_trip_is_sub_millimetre_over_two_kilometres() -> None:
    georef = utm_georef(LTP, 2000.0, 0.25)
    points = np.random.default_rng(1).uniform(-990.0, 990.0, (500, 2))
    back = georef.enu_from_pixel(georef.pixel_from_enu(points, LTP), LTP)
    assert np.max(np.abs(back[:, :2] - points)) < 1e-4
    assert np.all(back[:, 2] == 0.0), "pixels map onto the ground plane"


def test_the_origin_is_the_centre_of_a_map_centred_on_it() -> None:
    georef = utm_georef(LTP, 500.0, 0.25)  # 2000 px: the centre lies between pixels 999 and 1000
    np.testing.assert_allclose(georef.pixel_from_enu([0.0, 0.0], LTP), [999.5, 999.5], atol=1e-6)


@pytest.mark.parametrize("azimuth_deg", [0.0, 90.0, 225.0])
def test_enu_offsets_land_where_a_geodesic_of_that_length_and_azimuth_ends(azimuth_deg: float) -> None:
    # Oracle: pyproj.Geod walks the ellipsoid. The map plane lies at the origin's height h, so a
    # distance d on it spans d * R / (R + h) on the ellipsoid (R: radius of curvature along the
    # azimuth, Euler's formula); the remaining tangent-plane difference is below 1 mm at 800 m.
    distance_m = 800.0
    a, e2 = 6378137.0, 6.69437999014e-3
    s2 = math.sin(math.radians(LTP.latitude_deg)) ** 2
    meridian, normal = a * (1 - e2) / (1 - e2 * s2) ** 1.5, a / math.sqrt(1 - e2 * s2)
    alpha = math.radians(azimuth_deg)
    radius = 1.0 / (math.cos(alpha) ** 2 / meridian + math.sin(alpha) ** 2 / normal)
    georef = utm_georef(LTP, 2000.0, 0.25)
    lon, lat, _ = GEOD.fwd(
        LTP.longitude_deg, LTP.latitude_deg, azimuth_deg, distance_m * radius / (radius + LTP.altitude_m)
    )
    x, y = Transformer.from_crs("EPSG:4326", georef.crs, always_xy=True).transform(lon, lat)
    expected = georef.pixel_from_crs([x, y])
    enu = distance_m * np.array([math.sin(alpha), math.cos(alpha)])
    np.testing.assert_allclose(georef.pixel_from_enu(enu, LTP), expected, atol=0.005)


def test_fitted_affine_residual_is_negligible_for_a_projected_crs() -> None:
    georef = utm_georef(LTP, 2000.0, 0.25)
    affine = georef.enu_to_pixel_affine(LTP)
    assert affine.max_residual_px < 0.02
    # Check it independently, on points the fit never saw.
    points = np.random.default_rng(2).uniform(-999.0, 999.0, (400, 2))
    exact = georef.pixel_from_enu(points, LTP)
    assert np.max(np.linalg.norm(affine.pixel_from_enu(points) - exact, axis=1)) <= affine.max_residual_px + 0.005
    assert affine.metres_per_pixel == pytest.approx(0.25, rel=1e-3), "UTM scale factor is within 0.1 % of 1"
    np.testing.assert_allclose(affine.enu_from_pixel(affine.pixel_from_enu(points)), points, atol=1e-9)


def test_fitted_affine_reports_the_curvature_of_a_geographic_crs() -> None:
    # 0.2 x 0.2 degree raster: a longitude degree shrinks with latitude, which no affine can follow.
    transform = Affine(0.2 / 4000, 0.0, LTP.longitude_deg - 0.1, 0.0, -0.2 / 4000, LTP.latitude_deg + 0.1)
    georef = Georeference(CRS.from_epsg(4326), transform, 4000, 4000)
    affine = georef.enu_to_pixel_affine(LTP)
    points = np.random.default_rng(3).uniform(-7000.0, 7000.0, (400, 2))
    miss = np.max(np.linalg.norm(affine.pixel_from_enu(points) - georef.pixel_from_enu(points, LTP), axis=1))
    assert affine.max_residual_px > 1.0, "the misfit is visible, not hidden"
    assert miss <= affine.max_residual_px * 1.05


def test_georeference_accepts_a_gdal_geotransform_and_epsg_string() -> None:
    georef = Georeference.create("EPSG:32632", (465000.0, 0.5, 0.0, 5250000.0, 0.0, -0.5), 100, 80)
    assert georef.transform == Affine(0.5, 0.0, 465000.0, 0.0, -0.5, 5250000.0)
    assert georef.crs.to_epsg() == 32632
    assert georef.pixel_size == (0.5, 0.5)
    np.testing.assert_allclose(georef.crs_from_pixel([0.0, 0.0]), [465000.25, 5249999.75])


def test_bad_crs_string_is_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="not a CRS"):
        Georeference.create("EPSG:999999", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), 10, 10)


def test_geotransform_with_wrong_length_is_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="6 numbers"):
        Georeference.create("EPSG:32632", (0.0, 1.0, 0.0, 0.0, -1.0), 10, 10)


def test_rotated_transform_is_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="rotated or sheared"):
        Georeference(CRS.from_epsg(32632), Affine.rotation(10.0) @ Affine.scale(0.5, -0.5), 10, 10)


def test_south_up_transform_is_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="north-up"):
        Georeference(CRS.from_epsg(32632), Affine(0.5, 0.0, 0.0, 0.0, 0.5, 0.0), 10, 10)


def test_empty_raster_size_is_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="positive"):
        Georeference(CRS.from_epsg(32632), Affine(0.5, 0.0, 0.0, 0.0, -0.5, 0.0), 0, 10)


def test_non_finite_enu_points_are_a_georeference_error() -> None:
    with pytest.raises(GeoreferenceError, match="finite"):
        utm_georef(LTP, 100.0, 0.5).pixel_from_enu([np.nan, 1.0], LTP)


# --- orthophoto files ----------------------------------------------------------------------


def test_geotiff_round_trip_keeps_pixels_transform_and_crs(tmp_path: Path, small_map: Orthophoto) -> None:
    path = tmp_path / "map.tif"
    small_map.save_geotiff(path)
    loaded = Orthophoto.load(path)
    np.testing.assert_array_equal(loaded.image_rgb, small_map.image_rgb)
    assert loaded.georef.transform == small_map.georef.transform
    assert loaded.georef.crs == small_map.georef.crs
    assert loaded.georef.crs.to_epsg() == 32632
    with rasterio.open(path) as dataset:  # a standard GeoTIFF others can read
        assert dataset.count == 3
        assert dataset.crs.to_epsg() == 32632


def test_save_refuses_to_overwrite_unless_asked(tmp_path: Path, small_map: Orthophoto) -> None:
    path = tmp_path / "map.tif"
    path.write_bytes(b"keep me")
    with pytest.raises(OrthophotoError, match="exists"):
        small_map.save_geotiff(path)
    assert path.read_bytes() == b"keep me"
    small_map.save_geotiff(path, overwrite=True)
    assert Orthophoto.load(path).image_rgb.shape == small_map.image_rgb.shape


def test_png_with_world_file_and_crs_loads_with_the_world_files_transform(tmp_path: Path) -> None:
    image = np.random.default_rng(4).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "tile.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    # World file: pixel size x, rotation, rotation, pixel size y, x and y of the upper-left pixel's centre.
    (tmp_path / "tile.pgw").write_text("0.5\n0.0\n0.0\n-0.5\n465000.25\n5250000.75\n")
    loaded = Orthophoto.load(tmp_path / "tile.png", crs="EPSG:32632")
    np.testing.assert_array_equal(loaded.image_rgb, image)
    assert loaded.georef.transform == Affine(0.5, 0.0, 465000.0, 0.0, -0.5, 5250001.0)
    assert loaded.georef.crs.to_epsg() == 32632
    np.testing.assert_allclose(loaded.georef.crs_from_pixel([0.0, 0.0]), [465000.25, 5250000.75])


def test_plain_image_takes_the_given_georeference(tmp_path: Path) -> None:
    image = np.random.default_rng(5).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "tile.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    georef = Georeference.create("EPSG:32632", (465000.0, 1.0, 0.0, 5250000.0, 0.0, -1.0), 50, 40)
    loaded = Orthophoto.load(tmp_path / "tile.png", georef=georef)
    assert loaded.georef == georef
    np.testing.assert_array_equal(loaded.image_rgb, image)


def test_grey_and_rgba_rasters_become_rgb(tmp_path: Path) -> None:
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    rgba = np.dstack([np.full((12, 16), v, np.uint8) for v in (10, 20, 30, 255)])
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    georef = Georeference.create("EPSG:32632", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), 16, 12)
    np.testing.assert_array_equal(
        Orthophoto.load(tmp_path / "grey.png", georef=georef).image_rgb, np.dstack([grey] * 3)
    )
    np.testing.assert_array_equal(Orthophoto.load(tmp_path / "rgba.png", georef=georef).image_rgb, rgba[..., :3])


def test_paletted_raster_is_expanded_to_its_colours(tmp_path: Path) -> None:
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    _write_tif(tmp_path / "palette.tif", indices[None])
    with rasterio.open(tmp_path / "palette.tif", "r+") as dataset:
        dataset.write_colormap(1, {0: (10, 20, 30, 255), 1: (200, 100, 0, 255), 2: (0, 0, 255, 255)})
    loaded = Orthophoto.load(tmp_path / "palette.tif")
    expected = np.array([[[10, 20, 30], [200, 100, 0]], [[0, 0, 255], [200, 100, 0]]], dtype=np.uint8)
    np.testing.assert_array_equal(loaded.image_rgb, expected)


def _write_tif(path: Path, data: np.ndarray, *, nodata: float | None = None, transform: Affine | None = None) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": "EPSG:32632",
        "transform": transform or Affine(0.5, 0.0, 465000.0, 0.0, -0.5, 5250000.0),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(data)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(OrthophotoNotFoundError, match="does not exist"):
        Orthophoto.load(tmp_path / "nowhere.tif")


def test_directory_is_an_orthophoto_error(tmp_path: Path) -> None:
    with pytest.raises(OrthophotoError, match="not a file"):
        Orthophoto.load(tmp_path)


def test_non_raster_file_is_an_orthophoto_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.tif"
    path.write_text("this is not an image")
    with pytest.raises(OrthophotoError, match="not a raster"):
        Orthophoto.load(path)


def test_image_without_georeference_is_a_georeference_error(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(GeoreferenceError, match="no georeference"):
        Orthophoto.load(tmp_path / "photo.png")


def test_world_file_without_crs_is_a_georeference_error(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "tile.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "tile.pgw").write_text("0.5\n0.0\n0.0\n-0.5\n465000.25\n5250000.75\n")
    with pytest.raises(GeoreferenceError, match="no CRS"):
        Orthophoto.load(tmp_path / "tile.png")


def test_conflicting_crs_is_a_georeference_error(tmp_path: Path) -> None:
    _write_tif(tmp_path / "map.tif", np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(GeoreferenceError, match="differs"):
        Orthophoto.load(tmp_path / "map.tif", crs="EPSG:32633")


def test_given_georeference_of_another_size_is_a_georeference_error(tmp_path: Path) -> None:
    _write_tif(tmp_path / "map.tif", np.zeros((3, 8, 8), np.uint8))
    georef = Georeference.create("EPSG:32632", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), 9, 8)
    with pytest.raises(GeoreferenceError, match="9 x 8"):
        Orthophoto.load(tmp_path / "map.tif", georef=georef)


def test_two_band_raster_is_an_orthophoto_error(tmp_path: Path) -> None:
    _write_tif(tmp_path / "map.tif", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(OrthophotoError, match="2 bands"):
        Orthophoto.load(tmp_path / "map.tif")


def test_sixteen_bit_raster_is_an_orthophoto_error(tmp_path: Path) -> None:
    _write_tif(tmp_path / "map.tif", np.zeros((3, 8, 8), np.uint16))
    with pytest.raises(OrthophotoError, match="uint8"):
        Orthophoto.load(tmp_path / "map.tif")


def test_all_nodata_raster_is_an_empty_orthophoto_error(tmp_path: Path) -> None:
    _write_tif(tmp_path / "map.tif", np.zeros((3, 8, 8), np.uint8), nodata=0)
    with pytest.raises(OrthophotoError, match="empty raster"):
        Orthophoto.load(tmp_path / "map.tif")


def test_rotated_geotiff_is_a_georeference_error(tmp_path: Path) -> None:
    rotated = Affine.translation(465000.0, 5250000.0) @ Affine.rotation(5.0) @ Affine.scale(0.5, -0.5)
    _write_tif(tmp_path / "map.tif", np.zeros((3, 8, 8), np.uint8), transform=rotated)
    with pytest.raises(GeoreferenceError, match="rotated or sheared"):
        Orthophoto.load(tmp_path / "map.tif")


def test_orthophoto_with_a_wrong_image_is_an_orthophoto_error() -> None:
    georef = utm_georef(LTP, 10.0, 1.0)
    with pytest.raises(OrthophotoError, match="uint8 RGB"):
        Orthophoto(np.zeros((10, 10, 3), np.float32), georef)  # type: ignore[arg-type]


def test_orthophoto_with_a_mismatched_georeference_is_an_error() -> None:
    with pytest.raises(GeoreferenceError, match="georeference is 10 x 10"):
        Orthophoto(np.zeros((12, 10, 3), np.uint8), utm_georef(LTP, 10.0, 1.0))


# --- procedural map -------------------------------------------------------------------------


def test_procedural_map_is_deterministic_for_a_seed(small_map: Orthophoto) -> None:
    again = procedural_orthophoto(LTP, size_m=300.0, gsd_m=0.25, seed=7)
    other = procedural_orthophoto(LTP, size_m=300.0, gsd_m=0.25, seed=8)
    np.testing.assert_array_equal(again.image_rgb, small_map.image_rgb)
    assert again.georef == small_map.georef
    assert np.mean(other.image_rgb != small_map.image_rgb) > 0.5


def test_procedural_map_is_centred_on_the_origin_in_its_utm_zone(small_map: Orthophoto) -> None:
    assert small_map.image_rgb.shape == (1200, 1200, 3)
    assert small_map.georef.crs.to_epsg() == 32632
    np.testing.assert_allclose(small_map.georef.pixel_from_enu([0.0, 0.0], LTP), [599.5, 599.5], atol=1e-6)
    assert utm_crs(-33.86, 151.21).to_epsg() == 32756, "southern hemisphere zones are 327xx"


def test_procedural_map_has_texture_and_corners_everywhere(small_map: Orthophoto) -> None:
    grey = cv2.cvtColor(small_map.image_rgb, cv2.COLOR_RGB2GRAY)
    # Every 60 m x 60 m window (what a camera sees at ~50 m) holds trackable corners.
    for r in range(0, 1200, 240):
        for c in range(0, 1200, 240):
            window = grey[r : r + 240, c : c + 240]
            corners = cv2.goodFeaturesToTrack(window, 100, 0.01, 5)
            assert corners is not None
            assert len(corners) >= 20, (r, c)
            assert float(np.std(window)) > 5.0


@pytest.mark.parametrize(("size_m", "gsd_m"), [(-10.0, 0.25), (100.0, 0.0), (10.0, 0.25), (10000.0, 0.1)])
def test_procedural_map_rejects_bad_sizes(size_m: float, gsd_m: float) -> None:
    with pytest.raises(GroundOptionsError):
        procedural_orthophoto(LTP, size_m=size_m, gsd_m=gsd_m, seed=0)


def test_negative_seed_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="seed"):
        procedural_orthophoto(LTP, size_m=100.0, gsd_m=0.5, seed=-1)


def test_georeference_takes_a_crs_string_directly() -> None:
    georef = Georeference("EPSG:32632", Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0), 4, 4)  # type: ignore[arg-type]
    assert georef.crs == CRS.from_epsg(32632)


# --- scenario options -----------------------------------------------------------------------


def test_featureless_circle_is_flat_in_reference_and_scene(small_map: Orthophoto) -> None:
    lake = FeaturelessCircle((30.0, -20.0), 25.0, (60, 80, 100))
    pair = ground_pair(small_map, LTP, GroundOptions(featureless_regions=(lake,)))
    cols, rows = np.meshgrid(np.arange(1200), np.arange(1200))
    enu = pair.reference.georef.enu_from_pixel(np.stack((cols, rows), axis=-1)[::5, ::5], LTP)
    distance = np.hypot(enu[..., 0] - 30.0, enu[..., 1] + 20.0)
    sampled = pair.reference.image_rgb[::5, ::5]
    assert np.all(sampled[distance < 24.8] == (60, 80, 100))
    assert np.mean(np.all(sampled[distance > 25.2] == (60, 80, 100), axis=-1)) < 0.01
    assert pair.scene is pair.reference, "no seasonal change: the camera sees the reference"
    assert not np.shares_memory(pair.reference.image_rgb, small_map.image_rgb), "the base map is not modified"


def test_featureless_polygon_fills_its_inside(small_map: Orthophoto) -> None:
    snow = FeaturelessPolygon(((-100.0, -100.0), (-20.0, -100.0), (-60.0, -30.0)))
    image = ground_pair(small_map, LTP, GroundOptions(featureless_regions=(snow,))).reference.image_rgb
    inside = small_map.georef.pixel_from_enu(np.array([[-60.0, -77.0], [-40.0, -95.0], [-60.0, -35.0]]), LTP)
    outside = small_map.georef.pixel_from_enu(np.array([[-60.0, -25.0], [-15.0, -100.0]]), LTP)
    for col, row in np.round(inside).astype(int):
        assert tuple(image[row, col]) == snow.colour_rgb
    for col, row in np.round(outside).astype(int):
        np.testing.assert_array_equal(image[row, col], small_map.image_rgb[row, col])


def test_repeated_texture_repeats_with_its_period(small_map: Orthophoto) -> None:
    region = RepeatedTexture((-120.0, 10.0), (-10.0, 120.0), tile_m=8.0)
    pair = ground_pair(small_map, LTP, GroundOptions(repeated_texture=(region,)))
    affine = small_map.georef.enu_to_pixel_affine(LTP)
    period = repeat_period_px(affine, region)
    assert period == 32
    image = pair.reference.image_rgb
    c0, r0 = np.ceil(affine.pixel_from_enu([-118.0, 118.0])).astype(int)
    c1, r1 = np.floor(affine.pixel_from_enu([-12.0, 12.0])).astype(int)
    window = image[r0:r1, c0:c1]
    np.testing.assert_array_equal(window[:, period:], window[:, :-period])
    np.testing.assert_array_equal(window[period:], window[:-period])
    assert float(np.std(window)) > 3.0, "the tile is textured, not flat"
    assert not np.array_equal(small_map.image_rgb[r0:r1, c0:c1], window), "the original ground was not periodic"
    outside = affine.pixel_from_enu([[50.0, -50.0]]).astype(int)[0]
    np.testing.assert_array_equal(image[outside[1], outside[0]], small_map.image_rgb[outside[1], outside[0]])


def test_seasonal_change_alters_only_the_scenes_colours(small_map: Orthophoto) -> None:
    lake = FeaturelessCircle((0.0, 0.0), 20.0)
    change = SeasonalChange(hue_shift_deg=-40.0, saturation_scale=0.6, value_scale=1.15)
    pair = ground_pair(small_map, LTP, GroundOptions(featureless_regions=(lake,), seasonal_change=change))
    unchanged = ground_pair(small_map, LTP, GroundOptions(featureless_regions=(lake,)))
    np.testing.assert_array_equal(pair.reference.image_rgb, unchanged.reference.image_rgb)
    assert pair.scene.georef == pair.reference.georef
    # Oracle: matplotlib's HSV, applied pixel by pixel to the reference.
    reference = pair.reference.image_rgb.reshape(-1, 3)[::37].astype(np.float64) / 255.0
    hsv = rgb_to_hsv(reference)
    hsv[:, 0] = np.mod(hsv[:, 0] - 40.0 / 360.0, 1.0)
    hsv[:, 1] = np.clip(hsv[:, 1] * 0.6, 0.0, 1.0)
    hsv[:, 2] = np.clip(hsv[:, 2] * 1.15, 0.0, 1.0)
    expected = hsv_to_rgb(hsv) * 255.0
    scene = pair.scene.image_rgb.reshape(-1, 3)[::37].astype(np.float64)
    assert np.max(np.abs(scene - expected)) <= 1.0
    assert np.mean(np.abs(scene - reference * 255.0)) > 5.0, "the change is visible"


def test_identity_seasonal_change_keeps_the_image() -> None:
    image = np.random.default_rng(6).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    assert np.max(np.abs(apply_seasonal_change(image, SeasonalChange()).astype(int) - image)) <= 1


def test_procedural_ground_combines_map_and_options() -> None:
    change = SeasonalChange(value_scale=0.8)
    pair = procedural_ground(LTP, size_m=100.0, gsd_m=0.5, seed=3, options=GroundOptions(seasonal_change=change))
    base = procedural_orthophoto(LTP, size_m=100.0, gsd_m=0.5, seed=3)
    np.testing.assert_array_equal(pair.reference.image_rgb, base.image_rgb)
    assert np.mean(pair.scene.image_rgb) < 0.85 * np.mean(base.image_rgb)


def test_negative_radius_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="radius_m"):
        FeaturelessCircle((0.0, 0.0), -5.0)


def test_non_finite_centre_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="center_enu_m"):
        FeaturelessCircle((math.nan, 0.0), 5.0)


def test_colour_out_of_range_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="colour_rgb"):
        FeaturelessCircle((0.0, 0.0), 5.0, (0, 300, 0))


def test_polygon_with_two_vertices_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="at least 3"):
        FeaturelessPolygon(((0.0, 0.0), (1.0, 1.0)))


def test_degenerate_polygon_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="zero area"):
        FeaturelessPolygon(((0.0, 0.0), (10.0, 10.0), (20.0, 20.0)))


def test_inverted_repeated_region_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="max_enu_m > min_enu_m"):
        RepeatedTexture((10.0, 0.0), (0.0, 10.0), tile_m=2.0)


def test_tile_larger_than_half_the_region_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="fit at least twice"):
        RepeatedTexture((0.0, 0.0), (10.0, 10.0), tile_m=6.0)


def test_hue_shift_out_of_range_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="hue_shift_deg"):
        SeasonalChange(hue_shift_deg=270.0)


def test_negative_saturation_scale_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="saturation_scale"):
        SeasonalChange(saturation_scale=-0.5)


def test_wrong_region_type_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="FeaturelessCircle"):
        GroundOptions(featureless_regions=((0.0, 0.0, 5.0),))  # type: ignore[arg-type]


def test_wrong_seasonal_type_is_a_ground_options_error() -> None:
    with pytest.raises(GroundOptionsError, match="SeasonalChange"):
        GroundOptions(seasonal_change=0.5)  # type: ignore[arg-type]
