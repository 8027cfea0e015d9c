"""VIO benchmark: the VIO core over the default survey flown at several altitudes, 640x480 camera at
20 Hz + 200 Hz IMU, on this machine.

    . env.sh && PYTHONPATH=$PWD/src:$PYTHONPATH python test/bench/bench_vio.py [--quick] [--out PATH]

For each altitude AGL the default scenario (lawnmower survey, 10 m/s, a lake under leg 3) is flown
with ``flight.altitude_agl_m`` changed and the camera at ``--rate-hz``; frames are rendered outside
the timed region and fed with the IMU in stamp order to ``VisualInertialOdometry``.

a. Real-time factor: flight seconds / seconds spent inside the VIO (``add_imu`` + ``add_image``).
   Side by side, the physical limit: the camera period (a frame must be done before the next one
   arrives), and the floor any KLT front end pays on the same frames: bare OpenCV
   ``calcOpticalFlowPyrLK`` forward and backward with the VIO's window and pyramid.
b. Per-stage latency p50/p99 per frame: track (KLT + forward-backward check), RANSAC (essential
   matrix), detect (re-detection), smoother (keyframe frames only), total.
c. Accuracy against the simulator's truth: ATE RMSE and max after SE(3) alignment, drift = ATE
   RMSE / distance flown while the VIO output odometry, the Sim(3) scale (1 = scale right), when
   odometry started, health-state counts. Published EuRoC figures (OKVIS, VINS-Fusion, Kimera,
   BASALT: 0.05-0.23 m ATE RMSE over indoor sequences tens of metres long) are printed beside it.

It measures and reports; it never asserts a time. test_bench_vio_smoke.py runs --quick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from bench_report import document_header, percentile, print_table, quiet_library_logs

from gps_denied_onboard.evaluation.align import umeyama
from gps_denied_onboard.sim.flight import Flight, generate_flight
from gps_denied_onboard.sim.scenario import Scenario, resolve_scenario
from gps_denied_onboard.vio.config import VioConfig
from gps_denied_onboard.vio.pipeline import VisualInertialOdometry
from gps_denied_onboard.vio.types import CameraCalibration

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "vio-bench/1"
STAGES = ("track", "ransac", "detect", "smoother", "total")
DEFINITIONS = {
    "rtf": "real-time factor: flight seconds / seconds inside VisualInertialOdometry (add_imu + add_image)",
    "camera_period_ms": "time between frames; a frame's processing above it queues the next one",
    "opencv_klt_ms": "bare cv2.calcOpticalFlowPyrLK forward + backward on the same frame pairs and corners",
    "stage_ms": "per frame, from FrameResult.stage_ms; smoother only on frames that made a keyframe",
    "ate_rmse_m": "RMS position error after SE(3) Umeyama alignment of the VIO's odometry to the truth",
    "drift_pct": "ATE RMSE / distance flown over the frames that had odometry, %",
    "sim3_scale": "scale of the Sim(3) alignment; 1.0 = the VIO's scale is right",
}
PUBLISHED_EUROC = (
    "OKVIS, VINS-Fusion, Kimera, BASALT on EuRoC MAV (indoor, 2-5 m depth): ATE RMSE 0.05-0.23 m per sequence"
)


@dataclass(frozen=True)
class Params:
    """Everything that sizes a run; written into the JSON as it was used."""

    mode: str
    altitudes_agl_m: tuple[float, ...] = (60.0, 80.0, 120.0)
    camera_rate_hz: float = 20.0
    duration_s: float | None = None  # None: the whole flight, rest to rest


FULL = Params(mode="full")
QUICK = Params(mode="quick", altitudes_agl_m=(80.0,), camera_rate_hz=10.0, duration_s=30.0)


def scenario_at(altitude_agl_m: float, camera_rate_hz: float) -> Scenario:
    """The default survey at another altitude and camera rate."""
    base = resolve_scenario("default")
    return dataclasses.replace(
        base,
        flight=dataclasses.replace(base.flight, altitude_agl_m=altitude_agl_m),
        camera=dataclasses.replace(base.camera, rate_hz=camera_rate_hz),
    )


def calibration_of(flight: Flight) -> CameraCalibration:
    """The simulator's camera_info as the VIO reads it."""
    fields = flight.camera.camera_info_fields()
    return CameraCalibration.from_camera_info(fields.width, fields.height, fields.distortion_model, fields.d, fields.k)


