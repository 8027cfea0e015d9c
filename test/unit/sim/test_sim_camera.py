"""The simulated camera: model and camera_info, ground projection against rendered images, sensor effects."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from sim_ground_factory import (
    LTP,
    MARKER_BACKGROUND,
    MARKER_VALUE,
    attitude,
    marker_orthophoto,
    square_corners,
    uniform_orthophoto,
)

from gps_denied_onboard.sim.camera import (
    CameraModel,
    ImageEncoding,
    Renderer,
    RenderOptions,
    mount_rotation,
)
from gps_denied_onboard.sim.errors import CameraModelError, RenderInputError, RenderOptionsError, SimError
from gps_denied_onboard.sim.orthophoto import (
    FeaturelessCircle,
    GroundOptions,
    Orthophoto,
    procedural_ground,
    procedural_orthophoto,
)

BARREL = (-0.28, 0.09, 0.001, -0.0008, -0.012)  # a wide-angle lens as a calibration reports it
MARKER_SIDE_M = 1.5
MARKER_GRID = np.stack(np.meshgrid(np.arange(-30.0, 31.0, 10.0), np.arange(-30.0, 31.0, 10.0)), -1).reshape(-1, 2)


@pytest.fixture(scope="module")
def markers() -> Orthophoto:
    return marker_orthophoto(LTP, MARKER_GRID, side_m=MARKER_SIDE_M)


@pytest.fixture(scope="module")
def landscape() -> Orthophoto:
    return procedural_orthophoto(LTP, size_m=600.0, gsd_m=0.25, seed=11)


def plumb_bob(points_camera: npt.NDArray[np.float64], camera: CameraModel) -> npt.NDArray[np.float64]:
    """Independent oracle: the plumb_bob model written out (ROS camera_calibration / Brown-Conrady)."""
    k1, k2, p1, p2, k3 = camera.distortion
    x, y = points_camera[:, 0] / points_camera[:, 2], points_camera[:, 1] / points_camera[:, 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.column_stack((camera.fx * xd + camera.cx, camera.fy * yd + camera.cy))


def polygon_centroid_and_area(points: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float]:
    """Centroid and area of a simple polygon (shoelace)."""
    x, y = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2.0
    centroid = np.array([((x + x1) * cross).sum(), ((y + y1) * cross).sum()]) / (6.0 * area)
    return centroid, abs(area)


# --- model and camera_info ----------------------------------------------------------------


def test_camera_errors_share_the_simulator_root() -> None:
    assert issubclass(CameraModelError, SimError)
    assert issubclass(RenderOptionsError, SimError)
    assert issubclass(RenderInputError, SimError)


def test_from_hfov_gives_the_textbook_focal_length() -> None:
    camera = CameraModel.from_hfov(640, 480, 90.0)
    assert camera.fx == pytest.approx(320.0)
    assert camera.fy == camera.fx
    assert (camera.cx, camera.cy) == (319.5, 239.5)
    assert camera.hfov_deg == pytest.approx(90.0)


def test_camera_info_fields_match_the_model_and_opencv() -> None:
    camera = CameraModel(752, 480, 455.2, 456.1, 367.4, 248.9, BARREL)
    info = camera.camera_info_fields()
    assert (info.width, info.height, info.distortion_model) == (752, 480, "plumb_bob")
    assert info.d == BARREL
    assert info.k == (455.2, 0.0, 367.4, 0.0, 456.1, 248.9, 0.0, 0.0, 1.0)
    assert info.r == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert info.p == (455.2, 0.0, 367.4, 0.0, 0.0, 456.1, 248.9, 0.0, 0.0, 0.0, 1.0, 0.0)
    points = np.random.default_rng(0).uniform([-3.0, -2.0, 5.0], [3.0, 2.0, 9.0], (200, 3))
    pixels, seen = camera.project_camera_points(points)
    np.testing.assert_allclose(pixels, plumb_bob(points, camera), atol=1e-6)
    k = np.array(info.k).reshape(3, 3)
    opencv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), k, np.array(info.d))
    np.testing.assert_allclose(pixels, opencv.reshape(-1, 2), atol=1e-9)
    inside = (pixels[:, 0] > -0.5) & (pixels[:, 0] < 751.5) & (pixels[:, 1] > -0.5) & (pixels[:, 1] < 479.5)
    np.testing.assert_array_equal(seen, inside)
    # P is the ideal image the renderer distorts: P applied to a point is its undistorted pixel.
    projection = np.array(info.p).reshape(3, 4) @ np.append(points[0], 1.0)
    np.testing.assert_allclose(camera.undistorted_pixels(pixels[:1])[0], projection[:2] / projection[2], atol=1e-6)


def test_mount_at_nadir_looks_down_with_image_up_forward() -> None:
    rotation = mount_rotation(0.0)
    np.testing.assert_allclose(rotation @ [0.0, 0.0, 1.0], [0.0, 0.0, -1.0])  # optical axis: body down
    np.testing.assert_allclose(rotation @ [0.0, -1.0, 0.0], [1.0, 0.0, 0.0])  # image up: body forward
    np.testing.assert_allclose(rotation @ [1.0, 0.0, 0.0], [0.0, -1.0, 0.0])  # image right: body right


def test_positive_tilt_pitches_the_optical_axis_forward() -> None:
    rotation = mount_rotation(30.0)
    np.testing.assert_allclose(rotation @ [0.0, 0.0, 1.0], [0.5, 0.0, -math.sqrt(3.0) / 2.0], atol=1e-12)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_nadir_projection_of_ground_points_follows_the_pinhole_formula() -> None:
    camera = CameraModel.from_hfov(640, 480, 70.0, t_body_camera_m=(0.1, 0.0, -0.05))
    height = 60.0  # camera height: body at 60.05 m, camera 5 cm below it
    body = np.array([3.0, -2.0, height + 0.05])
    # Yaw 0: body x = east. A point d east of the camera appears d/h * f above the centre, a point
    # d north (body left) d/h * f left of it.
    points = np.array([[3.1 + 6.0, -2.0], [3.1, -2.0 + 4.0], [3.1, -2.0]])
    pixels, seen = camera.project_ground(points, np.eye(3), body)
    assert seen.all()
    expected = np.array(
        [
            [camera.cx, camera.cy - camera.fy * 6.0 / height],
            [camera.cx - camera.fx * 4.0 / height, camera.cy],
            [camera.cx, camera.cy],
        ]
    )
    np.testing.assert_allclose(pixels, expected, atol=1e-9)


def test_points_behind_or_outside_the_view_are_not_seen() -> None:
    camera = CameraModel.from_hfov(640, 480, 70.0, distortion=BARREL)
    pixels, seen = camera.project_ground([[0.0, 0.0, 100.0], [500.0, 0.0, 0.0], [5.0, 5.0, 0.0]], np.eye(3), [0, 0, 50])
    assert seen.tolist() == [False, False, True]
    assert np.all(np.isnan(pixels[0])), "behind the camera: no pixel"


# --- rendered images against projections ------------------------------------------------


@pytest.mark.parametrize(
    ("distortion", "tilt_deg", "rotation", "position"),
    [
        ((0.0,) * 5, 0.0, attitude(30.0), (2.0, 3.0, 50.0)),
        (BARREL, 0.0, attitude(30.0), (2.0, 3.0, 50.0)),
        ((0.0,) * 5, 25.0, attitude(-60.0, 5.0, 3.0), (-15.0, 5.0, 45.0)),
        (BARREL, 30.0, attitude(-60.0, 5.0, 3.0), (-20.0, 5.0, 45.0)),
    ],
    ids=["nadir", "nadir-distorted", "tilted", "tilted-distorted"],
)
def test_rendered_markers_appear_where_the_camera_projects_them(
    markers: Orthophoto,
    distortion: tuple[float, float, float, float, float],
    tilt_deg: float,
    rotation: npt.NDArray[np.float64],
    position: tuple[float, float, float],
) -> None:
    camera = CameraModel.from_hfov(640, 480, 75.0, distortion=distortion, tilt_deg=tilt_deg)
    image = Renderer(markers, camera, LTP).render(rotation, position).astype(np.float64)
    checked = 0
    for centre in MARKER_GRID:
        boundary, seen = camera.project_ground(square_corners(centre, MARKER_SIDE_M, 50), rotation, position)
        expected, area = polygon_centroid_and_area(boundary)
        if not seen.all() or np.any(boundary < 4) or np.any(boundary > (635, 475)):
            continue
        (c0, r0), (c1, r1) = np.floor(boundary.min(0)).astype(int) - 3, np.ceil(boundary.max(0)).astype(int) + 4
        weight = np.clip((image[r0:r1, c0:c1] - MARKER_BACKGROUND) / (MARKER_VALUE - MARKER_BACKGROUND), 0.0, 1.0)
        rows, cols = np.mgrid[r0:r1, c0:c1]
        measured = np.array([(weight * cols).sum(), (weight * rows).sum()]) / weight.sum()
        assert np.linalg.norm(measured - expected) < 0.25, (centre, measured, expected)
        assert weight.sum() == pytest.approx(area, rel=0.04)
        checked += 1
    assert checked >= 20


def test_render_is_exact_with_the_marker_at_the_principal_point(markers: Orthophoto) -> None:
    camera = CameraModel.from_hfov(641, 481, 60.0, distortion=BARREL)  # odd size: a centre pixel exists
    image = Renderer(markers, camera, LTP).render(attitude(17.0), [10.0, -20.0, 30.0])
    assert image[240, 320] == MARKER_VALUE
    assert image[240, 320 + 40] == MARKER_BACKGROUND  # 1.5 m square: about 19 px wide at 30 m


def test_rgb_encoding_matches_mono(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(320, 240, 70.0)
    mono = Renderer(landscape, camera, LTP).render(attitude(40.0), [5.0, 5.0, 70.0])
    rgb = Renderer(landscape, camera, LTP, RenderOptions(encoding=ImageEncoding.RGB8)).render(
        attitude(40.0), [5.0, 5.0, 70.0]
    )
    assert mono.shape == (240, 320)
    assert rgb.shape == (240, 320, 3)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(int)
    assert np.mean(np.abs(grey - mono.astype(int))) < 1.0


def test_klt_tracks_follow_the_predicted_image_motion(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(640, 480, 70.0, distortion=BARREL, tilt_deg=10.0)
    renderer = Renderer(landscape, camera, LTP, RenderOptions.typical())
    rng = np.random.default_rng(3)
    first_pose = (attitude(20.0, 2.0, -1.0), np.array([30.0, -40.0, 80.0]))
    second_pose = (attitude(21.0, 1.5, -0.5), np.array([31.5, -39.0, 80.5]))
    first = renderer.render(*first_pose, rng=rng)
    second = renderer.render(*second_pose, rng=rng)
    corners = cv2.goodFeaturesToTrack(first, 300, 0.01, 12)
    assert corners is not None
    assert len(corners) >= 150, "enough texture for a VIO front end at 80 m"
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(first, second, corners, None, winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    # Prediction: the ground point under each corner, re-projected from the second pose.
    rays = camera.undistorted_pixels(corners.reshape(-1, 2))
    r_map_camera, p_map_camera = camera.pose_in_map(*first_pose)
    directions = (np.column_stack((rays, np.ones(len(rays)))) - (camera.cx, camera.cy, 0.0)) / (
        camera.fx,
        camera.fy,
        1.0,
    )
    directions = directions @ r_map_camera.T
    ground = p_map_camera + directions * (-p_map_camera[2] / directions[:, 2:3])
    predicted, seen = camera.project_ground(ground, *second_pose)
    error = np.linalg.norm(tracked.reshape(-1, 2) - predicted, axis=1)[ok & seen]
    assert len(error) >= 120
    assert np.median(error) < 0.15
    assert np.percentile(error, 90) < 0.5


# --- coverage, fill and horizon ---------------------------------------------------------------


def test_half_the_frame_off_the_map_is_filled_and_reported(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(640, 480, 80.0)
    options = RenderOptions(fill_value=7, read_noise_dn=3.0)
    width = landscape.georef.width
    edge_east_m = landscape.georef.enu_from_pixel([[width - 0.5, (width - 1) / 2.0]], LTP)[0, 0]
    frame = Renderer(landscape, camera, LTP, options).render_frame(
        np.eye(3), [edge_east_m, 0.0, 80.0], rng=np.random.default_rng(0)
    )
    assert frame.coverage_fraction == pytest.approx(0.5, abs=0.01)
    assert np.all(frame.image[:235] == 7), "image up is east: the top half looks past the map edge"
    assert np.mean(frame.image[245:] == 7) < 0.05


def test_sky_above_the_horizon_is_fill(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(640, 480, 80.0, distortion=BARREL, tilt_deg=60.0)
    rotation = attitude(0.0, -25.0, 0.0)  # nose up 25 degrees: the axis is 5 degrees below the horizon
    frame = Renderer(landscape, camera, LTP, RenderOptions(fill_value=255)).render_frame(rotation, [0.0, 0.0, 80.0])
    r_map_camera, _ = camera.pose_in_map(rotation, [0.0, 0.0, 80.0])
    cols, rows = np.meshgrid(np.arange(640.0), np.arange(480.0))
    rays = camera.undistorted_pixels(np.column_stack((cols.ravel(), rows.ravel())))
    up = (
        (np.column_stack((rays, np.ones(len(rays)))) - (camera.cx, camera.cy, 0.0)) / (camera.fx, camera.fy, 1.0)
    ) @ r_map_camera.T
    sky = (up[:, 2] > 0.0).reshape(480, 640)
    assert 0.3 < sky.mean() < 0.8
    assert np.all(frame.image[sky] == 255)
    assert frame.coverage_fraction < 1.0 - sky.mean()


def test_camera_below_the_ground_sees_only_fill(landscape: Orthophoto) -> None:
    frame = Renderer(landscape, CameraModel.from_hfov(64, 48, 60.0), LTP, RenderOptions(fill_value=3)).render_frame(
        np.eye(3), [0.0, 0.0, -1.0]
    )
    assert frame.coverage_fraction == 0.0
    assert np.all(frame.image == 3)


def test_high_altitude_samples_a_coarser_level_without_aliasing() -> None:
    # A one-pixel checkerboard averages to mid grey; point sampling it from far away would alias
    # into large black and white patterns.
    ortho = uniform_orthophoto(LTP, size_m=200.0, gsd_m=0.05)
    board = ((np.indices(ortho.image_rgb.shape[:2]).sum(axis=0) % 2) * 255).astype(np.uint8)
    checker = Orthophoto(np.dstack([board] * 3), ortho.georef)
    camera = CameraModel.from_hfov(320, 240, 60.0)
    frame = Renderer(checker, camera, LTP).render_frame(attitude(13.0), [0.0, 0.0, 120.0])
    metres_per_image_pixel = 2 * 120.0 * math.tan(math.radians(30.0)) / 320
    assert frame.pyramid_level == round(math.log2(metres_per_image_pixel / 0.05))
    assert frame.pyramid_level >= 2
    assert abs(float(frame.image.mean()) - 127.5) < 3.0
    assert float(frame.image.std()) < 6.0


# --- scenario options seen through the camera -----------------------------------------------


def test_featureless_region_has_no_gradient_energy_in_the_image() -> None:
    lake = FeaturelessCircle((0.0, 0.0), 40.0)
    pair = procedural_ground(LTP, size_m=400.0, gsd_m=0.25, seed=5, options=GroundOptions(featureless_regions=(lake,)))
    camera = CameraModel.from_hfov(640, 480, 80.0)
    image = Renderer(pair.scene, camera, LTP).render(attitude(0.0), [25.0, 0.0, 60.0])
    gradient = np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))
    cols, rows = np.meshgrid(np.arange(640.0), np.arange(480.0))
    ground = camera.undistorted_pixels(np.column_stack((cols.ravel(), rows.ravel())))
    # Nadir, yaw 0: image up = east, image right = south; metres per pixel = height / f.
    east = 25.0 - (ground[:, 1] - camera.cy) * 60.0 / camera.fy
    north = -(ground[:, 0] - camera.cx) * 60.0 / camera.fx
    distance = np.hypot(east, north).reshape(480, 640)
    assert float(gradient[distance < 38.0].mean()) < 0.5
    assert float(gradient[distance > 42.0].mean()) > 10.0
    assert cv2.goodFeaturesToTrack(image, 50, 0.01, 5, mask=(distance < 36.0).astype(np.uint8)) is None


# --- sensor effects ------------------------------------------------------------------------


def test_motion_blur_streak_follows_velocity_and_exposure(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(640, 480, 70.0)
    sharp = Renderer(landscape, camera, LTP).render(np.eye(3), [0.0, 0.0, 40.0])
    renderer = Renderer(landscape, camera, LTP, RenderOptions(exposure_time_s=0.02))
    frame = renderer.render_frame(np.eye(3), [0.0, 0.0, 40.0], velocity_map_mps=[30.0, 0.0, 0.0])
    assert frame.motion_blur_px == pytest.approx(30.0 * 0.02 / 40.0 * camera.fy, rel=1e-6)  # ~6.9 px

    # Moving east = along the image's vertical: the frame is the sharp one smeared by a vertical
    # box of the streak's length, not a horizontal one.
    def distance(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
        return float(np.mean(np.abs(a[20:-20, 20:-20].astype(float) - b[20:-20, 20:-20])))

    vertical_box = cv2.blur(sharp, (1, 7), borderType=cv2.BORDER_REFLECT)
    horizontal_box = cv2.blur(sharp, (7, 1), borderType=cv2.BORDER_REFLECT)
    assert distance(frame.image, vertical_box) < 0.3 * distance(frame.image, sharp)
    assert distance(frame.image, vertical_box) < 0.3 * distance(frame.image, horizontal_box)
    still = renderer.render_frame(np.eye(3), [0.0, 0.0, 40.0])
    assert still.motion_blur_px == 0.0
    np.testing.assert_array_equal(still.image, sharp)


def test_yaw_rate_blurs_like_the_rotation_during_exposure(landscape: Orthophoto) -> None:
    camera = CameraModel.from_hfov(640, 480, 70.0, tilt_deg=30.0)
    renderer = Renderer(landscape, camera, LTP, RenderOptions(exposure_time_s=0.02))
    frame = renderer.render_frame(np.eye(3), [0.0, 0.0, 50.0], angular_rate_body_radps=[0.0, 0.0, 1.0])
    # The principal ray meets the ground 50 tan(30) m ahead; yawing 0.02 rad moves that point
    # sideways by the angle it subtends, seen at its slant range.
    ahead = 50.0 * math.tan(math.radians(30.0))
    slant = 50.0 / math.cos(math.radians(30.0))
    assert frame.motion_blur_px == pytest.approx(camera.fx * 0.02 * ahead / slant, rel=1e-3)


def test_gain_and_vignetting_follow_the_cos4_law() -> None:
    ortho = uniform_orthophoto(LTP, size_m=200.0, gsd_m=0.25, value=100)
    camera = CameraModel.from_hfov(640, 480, 90.0)
    image = Renderer(ortho, camera, LTP, RenderOptions(gain=1.5, vignetting=1.0)).render(np.eye(3), [0, 0, 20])
    assert image[240, 320] == 150
    corner_tan2 = ((0 - camera.cx) ** 2 + (0 - camera.cy) ** 2) / camera.fx**2
    assert image[0, 0] == round(150 / (1 + corner_tan2) ** 2)


def test_noise_has_the_shot_and_read_variance_and_is_seeded() -> None:
    ortho = uniform_orthophoto(LTP, size_m=200.0, gsd_m=0.25, value=100)
    camera = CameraModel.from_hfov(320, 240, 60.0)
    options = RenderOptions(full_well_electrons=2550.0, read_noise_dn=2.0)
    renderer = Renderer(ortho, camera, LTP, options)
    image = renderer.render(np.eye(3), [0, 0, 30], rng=np.random.default_rng(42)).astype(np.float64)
    # Shot: 100 DN = 1000 e-, sigma 31.6 e- = 3.16 DN; with 2 DN read noise sigma = 3.74 DN.
    assert float(image.mean()) == pytest.approx(100.0, abs=0.1)
    assert float(image.std()) == pytest.approx(math.sqrt(10.0 + 4.0), rel=0.05)
    again = renderer.render(np.eye(3), [0, 0, 30], rng=np.random.default_rng(42))
    other = renderer.render(np.eye(3), [0, 0, 30], rng=np.random.default_rng(43))
    np.testing.assert_array_equal(again, image.astype(np.uint8))
    assert np.mean(other != again) > 0.5


def test_gain_jitter_changes_brightness_per_frame() -> None:
    ortho = uniform_orthophoto(LTP, size_m=200.0, gsd_m=0.25, value=100)
    renderer = Renderer(ortho, CameraModel.from_hfov(64, 48, 60.0), LTP, RenderOptions(gain_jitter_sigma=0.1))
    rng = np.random.default_rng(1)
    gains = [renderer.render_frame(np.eye(3), [0, 0, 30], rng=rng).gain for _ in range(200)]
    assert np.std(np.log(gains)) == pytest.approx(0.1, rel=0.15)


def test_render_is_deterministic_for_a_seed(landscape: Orthophoto) -> None:
    renderer = Renderer(
        landscape, CameraModel.from_hfov(320, 240, 70.0, distortion=BARREL), LTP, RenderOptions.typical()
    )
    pose = (attitude(10.0, 3.0, 2.0), [12.0, -7.0, 70.0])
    kwargs = {"velocity_map_mps": [8.0, 3.0, 0.0], "angular_rate_body_radps": [0.1, 0.0, 0.3]}
    first = renderer.render(*pose, rng=np.random.default_rng(9), **kwargs)
    second = renderer.render(*pose, rng=np.random.default_rng(9), **kwargs)
    np.testing.assert_array_equal(first, second)


# --- malformed inputs ------------------------------------------------------------------------


def test_zero_width_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="width"):
        CameraModel(0, 480, 400.0, 400.0, 0.0, 240.0)


def test_non_positive_focal_length_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="focal"):
        CameraModel(640, 480, 0.0, 400.0, 320.0, 240.0)


def test_principal_point_outside_the_image_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="principal point"):
        CameraModel(640, 480, 400.0, 400.0, 700.0, 240.0)


def test_non_finite_distortion_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="5 finite numbers"):
        CameraModel(640, 480, 400.0, 400.0, 320.0, 240.0, (math.nan, 0.0, 0.0, 0.0, 0.0))


def test_wrong_number_of_distortion_coefficients_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="5 finite numbers"):
        CameraModel(640, 480, 400.0, 400.0, 320.0, 240.0, (0.1, 0.0, 0.0, 0.0))  # type: ignore[arg-type]


def test_distortion_that_folds_back_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="distortion"):
        CameraModel.from_hfov(640, 480, 100.0, distortion=(-0.9, 0.0, 0.0, 0.0, 0.0))


def test_tilt_of_80_degrees_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="tilt"):
        CameraModel.from_hfov(640, 480, 70.0, tilt_deg=-80.0)


def test_field_of_view_out_of_range_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="hfov"):
        CameraModel.from_hfov(640, 480, 180.0)


def test_non_finite_mount_offset_is_a_camera_model_error() -> None:
    with pytest.raises(CameraModelError, match="t_body_camera_m"):
        CameraModel.from_hfov(640, 480, 70.0, t_body_camera_m=(0.0, math.inf, 0.0))


def test_unknown_encoding_is_a_render_options_error() -> None:
    with pytest.raises(RenderOptionsError, match="encoding"):
        RenderOptions(encoding="bgr8")  # type: ignore[arg-type]


def test_negative_exposure_is_a_render_options_error() -> None:
    with pytest.raises(RenderOptionsError, match="exposure_time_s"):
        RenderOptions(exposure_time_s=-0.001)


def test_vignetting_above_one_is_a_render_options_error() -> None:
    with pytest.raises(RenderOptionsError, match="vignetting"):
        RenderOptions(vignetting=1.5)


def test_tiny_full_well_is_a_render_options_error() -> None:
    with pytest.raises(RenderOptionsError, match="full_well_electrons"):
        RenderOptions(full_well_electrons=10.0)


def test_fill_value_out_of_range_is_a_render_options_error() -> None:
    with pytest.raises(RenderOptionsError, match="fill_value"):
        RenderOptions(fill_value=256)


def test_non_rotation_attitude_is_a_render_input_error(landscape: Orthophoto) -> None:
    renderer = Renderer(landscape, CameraModel.from_hfov(64, 48, 60.0), LTP)
    with pytest.raises(RenderInputError, match="R_map_body"):
        renderer.render(np.diag([1.0, 1.0, 2.0]), [0.0, 0.0, 50.0])


def test_wrongly_shaped_position_is_a_render_input_error(landscape: Orthophoto) -> None:
    renderer = Renderer(landscape, CameraModel.from_hfov(64, 48, 60.0), LTP)
    with pytest.raises(RenderInputError, match="p_map_m"):
        renderer.render(np.eye(3), [0.0, 50.0])


def test_non_finite_velocity_is_a_render_input_error(landscape: Orthophoto) -> None:
    renderer = Renderer(landscape, CameraModel.from_hfov(64, 48, 60.0), LTP, RenderOptions(exposure_time_s=0.01))
    with pytest.raises(RenderInputError, match="velocity_map_mps"):
        renderer.render(np.eye(3), [0.0, 0.0, 50.0], velocity_map_mps=[math.nan, 0.0, 0.0])


def test_noise_without_rng_is_a_render_input_error(landscape: Orthophoto) -> None:
    renderer = Renderer(landscape, CameraModel.from_hfov(64, 48, 60.0), LTP, RenderOptions(read_noise_dn=1.0))
    with pytest.raises(RenderInputError, match="rng"):
        renderer.render(np.eye(3), [0.0, 0.0, 50.0])


def test_malformed_ground_points_are_a_render_input_error() -> None:
    with pytest.raises(RenderInputError, match="points_enu"):
        CameraModel.from_hfov(64, 48, 60.0).project_ground(np.zeros((3, 4)), np.eye(3), [0.0, 0.0, 50.0])
