"""The VIO front end: bucketed corners, pyramidal KLT with IMU-rotation prediction, a
forward-backward check, essential-matrix RANSAC and re-detection (OpenCV).

Every feature has a stable integer id from detection until it is lost; the back end builds its
landmarks from those ids. Points are kept in raw (distorted) pixels for tracking and handed on
as ideal (undistorted) pixels of the calibration's K.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.vio.config import FrontendConfig
from gps_denied_onboard.vio.types import CameraCalibration

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Image8 = npt.NDArray[np.uint8]

KLT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)
MIN_RANSAC_POINTS = 8  # below this the essential matrix is not estimated; tracks pass unchecked


@dataclass(frozen=True)
class ImageQuality:
    """Why a frame cannot be tracked (empty reason: it can)."""

    contrast: float  # grey-level standard deviation
    clipped_fraction: float  # share of pixels at 0 or 255
    reason: str


@dataclass(frozen=True)
class TrackResult:
    """The features of one frame after tracking, checking and re-detection."""

    ids: IntArray  # (N,)
    raw_px: FloatArray  # (N, 2)
    ideal_px: FloatArray  # (N, 2)
    tracked: int  # features carried over from the previous frame (after all checks)
    candidates: int  # features KLT was asked to track
    inlier_ratio: float  # RANSAC inliers / tracks that reached RANSAC (1.0 when not run)
    detected: int  # new features this frame
    quality: ImageQuality
    median_flow_px: float  # median displacement of the tracked features since the previous frame (nan: none)
    track_ms: float  # KLT forward + backward
    ransac_ms: float
    detect_ms: float


def image_quality(image: Image8, config: FrontendConfig) -> ImageQuality:
    """Contrast and clipping of a frame, on a 4x subsample (a featureless, black or saturated frame)."""
    sample = image[::4, ::4]
    contrast = float(sample.std())
    clipped = float(np.count_nonzero((sample == 0) | (sample == 255))) / sample.size
    reason = ""
    if clipped > config.max_clipped_fraction:
        level = float(sample.mean())
        reason = "saturated image" if level > 127 else "black image"
    elif contrast < config.min_contrast:
        reason = f"featureless image (contrast {contrast:.1f} < {config.min_contrast:g})"
    return ImageQuality(contrast, clipped, reason)


class FeatureTracker:
    """Tracks features from frame to frame; owns the previous frame and its points."""

    def __init__(self, config: FrontendConfig, calibration: CameraCalibration) -> None:
        self.config = config
        self.calibration = calibration
        self._next_id = 0
        self._previous: Image8 | None = None
        self._ids: IntArray = np.zeros(0, dtype=np.int64)
        self._raw: FloatArray = np.zeros((0, 2))
        self._ideal: FloatArray = np.zeros((0, 2))
        window = config.klt_window_px
        self._win = (window, window)
        cell_w = calibration.width / config.grid_cols
        cell_h = calibration.height / config.grid_rows
        self._cell = (cell_w, cell_h)
        self._per_cell = max(1, int(np.ceil(config.max_features / (config.grid_cols * config.grid_rows))))

    @property
    def feature_count(self) -> int:
        """Features held from the last frame."""
        return len(self._ids)

    def reset(self) -> None:
        """Forget every track (the next frame starts fresh)."""
        self._previous = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._raw = np.zeros((0, 2))
        self._ideal = np.zeros((0, 2))

    def process(self, image: Image8, R_cur_prev: FloatArray | None) -> TrackResult:
        """Track the previous frame's features into ``image`` and top them up.

        ``R_cur_prev`` rotates optical-frame rays of the previous frame into this one (from the
        gyro); KLT starts from where that rotation moves each feature, so fast turns stay within
        the pyramid's reach.
        """
        quality = image_quality(image, self.config)
        if quality.reason:
            self.reset()
            empty = np.zeros((0, 2))
            return TrackResult(
                np.zeros(0, dtype=np.int64), empty, empty, 0, 0, 0.0, 0, quality, math.nan, 0.0, 0.0, 0.0
            )
        candidates = len(self._ids)
        track_ms = ransac_ms = 0.0
        inlier_ratio = 1.0
        median_flow = math.nan
        ids, raw, ideal = self._ids, self._raw, self._ideal
        if self._previous is not None and candidates > 0:
            start = time.perf_counter()
            keep, raw_new = self._klt(self._previous, image, raw, ideal, R_cur_prev)
            track_ms = (time.perf_counter() - start) * 1e3
            ids, prev_ideal, raw = ids[keep], ideal[keep], raw_new[keep]
            ideal = self.calibration.undistort(raw)
            start = time.perf_counter()
            inliers = self._ransac(prev_ideal, ideal)
            ransac_ms = (time.perf_counter() - start) * 1e3
            if len(inliers):
                inlier_ratio = float(np.count_nonzero(inliers)) / len(inliers)
                median_flow = float(np.median(np.linalg.norm(ideal[inliers] - prev_ideal[inliers], axis=1)))
                ids, raw, ideal = ids[inliers], raw[inliers], ideal[inliers]
        else:
            ids, raw, ideal = ids[:0], raw[:0], ideal[:0]
        tracked = len(ids)
        start = time.perf_counter()
        new_raw = self._detect(image, raw)
        detect_ms = (time.perf_counter() - start) * 1e3
        if len(new_raw):
            new_ids = np.arange(self._next_id, self._next_id + len(new_raw), dtype=np.int64)
            self._next_id += len(new_raw)
            ids = np.concatenate((ids, new_ids))
            raw = np.vstack((raw, new_raw))
            ideal = np.vstack((ideal, self.calibration.undistort(new_raw)))
        self._previous, self._ids, self._raw, self._ideal = image, ids, raw, ideal
        return TrackResult(
            ids.copy(),
            raw.copy(),
            ideal.copy(),
            tracked,
            candidates,
            inlier_ratio,
            len(new_raw),
            quality,
            median_flow,
            track_ms,
            ransac_ms,
            detect_ms,
        )

    # ------------------------------------------------------------------ stages
    def _predict(self, raw: FloatArray, ideal: FloatArray, R_cur_prev: FloatArray | None) -> FloatArray:
        if R_cur_prev is None:
            return raw
        rays = self.calibration.bearings(ideal) @ R_cur_prev.T
        ahead = rays[:, 2] > 1e-3
        predicted = raw.copy()
        if np.any(ahead):
            predicted[ahead] = self.calibration.distort(self.calibration.project_ideal(rays[ahead]))
        return np.asarray(predicted, dtype=np.float64)

    def _klt(
        self,
        previous: Image8,
        image: Image8,
        raw: FloatArray,
        ideal: FloatArray,
        R_cur_prev: FloatArray | None,
    ) -> tuple[npt.NDArray[np.bool_], FloatArray]:
        """Forward KLT from the rotation prediction, backward KLT to check; the surviving mask."""
        prev_pts = raw.astype(np.float32).reshape(-1, 1, 2)
        guess = self._predict(raw, ideal, R_cur_prev).astype(np.float32).reshape(-1, 1, 2)
        levels = self.config.klt_levels
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        cur, status, _ = cv2.calcOpticalFlowPyrLK(
            previous,
            image,
            prev_pts,
            guess.copy(),
            winSize=self._win,
            maxLevel=levels,
            criteria=KLT_CRITERIA,
            flags=flags,
        )
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(
            image,
            previous,
            cur,
            prev_pts.copy(),
            winSize=self._win,
            maxLevel=levels,
            criteria=KLT_CRITERIA,
            flags=flags,
        )
        cur2 = cur.reshape(-1, 2).astype(np.float64)
        round_trip = np.linalg.norm(back.reshape(-1, 2) - prev_pts.reshape(-1, 2), axis=1)
        border = float(self.config.border_px) / 2.0
        inside = (
            (cur2[:, 0] >= border)
            & (cur2[:, 0] <= self.calibration.width - 1 - border)
            & (cur2[:, 1] >= border)
            & (cur2[:, 1] <= self.calibration.height - 1 - border)
        )
        keep = (
            (status.ravel() == 1)
            & (status_back.ravel() == 1)
            & (round_trip < self.config.fb_threshold_px)
            & inside
            & np.all(np.isfinite(cur2), axis=1)
        )
        return keep, cur2

    def _ransac(self, prev_ideal: FloatArray, ideal: FloatArray) -> npt.NDArray[np.bool_]:
        """Inlier mask of an essential-matrix RANSAC between the previous and this frame (ideal pixels).

        The five-point essential matrix is not degenerate for a planar scene (the nadir case),
        unlike the eight-point fundamental matrix. Pure rotation leaves every correct track an
        inlier, which is right: nothing to reject on.
        """
        if len(ideal) < MIN_RANSAC_POINTS:
            return np.ones(len(ideal), dtype=bool)
        moved = np.linalg.norm(ideal - prev_ideal, axis=1)
        if float(np.median(moved)) < 0.5 * self.config.ransac_threshold_px:
            # No baseline to test on: only gross jumps are rejected.
            return np.asarray(moved < 3.0 * self.config.ransac_threshold_px + float(np.median(moved)))
        _, mask = cv2.findEssentialMat(
            prev_ideal,
            ideal,
            self.calibration.K,
            method=cv2.RANSAC,
            prob=self.config.ransac_confidence,
            threshold=self.config.ransac_threshold_px,
            maxIters=self.config.ransac_max_iterations,
        )
        if mask is None or mask.shape[0] != len(ideal):  # several or no solutions: keep the tracks
            return np.ones(len(ideal), dtype=bool)
        return np.asarray(mask.ravel() != 0)

    def _detect(self, image: Image8, existing: FloatArray) -> FloatArray:
        """New corners for grid cells holding fewer than their share, away from existing features."""
        config = self.config
        if len(existing) >= config.max_features:
            return np.zeros((0, 2))
        cols, rows = config.grid_cols, config.grid_rows
        cell_w, cell_h = self._cell
        counts = np.zeros((rows, cols), dtype=np.int64)
        if len(existing):
            cx = np.clip((existing[:, 0] / cell_w).astype(np.int64), 0, cols - 1)
            cy = np.clip((existing[:, 1] / cell_h).astype(np.int64), 0, rows - 1)
            np.add.at(counts, (cy, cx), 1)
        need = np.maximum(self._per_cell - counts, 0)
        if not np.any(need):
            return np.zeros((0, 2))
        mask = np.zeros(image.shape, dtype=np.uint8)
        b = config.border_px
        mask[b : image.shape[0] - b, b : image.shape[1] - b] = 255
        radius = max(1, round(config.min_distance_px))
        for u, v in existing:
            cv2.circle(mask, (round(u), round(v)), radius, 0, -1)
        corners = cv2.goodFeaturesToTrack(
            image,
            maxCorners=int(need.sum()) * 4,
            qualityLevel=config.quality_level,
            minDistance=config.min_distance_px,
            mask=mask,
            blockSize=5,
        )
        if corners is None or len(corners) == 0:  # OpenCV returns None when nothing is found
            return np.zeros((0, 2))
        corners = corners.reshape(-1, 2).astype(np.float64)
        # Strongest first (goodFeaturesToTrack's order); each cell takes up to what it needs.
        cx = np.clip((corners[:, 0] / cell_w).astype(np.int64), 0, cols - 1)
        cy = np.clip((corners[:, 1] / cell_h).astype(np.int64), 0, rows - 1)
        cell = cy * cols + cx
        order = np.argsort(cell, kind="stable")
        sorted_cells = cell[order]
        first = np.searchsorted(sorted_cells, sorted_cells, side="left")
        rank = np.arange(len(order)) - first
        chosen = order[rank < need.ravel()[sorted_cells]]
        budget = config.max_features - len(existing)
        chosen = np.sort(chosen)[:budget]
        if len(chosen) == 0:
            return np.zeros((0, 2))
        refined = cv2.cornerSubPix(
            image,
            corners[chosen].astype(np.float32).reshape(-1, 1, 2),
            (3, 3),
            (-1, -1),
            (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 10, 0.03),
        )
        return np.asarray(refined, dtype=np.float64).reshape(-1, 2)