class KltFloor:
    """Bare OpenCV pyramidal KLT, forward and backward, on the frames the VIO sees: the front end's floor."""

    def __init__(self, config: VioConfig) -> None:
        frontend = config.frontend
        self._window = (frontend.klt_window_px, frontend.klt_window_px)
        self._levels = frontend.klt_levels
        self._max = frontend.max_features
        self._min_distance = frontend.min_distance_px
        self._quality = frontend.quality_level
        self._previous: np.ndarray | None = None
        self._corners: np.ndarray | None = None
        self.samples_ms: list[float] = []

    def add(self, image: np.ndarray) -> None:
        """Track the previous frame's corners into ``image`` (timed), then detect afresh (not timed)."""
        if self._previous is not None and self._corners is not None and len(self._corners):
            start = time.perf_counter()
            forward, _, _ = cv2.calcOpticalFlowPyrLK(
                self._previous, image, self._corners, None, winSize=self._window, maxLevel=self._levels
            )
            cv2.calcOpticalFlowPyrLK(image, self._previous, forward, None, winSize=self._window, maxLevel=self._levels)
            self.samples_ms.append((time.perf_counter() - start) * 1e3)
        self._previous = image
        self._corners = cv2.goodFeaturesToTrack(image, self._max, self._quality, self._min_distance, blockSize=5)


def run_altitude(altitude_agl_m: float, params: Params) -> dict[str, Any]:
    """Fly one altitude through the VIO; timings, health and accuracy."""
    scenario = scenario_at(altitude_agl_m, params.camera_rate_hz)
    started = time.perf_counter()
    flight = generate_flight(scenario, duration_s=params.duration_s)
    config = VioConfig()
    vio = VisualInertialOdometry(config)
    vio.set_calibration(calibration_of(flight))
    klt = KltFloor(config)
    index, count = 0, len(flight.imu)
    vio_s = 0.0
    render_s = 0.0
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    states: Counter[str] = Counter()
    odometry: list[tuple[int, np.ndarray]] = []
    first_odometry_s: float | None = None
    keyframes = 0
    reinit = 0
    frames = flight.frames()
    while True:
        render_start = time.perf_counter()
        frame = next(frames, None)
        render_s += time.perf_counter() - render_start
        if frame is None:
            break
        start = time.perf_counter()
        while index < count and flight.imu.t_ns[index] <= frame.t_ns:
            sample = flight.imu.sample(index)
            vio.add_imu(sample.t_ns, sample.accel_mps2, sample.gyro_radps)
            index += 1
        result = vio.add_image(frame.t_ns, frame.image)
        vio_s += time.perf_counter() - start
        klt.add(frame.image)
        states[result.health.state.name] += 1
        reinit = result.health.reinit_count
        for stage in ("track", "ransac", "detect", "total"):
            stages[stage].append(result.stage_ms.get(stage, 0.0))
        if result.keyframe:
            keyframes += 1
            stages["smoother"].append(result.stage_ms.get("smoother", 0.0))
        if result.odometry is not None:
            odometry.append((frame.t_ns, np.asarray(result.odometry.position_m, dtype=np.float64)))
            if first_odometry_s is None:
                first_odometry_s = frame.t_ns / 1e9
    flight_s = float(flight.duration_s)
    frames_count = sum(states.values())
    return {
        "altitude_agl_m": altitude_agl_m,
        "camera_rate_hz": params.camera_rate_hz,
        "flight_s": flight_s,
        "frames": frames_count,
        "keyframes": keyframes,
        "vio_s": vio_s,
        "render_s": render_s,
        "wall_s": time.perf_counter() - started,
        "rtf": flight_s / vio_s if vio_s > 0 else float("inf"),
        "camera_period_ms": 1e3 / params.camera_rate_hz,
        "stage_ms": {stage: _stats(values) for stage, values in stages.items()},
        "opencv_klt_ms": _stats(klt.samples_ms),
        "states": dict(states),
        "reinit_count": reinit,
        "first_odometry_s": first_odometry_s,
        "accuracy": accuracy(flight, odometry),
    }


def accuracy(flight: Flight, odometry: list[tuple[int, np.ndarray]]) -> dict[str, Any]:
    """ATE after SE(3) alignment, drift % of distance, Sim(3) scale."""
    if len(odometry) < 3:
        return {"odometry_frames": len(odometry)}
    stamps = np.array([t for t, _ in odometry]) / 1e9
    estimate = np.array([p for _, p in odometry])
    truth = flight.trajectory.states(stamps).position_m
    rotation, translation, _ = umeyama(estimate, truth, with_scale=False)
    errors = np.linalg.norm(estimate @ rotation.T + translation - truth, axis=1)
    _, _, scale = umeyama(estimate, truth, with_scale=True)
    distance = float(np.sum(np.linalg.norm(np.diff(truth, axis=0), axis=1)))
    rmse = float(np.sqrt(np.mean(errors**2)))
    return {
        "odometry_frames": len(odometry),
        "distance_m": distance,
        "ate_rmse_m": rmse,
        "ate_max_m": float(errors.max()),
        "final_error_m": float(errors[-1]),
        "drift_pct": 100.0 * rmse / distance if distance > 0 else float("nan"),
        "sim3_scale": float(scale),
    }


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


