"""A pinhole camera over the planar ground: model, ground projection and image rendering.

Frames: map is ENU (the ground is its plane ``up = 0``), base_link is FLU with attitude
``R_map_body``, the camera optical frame has x right, y down, z along the optical axis. At
``tilt_deg = 0`` the camera looks straight down with the image's "up" towards body +x; a positive
tilt pitches the optical axis forward. Pixel coordinates are OpenCV's and ROS's (centres at
integers); distortion is ``plumb_bob`` (k1, k2, p1, p2, k3), OpenCV's model.

Rendering (``Renderer``): the plane-induced homography maps the ground (orthophoto pixels, via
the ENU -> pixel affine) to an ideal pinhole image, warped with ``cv2.warpPerspective`` from the
orthophoto pyramid level whose resolution matches the image (no aliasing); lens distortion is a
``cv2.remap`` with a map built once per camera (``cv2.undistortPoints`` of every output pixel);
then motion blur during the exposure, gain, vignetting, shot and read noise.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.geometry.camera_mount import nadir_mount_rotation
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.errors import CameraModelError, RenderInputError, RenderOptionsError
from gps_denied_onboard.sim.orthophoto import Orthophoto

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Image8 = npt.NDArray[np.uint8]

MAX_TILT_DEG = 80.0  # beyond this the horizon fills the frame; the plane model stops being useful
ROTATION_TOLERANCE = 1e-6  # |R^T R - I| allowed in attitudes (float rounding in producers)
UNDISTORT_TOLERANCE_PX = 0.01  # undistort -> distort round trip over the image border
MAX_IDEAL_CANVAS_SCALE = 3.0  # the undistorted image may be at most this many times the raw one
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
MIN_BLUR_PX = 0.5  # shorter motion during the exposure is invisible; skip the filter
SCALE_SAMPLE_STEP_PX = 16  # the ground resolution (pyramid level) is taken on this grid of raw pixels
MIN_PYRAMID_SIDE_PX = 32
MAX_WARP_SOURCE_PX = 32_000  # OpenCV warps through int16 coordinates


def _rotation(name: str, value: npt.ArrayLike) -> FloatArray:
    matrix = np.asarray(value, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise RenderInputError(f"{name} must be a finite 3x3 rotation matrix, got shape {matrix.shape}")
    error = float(np.max(np.abs(matrix.T @ matrix - np.eye(3))))
    if error > ROTATION_TOLERANCE or np.linalg.det(matrix) < 0.0:
        raise RenderInputError(
            f"{name} is not a rotation matrix (|R^T R - I| = {error:.2e}, det {np.linalg.det(matrix):.6f})"
        )
    return matrix


def _vector3(name: str, value: npt.ArrayLike | None) -> FloatArray:
    if value is None:
        return np.zeros(3)
    vector = np.asarray(value, dtype=np.float64)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)):
        raise RenderInputError(f"{name} must be a finite 3-vector, got {value!r}")
    return vector


def mount_rotation(tilt_deg: float) -> FloatArray:
    """R_body_camera of a camera looking down (tilt 0), optical axis pitched forward by ``tilt_deg``."""
    return nadir_mount_rotation(tilt_deg)


@dataclass(frozen=True)
class CameraInfoFields:
    """The sensor_msgs/CameraInfo fields of a camera (the header is the caller's)."""

    width: int
    height: int
    distortion_model: str
    d: tuple[float, ...]  # (k1, k2, p1, p2, k3)
    k: tuple[float, ...]  # 3x3 row-major
    r: tuple[float, ...]  # 3x3 identity: monocular, no rectification rotation
    p: tuple[float, ...]  # 3x4 row-major [K | 0]: the ideal pinhole image the renderer distorts
    binning_x: int = 0
    binning_y: int = 0


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics with plumb_bob distortion and the camera's mount on base_link."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)  # k1, k2, p1, p2, k3
    tilt_deg: float = 0.0
    t_body_camera_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    R_body_camera: FloatArray = field(init=False, repr=False, compare=False)
    ideal_bounds_px: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise CameraModelError(f"{name} must be a positive integer, got {value!r}")
        for name in ("fx", "fy", "cx", "cy", "tilt_deg"):
            if not math.isfinite(getattr(self, name)):
                raise CameraModelError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.fx <= 0.0 or self.fy <= 0.0:
            raise CameraModelError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if not (0.0 <= self.cx <= self.width - 1 and 0.0 <= self.cy <= self.height - 1):
            raise CameraModelError(
                f"principal point ({self.cx}, {self.cy}) is outside the {self.width} x {self.height} image"
            )
        if abs(self.tilt_deg) >= MAX_TILT_DEG:
            raise CameraModelError(f"|tilt_deg| must be below {MAX_TILT_DEG}, got {self.tilt_deg}")
        distortion = tuple(float(v) for v in self.distortion)
        if len(distortion) != 5 or not all(math.isfinite(v) for v in distortion):
            raise CameraModelError(
                f"plumb_bob distortion is 5 finite numbers (k1, k2, p1, p2, k3), got {self.distortion!r}"
            )
        mount = tuple(float(v) for v in self.t_body_camera_m)
        if len(mount) != 3 or not all(math.isfinite(v) for v in mount):
            raise CameraModelError(f"t_body_camera_m must be 3 finite numbers, got {self.t_body_camera_m!r}")
        object.__setattr__(self, "distortion", distortion)
        object.__setattr__(self, "t_body_camera_m", mount)
        object.__setattr__(self, "R_body_camera", mount_rotation(self.tilt_deg))
        object.__setattr__(self, "ideal_bounds_px", self._check_distortion())

    @classmethod
    def from_hfov(
        cls,
        width: int,
        height: int,
        hfov_deg: float,
        *,
        distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        tilt_deg: float = 0.0,
        t_body_camera_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> CameraModel:
        """Square pixels, principal point at the image centre, focal length from the horizontal field of view."""
        if not (math.isfinite(hfov_deg) and 0.0 < hfov_deg < 170.0):
            raise CameraModelError(f"hfov_deg must be within (0, 170), got {hfov_deg!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
            raise CameraModelError(f"width must be a positive integer, got {width!r}")
        focal = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(
            width,
            height,
            focal,
            focal,
            (width - 1) / 2.0,
            (height - 1) / 2.0,
            distortion,
            tilt_deg,
            t_body_camera_m,
        )

    @property
    def camera_matrix(self) -> FloatArray:
        """K (3x3)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist_coeffs(self) -> FloatArray:
        """The plumb_bob coefficients (k1, k2, p1, p2, k3) as OpenCV takes them."""
        return np.asarray(self.distortion, dtype=np.float64)

    @property
    def has_distortion(self) -> bool:
        """Whether any distortion coefficient is non-zero."""
        return any(v != 0.0 for v in self.distortion)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view of the ideal pinhole image, degrees."""
        return math.degrees(2.0 * math.atan(self.width / (2.0 * self.fx)))

    def camera_info_fields(self) -> CameraInfoFields:
        """The exact sensor_msgs/CameraInfo fields for this camera (plumb_bob, R = I, P = [K | 0])."""
        k = self.camera_matrix
        return CameraInfoFields(
            width=int(self.width),
            height=int(self.height),
            distortion_model="plumb_bob",
            d=tuple(self.distortion),
            k=tuple(float(v) for v in k.ravel()),
            r=tuple(float(v) for v in np.eye(3).ravel()),
            p=tuple(float(v) for v in np.hstack((k, np.zeros((3, 1)))).ravel()),
        )

    def pose_in_map(
        self,
        R_map_body: npt.ArrayLike,  # frames in names, as the estimator contract writes them
        p_map_m: npt.ArrayLike,
    ) -> tuple[FloatArray, FloatArray]:
        """(R_map_camera, p_map_camera_m) of the camera for a body attitude and position."""
        rotation = _rotation("R_map_body", R_map_body)
        position = _vector3("p_map_m", p_map_m)
        return rotation @ self.R_body_camera, position + rotation @ np.asarray(self.t_body_camera_m)

    def undistorted_pixels(self, pixels_uv: npt.ArrayLike) -> FloatArray:
        """Ideal pinhole pixel coordinates (N, 2) of raw (distorted) pixel coordinates (N, 2)."""
        points = np.asarray(pixels_uv, dtype=np.float64).reshape(-1, 1, 2)
        if not self.has_distortion:
            return np.array(points.reshape(-1, 2), dtype=np.float64)
        k = self.camera_matrix
        ideal = cv2.undistortPoints(points, k, self.dist_coeffs, P=k, criteria=UNDISTORT_CRITERIA)
        return np.asarray(ideal, dtype=np.float64).reshape(-1, 2)

    def project_camera_points(self, points_camera: npt.ArrayLike) -> tuple[FloatArray, BoolArray]:
        """Raw pixels (N, 2) of points in the optical frame (N, 3), and whether each is seen (in front, in image)."""
        points = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
        in_front = points[:, 2] > 1e-9
        pixels = np.full((len(points), 2), np.nan)
        if np.any(in_front):
            front = points[in_front]
            projected, _ = cv2.projectPoints(
                front.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.camera_matrix, self.dist_coeffs
            )
            pixels[in_front] = np.asarray(projected, dtype=np.float64).reshape(-1, 2)
            # The distortion polynomial folds back far outside the field of view: only rays whose
            # ideal image lies within the undistorted image's extent are really seen.
            ideal = front[:, :2] / front[:, 2:3] * (self.fx, self.fy) + (self.cx, self.cy)
            x0, y0, x1, y1 = self.ideal_bounds_px
            folded = (ideal[:, 0] < x0 - 1) | (ideal[:, 0] > x1 + 1) | (ideal[:, 1] < y0 - 1) | (ideal[:, 1] > y1 + 1)
            in_front[np.flatnonzero(in_front)[folded]] = False
        inside = (
            in_front
            & (pixels[:, 0] >= -0.5)
            & (pixels[:, 0] <= self.width - 0.5)
            & (pixels[:, 1] >= -0.5)
            & (pixels[:, 1] <= self.height - 0.5)
        )
        return pixels, inside

    def project_ground(
        self,
        points_enu: npt.ArrayLike,
        R_map_body: npt.ArrayLike,  # frames in names
        p_map_m: npt.ArrayLike,
    ) -> tuple[FloatArray, BoolArray]:
        """Raw pixels (N, 2) of ENU points (N, 2 on the ground, or N, 3) and a mask: in front and inside the image."""
        points = np.asarray(points_enu, dtype=np.float64)
        if points.ndim == 1:
            points = points[None, :]
        if points.ndim != 2 or points.shape[1] not in (2, 3) or not np.all(np.isfinite(points)):
            raise RenderInputError(f"points_enu must be finite (N, 2) or (N, 3), got shape {points.shape}")
        if points.shape[1] == 2:
            points = np.column_stack((points, np.zeros(len(points))))
        r_map_camera, p_map_camera = self.pose_in_map(R_map_body, p_map_m)
        return self.project_camera_points((points - p_map_camera) @ r_map_camera)

    def _check_distortion(self) -> tuple[float, float, float, float]:
        w, h = self.width, self.height
        if not self.has_distortion:
            return -0.5, -0.5, w - 0.5, h - 0.5
        border = np.vstack(
            [
                np.column_stack((np.arange(w), np.zeros(w))),
                np.column_stack((np.arange(w), np.full(w, h - 1))),
                np.column_stack((np.zeros(h), np.arange(h))),
                np.column_stack((np.full(h, w - 1), np.arange(h))),
            ]
        ).astype(np.float64)
        ideal = self.undistorted_pixels(border)
        normalised = (ideal - (self.cx, self.cy)) / (self.fx, self.fy)
        if not np.all(np.isfinite(normalised)):
            raise CameraModelError(f"distortion {self.distortion} cannot be inverted over the image")
        # The radial polynomial must grow monotonically out to the image corners, or two rays would
        # share one pixel and the undistortion is ambiguous.
        radius = np.linspace(0.0, 1.05 * float(np.max(np.linalg.norm(normalised, axis=1))), 2000)
        k1, k2, _, _, k3 = self.distortion
        radial = radius * (1.0 + k1 * radius**2 + k2 * radius**4 + k3 * radius**6)
        if np.any(np.diff(radial) <= 0.0):
            raise CameraModelError(f"distortion {self.distortion} folds back inside the field of view: not invertible")
        projected, _ = cv2.projectPoints(
            np.column_stack((normalised, np.ones(len(normalised)))).reshape(-1, 1, 3),
            np.zeros(3),
            np.zeros(3),
            self.camera_matrix,
            self.dist_coeffs,
        )
        error = float(np.max(np.abs(np.asarray(projected).reshape(-1, 2) - border)))
        if error > UNDISTORT_TOLERANCE_PX:
            raise CameraModelError(
                f"distortion {self.distortion} cannot be inverted over the image (round trip off by {error:.3f} px)"
            )
        x0, y0 = np.min(ideal, axis=0) - 0.5
        x1, y1 = np.max(ideal, axis=0) + 0.5
        if (x1 - x0) > MAX_IDEAL_CANVAS_SCALE * w or (y1 - y0) > MAX_IDEAL_CANVAS_SCALE * h:
            raise CameraModelError(
                f"distortion {self.distortion} is too strong: the undistorted image spans "
                f"{x1 - x0:.0f} x {y1 - y0:.0f} px for a {w} x {h} sensor"
            )
        return float(x0), float(y0), float(x1), float(y1)


class ImageEncoding(str, enum.Enum):
    """Output encodings; the values are sensor_msgs/Image encodings."""

    MONO8 = "mono8"
    RGB8 = "rgb8"


@dataclass(frozen=True)
class RenderOptions:
    """Sensor effects. The defaults are an ideal camera; ``typical()`` is a small global-shutter CMOS."""

    encoding: ImageEncoding = ImageEncoding.MONO8
    exposure_time_s: float = 0.0  # motion blur along the image motion during the exposure; 0 = none
    gain: float = 1.0  # digital number per unit of scene brightness (exposure x analogue gain)
    gain_jitter_sigma: float = 0.0  # per-frame log-normal gain change (auto-exposure hunting)
    full_well_electrons: float = 0.0  # shot noise, 255 DN = full well; 0 = no shot noise
    read_noise_dn: float = 0.0  # Gaussian read noise, DN
    vignetting: float = 0.0  # fraction of the natural cos^4 fall-off applied, [0, 1]
    fill_value: int = 0  # pixels that see no map (off the orthophoto, above the horizon)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "encoding", ImageEncoding(self.encoding))
        except ValueError:
            choices = [e.value for e in ImageEncoding]
            raise RenderOptionsError(f"encoding must be one of {choices}, got {self.encoding!r}") from None
        limits = {
            "exposure_time_s": (0.0, 0.1),
            "gain": (1e-3, 100.0),
            "gain_jitter_sigma": (0.0, 1.0),
            "full_well_electrons": (0.0, 1e7),
            "read_noise_dn": (0.0, 64.0),
            "vignetting": (0.0, 1.0),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= value <= high):
                raise RenderOptionsError(f"{name} must be a number within [{low}, {high}], got {value!r}")
        if 0.0 < self.full_well_electrons < 100.0:
            raise RenderOptionsError(f"full_well_electrons must be 0 (off) or >= 100, got {self.full_well_electrons}")
        if isinstance(self.fill_value, bool) or not isinstance(self.fill_value, int) or not 0 <= self.fill_value <= 255:
            raise RenderOptionsError(f"fill_value must be an integer within [0, 255], got {self.fill_value!r}")

    @classmethod
    def typical(cls, encoding: ImageEncoding = ImageEncoding.MONO8) -> RenderOptions:
        """A small global-shutter CMOS in daylight: 2 ms exposure, 10 ke- full well, 2 DN read noise."""
        return cls(
            encoding=encoding,
            exposure_time_s=0.002,
            gain_jitter_sigma=0.02,
            full_well_electrons=10_000.0,
            read_noise_dn=2.0,
            vignetting=0.5,
        )

    @property
    def stochastic(self) -> bool:
        """Whether rendering draws random numbers (and so needs an rng)."""
        return self.gain_jitter_sigma > 0.0 or self.full_well_electrons > 0.0 or self.read_noise_dn > 0.0


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """One rendered image and how it was made."""

    image: Image8  # (H, W) mono8 or (H, W, 3) rgb8
    coverage_fraction: float  # share of the frame that sees the orthophoto (rest is fill_value)
    pyramid_level: int  # orthophoto level sampled: its pixels are 2**level times the original
    motion_blur_px: float  # length of the blur streak at the principal point (0 when none)
    gain: float  # gain applied to this frame, jitter included


class Renderer:
    """Renders the camera's view of an orthophoto scene; build once per scene and camera.

    The constructor does the heavy work (grey conversion, pyramid, lens maps); ``render`` only
    reads them, so one renderer may serve several threads (the noise seed goes to OpenCV's
    per-thread generator).
    """

    def __init__(
        self,
        scene: Orthophoto,
        camera: CameraModel,
        ltp: LocalTangentPlane,
        options: RenderOptions | None = None,
    ) -> None:
        self.scene = scene
        self.camera = camera
        self.options = options or RenderOptions()
        self.enu_to_pixel = scene.georef.enu_to_pixel_affine(ltp)
        colour = self.options.encoding is ImageEncoding.RGB8
        base = scene.image_rgb if colour else cv2.cvtColor(scene.image_rgb, cv2.COLOR_RGB2GRAY)
        self._pyramid = [np.asarray(base, dtype=np.uint8)]
        # pyrDown keeps pixel centres aligned: level-k pixel x is level-0 pixel 2**k * x.
        while min(self._pyramid[-1].shape[:2]) >= 2 * MIN_PYRAMID_SIDE_PX:
            self._pyramid.append(np.asarray(cv2.pyrDown(self._pyramid[-1]), dtype=np.uint8))
        self._build_lens_maps()

    @property
    def pyramid_levels(self) -> int:
        """Number of orthophoto pyramid levels held."""
        return len(self._pyramid)

    def _build_lens_maps(self) -> None:
        camera = self.camera
        w, h = camera.width, camera.height
        x0, y0, x1, y1 = camera.ideal_bounds_px
        # The ideal image is rendered on a canvas that covers every ray the raw image sees; without
        # distortion that is the image itself.
        if camera.has_distortion:
            self._canvas_origin = (math.floor(x0), math.floor(y0))
            self._canvas_size = (math.ceil(x1) - self._canvas_origin[0] + 1, math.ceil(y1) - self._canvas_origin[1] + 1)
        else:
            self._canvas_origin, self._canvas_size = (0, 0), (w, h)
        grid_u, grid_v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        ideal = camera.undistorted_pixels(np.column_stack((grid_u.ravel(), grid_v.ravel()))).reshape(h, w, 2)
        canvas = (ideal - self._canvas_origin).astype(np.float32)
        self._ideal_canvas = canvas  # float maps, also used for horizon masks and coverage
        if camera.has_distortion:
            map1, map2 = cv2.convertMaps(canvas[..., 0], canvas[..., 1], cv2.CV_16SC2)
            self._remap: tuple[npt.NDArray[np.int16], npt.NDArray[np.uint16]] | None = (
                np.asarray(map1, dtype=np.int16),
                np.asarray(map2, dtype=np.uint16),
            )
        else:
            self._remap = None
        step = SCALE_SAMPLE_STEP_PX
        samples = canvas[step // 2 :: step, step // 2 :: step].reshape(-1, 2).astype(np.float64)
        self._scale_samples = np.column_stack((samples, np.ones(len(samples))))
        self._vignette: npt.NDArray[np.float32] | None = None
        if self.options.vignetting > 0.0:
            normalised = (ideal - (camera.cx, camera.cy)) / (camera.fx, camera.fy)
            cos4 = 1.0 / (1.0 + np.sum(normalised**2, axis=-1)) ** 2
            vignette = (1.0 - self.options.vignetting * (1.0 - cos4)).astype(np.float32)
            if self.options.encoding is ImageEncoding.RGB8:  # the single-channel plane of _finish
                vignette = np.repeat(vignette, 3, axis=1)
            self._vignette = vignette

    def render(
        self,
        R_map_body: npt.ArrayLike,  # frames in names
        p_map_m: npt.ArrayLike,
        *,
        velocity_map_mps: npt.ArrayLike | None = None,
        angular_rate_body_radps: npt.ArrayLike | None = None,
        rng: np.random.Generator | None = None,
    ) -> Image8:
        """The raw image (mono8 (H, W) or rgb8 (H, W, 3)) at the mid-exposure pose; see ``render_frame``."""
        return self.render_frame(
            R_map_body,
            p_map_m,
            velocity_map_mps=velocity_map_mps,
            angular_rate_body_radps=angular_rate_body_radps,
            rng=rng,
        ).image

    def render_frame(
        self,
        R_map_body: npt.ArrayLike,  # frames in names
        p_map_m: npt.ArrayLike,
        *,
        velocity_map_mps: npt.ArrayLike | None = None,
        angular_rate_body_radps: npt.ArrayLike | None = None,
        rng: np.random.Generator | None = None,
    ) -> RenderedFrame:
        """Render at the mid-exposure pose; velocity and body rate give the motion blur; rng draws the noise."""
        options = self.options
        if options.stochastic and rng is None:
            raise RenderInputError("rng is required: gain jitter or noise is enabled in the render options")
        r_map_camera, p_map_camera = self.camera.pose_in_map(R_map_body, p_map_m)
        velocity = _vector3("velocity_map_mps", velocity_map_mps)
        rate = _vector3("angular_rate_body_radps", angular_rate_body_radps)
        if p_map_camera[2] <= 0.0:  # at or below the ground plane: nothing to see
            return RenderedFrame(self._blank(), 0.0, 0, 0.0, options.gain)
        # ortho_from_canvas maps canvas pixels (u, v, 1) to level-0 orthophoto pixels: the inverse
        # plane-induced homography composed with the ENU -> pixel affine. up_row gives each canvas
        # pixel's ray "up" component: the ray sees the ground only where it is negative.
        k_canvas = self.camera.camera_matrix
        k_canvas[:2, 2] -= self._canvas_origin
        r_camera_map = r_map_camera.T
        canvas_from_ground = k_canvas @ np.column_stack(
            (r_camera_map[:, 0], r_camera_map[:, 1], -r_camera_map @ p_map_camera)
        )
        ortho_from_canvas = self.enu_to_pixel.matrix @ np.linalg.inv(canvas_from_ground)
        up_row = (r_map_camera @ np.linalg.inv(k_canvas))[2]
        sees_ground = self._scale_samples @ up_row < 0.0
        if not np.any(sees_ground):
            return RenderedFrame(self._blank(), 0.0, 0, 0.0, options.gain)
        level = self._level(ortho_from_canvas, self._scale_samples[sees_ground])
        ideal, whole_footprint_on_map = self._warp(ortho_from_canvas, level, up_row)
        image = ideal
        if self._remap is not None:
            image = np.asarray(
                cv2.remap(
                    ideal,
                    *self._remap,
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(options.fill_value,) * 3,
                ),
                dtype=np.uint8,
            )
        blur_px = 0.0
        if options.exposure_time_s > 0.0:
            blur = self._blur_vector(r_map_camera, p_map_camera, velocity, rate)
            blur_px = float(np.hypot(*blur))
            if blur_px >= MIN_BLUR_PX:
                kernel = _line_kernel(blur)
                image = np.asarray(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), dtype=np.uint8)
        if whole_footprint_on_map:
            return self._finish(image, coverage=1.0, level=level, blur_px=blur_px, rng=rng, unseen=None)
        unseen = self._unseen_mask(ortho_from_canvas, up_row)
        coverage = 1.0 - float(np.mean(unseen))
        return self._finish(image, coverage=coverage, level=level, blur_px=blur_px, rng=rng, unseen=unseen)

    def _blank(self) -> Image8:
        shape = (self.camera.height, self.camera.width) + ((3,) if self.options.encoding is ImageEncoding.RGB8 else ())
        return np.full(shape, self.options.fill_value, dtype=np.uint8)

    def _level(self, ortho_from_canvas: FloatArray, samples: FloatArray) -> int:
        # Orthophoto pixels per image pixel from the local Jacobian of the homography (area scale);
        # the level is rounded like mipmapping, so sampling steps stay within 0.7 .. 1.4 level pixels.
        mapped = samples @ ortho_from_canvas.T
        w = mapped[:, 2]
        jacobian_det = np.linalg.det(ortho_from_canvas) / w**3
        scale = float(np.median(np.sqrt(np.abs(jacobian_det))))
        if not math.isfinite(scale) or scale <= 1.0:
            return 0
        return min(len(self._pyramid) - 1, max(0, round(math.log2(scale))))

    def _warp(self, ortho_from_canvas: FloatArray, level: int, up_row: FloatArray) -> tuple[Image8, bool]:
        """The ideal (undistorted) canvas image, and whether its whole footprint lies on the map."""
        source = self._pyramid[level]
        level_from_canvas = np.diag([0.5**level, 0.5**level, 1.0]) @ ortho_from_canvas
        canvas_w, canvas_h = self._canvas_size
        src_h, src_w = source.shape[:2]
        corners = np.array(
            [[0.0, 0.0, 1.0], [canvas_w - 1, 0.0, 1.0], [canvas_w - 1, canvas_h - 1, 1.0], [0.0, canvas_h - 1, 1.0]]
        )
        inside = False
        if np.all(corners @ up_row < 0.0):
            # No horizon: the footprint is the convex image of the canvas corners. Warping only from
            # its bounding box keeps OpenCV's int16 remap coordinates in range on large maps.
            mapped = corners @ level_from_canvas.T
            mapped = mapped[:, :2] / mapped[:, 2:3]
            c0, r0 = math.floor(mapped[:, 0].min()) - 2, math.floor(mapped[:, 1].min()) - 2
            c1, r1 = math.ceil(mapped[:, 0].max()) + 3, math.ceil(mapped[:, 1].max()) + 3
            level0 = mapped * 2**level
            height, width = self.scene.image_rgb.shape[:2]
            inside = bool(np.all((level0 >= 0.0) & (level0 <= (width - 1, height - 1))))
        else:
            # Horizon in view: the footprint is unbounded; take the part near the ground the
            # coverage samples hit, at most MAX_WARP_SOURCE_PX wide.
            hits = self._scale_samples[self._scale_samples @ up_row < 0.0] @ level_from_canvas.T
            hits = hits[:, :2] / hits[:, 2:3]
            centre = np.clip(np.median(hits, axis=0), 0, (src_w - 1, src_h - 1))
            half = MAX_WARP_SOURCE_PX // 2
            c0, r0 = int(centre[0]) - half, int(centre[1]) - half
            c1, r1 = c0 + 2 * half, r0 + 2 * half
        c0, r0, c1, r1 = max(0, c0), max(0, r0), min(src_w, c1), min(src_h, r1)
        shape = (canvas_h, canvas_w, *source.shape[2:])
        if c1 <= c0 or r1 <= r0:
            return np.full(shape, self.options.fill_value, dtype=np.uint8), False
        roi_from_canvas = np.array([[1.0, 0.0, -c0], [0.0, 1.0, -r0], [0.0, 0.0, 1.0]]) @ level_from_canvas
        ideal = cv2.warpPerspective(
            source[r0:r1, c0:c1],
            roi_from_canvas,
            (canvas_w, canvas_h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(self.options.fill_value,) * 3,
        )
        return np.asarray(ideal, dtype=np.uint8), inside

    def _unseen_mask(self, ortho_from_canvas: FloatArray, up_row: FloatArray) -> BoolArray:
        # Per raw pixel: its ray misses the ground, or hits it off the orthophoto.
        u, v = self._ideal_canvas[..., 0], self._ideal_canvas[..., 1]
        up = up_row[0] * u + up_row[1] * v + up_row[2]
        w = ortho_from_canvas[2, 0] * u + ortho_from_canvas[2, 1] * v + ortho_from_canvas[2, 2]
        col = (ortho_from_canvas[0, 0] * u + ortho_from_canvas[0, 1] * v + ortho_from_canvas[0, 2]) / w
        row = (ortho_from_canvas[1, 0] * u + ortho_from_canvas[1, 1] * v + ortho_from_canvas[1, 2]) / w
        height, width = self.scene.image_rgb.shape[:2]
        return np.asarray((up >= 0.0) | ~((col >= -0.5) & (col <= width - 0.5) & (row >= -0.5) & (row <= height - 0.5)))

    def _blur_vector(
        self, r_map_camera: FloatArray, p_map_camera: FloatArray, velocity: FloatArray, rate_body: FloatArray
    ) -> FloatArray:
        # Image motion of the point seen at the principal point between the start and the end of
        # the exposure (pose given at mid-exposure). Rays that miss the ground use a far point, so
        # only rotation blurs them.
        half = self.options.exposure_time_s / 2.0
        axis_map = r_map_camera[:, 2]
        distance = -p_map_camera[2] / axis_map[2] if axis_map[2] < -1e-6 else 1e6
        target = p_map_camera + distance * axis_map
        rate_camera = self.camera.R_body_camera.T @ rate_body
        ends = []
        for sign in (-1.0, 1.0):
            delta, _ = cv2.Rodrigues(sign * half * rate_camera)
            r_end = r_map_camera @ np.asarray(delta, dtype=np.float64)
            point = r_end.T @ (target - (p_map_camera + sign * half * velocity))
            ends.append(np.array([self.camera.fx * point[0] / point[2], self.camera.fy * point[1] / point[2]]))
        return np.asarray(ends[1] - ends[0], dtype=np.float64)

    def _finish(
        self,
        image: Image8,
        *,
        coverage: float,
        level: int,
        blur_px: float,
        rng: np.random.Generator | None,
        unseen: BoolArray | None,
    ) -> RenderedFrame:
        options = self.options
        gain = options.gain
        if options.gain_jitter_sigma > 0.0 and rng is not None:
            gain *= math.exp(options.gain_jitter_sigma * float(rng.standard_normal()))
        if gain != 1.0 or self._vignette is not None or options.stochastic:
            # One single-channel plane (rgb8 rows hold W*3 values): OpenCV's scalar arithmetic and
            # randn then treat every sample alike, in few passes.
            plane = image.reshape(image.shape[0], -1)
            if self._vignette is not None:
                signal = np.asarray(cv2.multiply(plane, self._vignette, scale=gain, dtype=cv2.CV_32F), dtype=np.float32)
            else:
                signal = plane.astype(np.float32) * np.float32(gain)
            if rng is not None and (options.full_well_electrons > 0.0 or options.read_noise_dn > 0.0):
                _add_noise(signal, options, rng)
            np.maximum(signal, 0.0, out=signal)
            image = np.asarray(cv2.convertScaleAbs(signal), dtype=np.uint8).reshape(image.shape)  # rounds, saturates
        if unseen is not None and np.any(unseen):
            image[unseen] = options.fill_value
        return RenderedFrame(image, coverage, level, blur_px, gain)


def _add_noise(signal: npt.NDArray[np.float32], options: RenderOptions, rng: np.random.Generator) -> None:
    """Add shot and read noise to a single-channel float plane in place."""
    # Gaussian approximation of Poisson shot noise (variance = signal in electrons, converted to
    # DN^2) plus read noise. cv2.randn is 3x faster than numpy's normals; OpenCV's per-thread
    # generator is seeded from rng, so the frame is a function of rng's state.
    sigma = None
    if options.full_well_electrons > 0.0:
        variance = np.maximum(signal, np.float32(0.0))
        variance *= np.float32(255.0 / options.full_well_electrons)
        variance += np.float32(options.read_noise_dn**2)
        sigma = np.asarray(cv2.sqrt(variance), dtype=np.float32)
    normal = np.empty_like(signal)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    cv2.randn(normal, np.zeros(1), np.ones(1))
    if sigma is None:
        cv2.scaleAdd(normal, options.read_noise_dn, signal, dst=signal)
    else:
        cv2.add(signal, cv2.multiply(sigma, normal), dst=signal)


def _line_kernel(streak_px: FloatArray) -> npt.NDArray[np.float32]:
    """Linear motion-blur PSF: a centred segment of the streak's length and direction, splatted bilinearly."""
    half = math.ceil(float(np.max(np.abs(streak_px))) / 2.0) + 1
    size = 2 * half + 1
    samples = max(2, math.ceil(float(np.hypot(*streak_px)) * 8.0) + 1)
    points = half + np.linspace(-0.5, 0.5, samples)[:, None] * streak_px
    corner = np.floor(points).astype(int)
    frac = points - corner
    kernel = np.zeros((size, size), dtype=np.float64)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (frac[:, 0] if dx else 1.0 - frac[:, 0]) * (frac[:, 1] if dy else 1.0 - frac[:, 1])
        np.add.at(kernel, (corner[:, 1] + dy, corner[:, 0] + dx), weight)
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)