def report(doc: dict[str, Any]) -> None:
    """Print the runs as tables."""
    runs = doc["runs"]
    rows: list[list[object]] = []
    for run in runs:
        total = run["stage_ms"]["total"]
        klt = run["opencv_klt_ms"]
        rows.append(
            [
                f"{run['altitude_agl_m']:.0f} m",
                f"{run['flight_s']:.0f}",
                f"{run['frames']} @ {run['camera_rate_hz']:g} Hz",
                f"{run['vio_s']:.1f}",
                f"{run['rtf']:.2f}",
                f"{run['camera_period_ms']:.0f}",
                f"{total['p50']:.1f} / {total['p99']:.1f}",
                f"{klt['p50']:.1f} / {klt['p99']:.1f}" if klt.get("count") else "-",
            ]
        )
    print_table(
        "a. Real-time factor (flight s / VIO s; rendering excluded) beside the camera period and bare OpenCV KLT",
        [
            "altitude",
            "flight s",
            "frames",
            "VIO s",
            "RTF",
            "period ms",
            "frame p50/p99 ms",
            "OpenCV KLT p50/p99 ms",
        ],
        rows,
    )
    rows = []
    for run in runs:
        row: list[object] = [f"{run['altitude_agl_m']:.0f} m"]
        for stage in STAGES:
            s = run["stage_ms"][stage]
            row.append(f"{s['p50']:.1f} / {s['p99']:.1f}" if s.get("count") else "-")
        rows.append(row)
    print_table(
        "b. Per-stage latency p50 / p99, ms (smoother: keyframe frames only)",
        ["altitude", *STAGES],
        rows,
    )
    rows = []
    for run in runs:
        acc = run["accuracy"]
        if "ate_rmse_m" not in acc:
            rows.append([f"{run['altitude_agl_m']:.0f} m", "-", "-", "-", "-", "-", "-", "-", "-"])
            continue
        states = run["states"]
        rows.append(
            [
                f"{run['altitude_agl_m']:.0f} m",
                f"{acc['distance_m']:.0f}",
                f"{acc['ate_rmse_m']:.2f}",
                f"{acc['ate_max_m']:.2f}",
                f"{acc['drift_pct']:.2f}",
                f"{acc['sim3_scale']:.3f}",
                f"{run['first_odometry_s']:.1f}",
                " ".join(f"{k}={v}" for k, v in sorted(states.items())),
                run["reinit_count"],
            ]
        )
    print_table(
        f"c. Accuracy vs the simulator's truth (SE(3)-aligned). Published: {PUBLISHED_EUROC}",
        [
            "altitude",
            "distance m",
            "ATE RMSE m",
            "ATE max m",
            "drift %",
            "Sim(3) scale",
            "odometry from s",
            "frames per state",
            "restarts",
        ],
        rows,
    )


def run_benchmark(params: Params) -> dict[str, Any]:
    """Fly every altitude and return the JSON document."""
    started = time.perf_counter()
    doc = document_header(SCHEMA, ("gtsam", "opencv-python-headless", "numpy"), asdict(params))
    doc.update(vio_config=_config_dict(VioConfig()), definitions=DEFINITIONS, published_euroc=PUBLISHED_EUROC)
    packages = doc["machine"]["packages"]
    print(
        f"VIO benchmark ({params.mode}): {doc['machine']['cpu_count']} CPUs, Python {platform.python_version()}, "
        f"gtsam {packages['gtsam']}, OpenCV {packages['opencv-python-headless']}; default survey, "
        f"640x480 @ {params.camera_rate_hz:g} Hz + 200 Hz IMU"
    )
    runs = []
    with quiet_library_logs():
        for altitude in params.altitudes_agl_m:
            print(f"  flying {altitude:.0f} m AGL ...", flush=True)
            runs.append(run_altitude(altitude, params))
    doc["runs"] = runs
    report(doc)
    doc["elapsed_s"] = time.perf_counter() - started
    return doc


def _config_dict(config: VioConfig) -> dict[str, Any]:
    """The VIO's settings as JSON (arrays as lists)."""
    out: dict[str, Any] = {}
    for section in dataclasses.fields(config):
        values = asdict(getattr(config, section.name))
        out[section.name] = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in values.items()}
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "vio.json", help="JSON output")
    parser.add_argument("--quick", action="store_true", help="a CI-sized run: 30 s at 80 m, 10 Hz")
    parser.add_argument("--altitudes", type=float, nargs="+", default=None, help="altitudes AGL, m")
    parser.add_argument("--rate-hz", type=float, default=None, help="camera rate, Hz")
    parser.add_argument("--dir", type=Path, default=None, help="unused: this benchmark writes only --out")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write the JSON."""
    args = parse_args(argv)
    params = QUICK if args.quick else FULL
    if args.altitudes:
        params = dataclasses.replace(params, altitudes_agl_m=tuple(args.altitudes))
    if args.rate_hz:
        params = dataclasses.replace(params, camera_rate_hz=args.rate_hz)
    doc = run_benchmark(params)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    print(f"\nwrote {args.out} ({doc['elapsed_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
