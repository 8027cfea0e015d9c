"""State estimator benchmark: the eskf and isam2 backends side by side on the same inputs, per-update
latency and accuracy, plus iSAM2's fixed-lag result against GTSAM's batch optimisation of the same graph.

    . env.sh && PYTHONPATH=$PWD/src:$PYTHONPATH python test/bench/bench_estimator.py [--quick] [--out PATH]

a. Latency of every backend call (p50/p99/max, us), measured by a transparent proxy between the
   StateEstimator facade and the backend, on a synthetic flight (IMU 200 Hz, VIO 20 Hz, GNSS 1 Hz,
   baro 10 Hz) and on the real KITTI drive (IMU 100 Hz, GPS 1 Hz). iSAM2's propagates that closed
   a periodic keyframe, and every call that added a keyframe, are reported apart.
b. Accuracy on the same synthetic flight against its truth (GNSS denied for a stretch), and on
   KITTI against the withheld GPS for 5, 10 and 30 s denials (test/regression/kitti_data.py).
c. iSAM2 (tuned relinearisation, and GTSAM's defaults) against batch Levenberg-Marquardt on the
   smoother's own window graph, sampled every few seconds of the synthetic flight.

It measures and reports; it never asserts a time. test_bench_estimator_smoke.py runs --quick.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
# Shared with the tests: the KITTI loader/runner and the synthetic flight generator.
for helper_dir in (REPO_ROOT / "test" / "regression", REPO_ROOT / "test" / "unit" / "estimator"):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))

import estimator_synthetic as synthetic  # noqa: E402
import kitti_data  # noqa: E402
from bench_report import document_header, percentile, print_table, quiet_library_logs  # noqa: E402

from gps_denied_onboard.common.inertial import ImuNoise, ImuSample  # noqa: E402
from gps_denied_onboard.estimator.backend import (  # noqa: E402
    AltitudeMeasurement,
    HeadingMeasurement,
    NavState,
    PositionMeasurement,
    UpdateOutcome,
    VioIncrement,
)
from gps_denied_onboard.estimator.config import Isam2Config  # noqa: E402
from gps_denied_onboard.estimator.core import StateEstimator  # noqa: E402
from gps_denied_onboard.estimator.registry import create_backend  # noqa: E402

SCHEMA = "estimator-bench/1"
BACKENDS = ("eskf", "isam2")
DEFINITIONS = {
    "latency": "wall time of one backend call (time.perf_counter_ns around it), through the facade; us",
    "propagate": "propagate() calls that only integrated the sample",
    "propagate+keyframe": "iSAM2 propagate() calls that also closed a periodic keyframe (smoother update + marginal)",
    "keyframe_update": "every iSAM2 call that added a keyframe: smoother update, estimate and 15x15 marginal",
    "synthetic": "analytic figure-eight flight (estimator_synthetic.py), noise as configured, GNSS denied in a window",
    "kitti": "KITTI drive from GTSAM's Data dir through the facade, GPS withheld in windows (kitti_data.py)",
    "window_max_m": "largest horizontal error at a withheld fix of one window",
    "rmse_m": "root mean square horizontal error over every withheld fix of that denial length",
    "batch": "max |p_isam2 - p_batch| over the smoother window; batch = LM (QR) on the smoother's own factors",
    "excess cost": "graph error (0.5 sum of whitened squares) at the iSAM2 estimate minus at the batch optimum",
}


@dataclass(frozen=True)
class Params:
    """Everything that sizes a run; written into the JSON as it was used."""

    mode: str
    synthetic_duration_s: float = 120.0
    synthetic_denial_s: tuple[float, float] = (50.0, 80.0)
    kitti_lengths_s: tuple[float, ...] = kitti_data.DENIAL_LENGTHS_S
    batch_every_s: float = 10.0


FULL = Params(mode="full")
# iSAM2 relinearisation settings compared with batch LM (None: the backend's defaults, run in section a).
RELINEARISATION: dict[str, dict[str, float] | None] = {
    f"default (threshold {Isam2Config().relinearize_threshold:g}, skip {Isam2Config().relinearize_skip})": None,
    "threshold 0.01, skip 1": {"relinearize_threshold": 0.01, "relinearize_skip": 1},
    "GTSAM defaults (threshold 0.1, skip 10)": {"relinearize_threshold": 0.1, "relinearize_skip": 10},
}
QUICK = Params(mode="quick", synthetic_duration_s=25.0, synthetic_denial_s=(12.0, 20.0), kitti_lengths_s=(5.0,))


# --------------------------------------------------------------------------- timing proxy
class TimedBackend:
    """Forwards every FusionBackend call to ``inner`` and records its wall time per kind of call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.samples_ns: dict[str, list[int]] = defaultdict(list)

    def _timed(self, kind: str, call: Any, *args: Any) -> Any:
        keyframes = getattr(self.inner, "keyframe_count", None)
        start = time.perf_counter_ns()
        result = call(*args)
        elapsed = time.perf_counter_ns() - start
        made_keyframe = keyframes is not None and self.inner.keyframe_count != keyframes
        if kind == "propagate" and made_keyframe:
            kind = "propagate+keyframe"
        self.samples_ns[kind].append(elapsed)
        if made_keyframe:
            self.samples_ns["keyframe_update"].append(elapsed)
        return result

    def initialize(self, state: NavState, imu_noise: ImuNoise) -> None:
        """Forwarded (not timed: once per run)."""
        self.inner.initialize(state, imu_noise)

    def propagate(self, sample: ImuSample) -> None:
        """Forwarded and timed."""
        self._timed("propagate", self.inner.propagate, sample)

    def position_prior(self) -> tuple[Any, Any]:
        """Forwarded and timed."""
        result: tuple[Any, Any] = self._timed("position_prior", self.inner.position_prior)
        return result

    def update_position(self, measurement: PositionMeasurement) -> UpdateOutcome:
        """Forwarded and timed per source (gnss, geofix)."""
        result: UpdateOutcome = self._timed(
            f"update_position:{measurement.source}", self.inner.update_position, measurement
        )
        return result

    def update_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """Forwarded and timed."""
        result: UpdateOutcome = self._timed("update_vio", self.inner.update_vio, measurement)
        return result

    def update_altitude(self, measurement: AltitudeMeasurement) -> UpdateOutcome:
        """Forwarded and timed."""
        result: UpdateOutcome = self._timed("update_altitude", self.inner.update_altitude, measurement)
        return result

    def anchor_vio(self, t_ns: int) -> None:
        """Forwarded and timed."""
        self._timed("anchor_vio", self.inner.anchor_vio, t_ns)

    def update_heading(self, measurement: HeadingMeasurement) -> UpdateOutcome:
        """Forwarded and timed."""
        result: UpdateOutcome = self._timed("update_heading", self.inner.update_heading, measurement)
        return result

    def state(self) -> NavState:
        """Forwarded and timed."""
        result: NavState = self._timed("state", self.inner.state)
        return result

    def stats(self) -> dict[str, dict[str, float]]:
        """p50/p99/max/mean per kind of call, us."""
        return {kind: latency_stats(values) for kind, values in sorted(self.samples_ns.items())}


def latency_stats(samples_ns: list[int]) -> dict[str, float]:
    """Count, p50, p99, max and mean in microseconds."""
    ordered = sorted(samples_ns)
    return {
        "calls": len(ordered),
        "p50_us": percentile(ordered, 0.50) / 1e3,
        "p99_us": percentile(ordered, 0.99) / 1e3,
        "max_us": ordered[-1] / 1e3,
        "mean_us": sum(ordered) / len(ordered) / 1e3,
    }


# --------------------------------------------------------------------------- a/b/c. synthetic flight
def synthetic_scenario(params: Params) -> Any:
    """IMU 200 Hz, VIO 20 Hz, GNSS 1 Hz, baro 10 Hz, GNSS denied in one window."""
    return synthetic.Scenario(
        seed=7,
        duration_s=params.synthetic_duration_s,
        imu_rate_hz=200,
        gnss_rate_hz=1.0,
        vio_rate_hz=20.0,
        baro_rate_hz=10.0,
        gnss_off=(params.synthetic_denial_s,),
    )


def run_synthetic(flight: Any, backend: str, params: Params, isam2: Isam2Config | None = None) -> dict[str, Any]:
    """One backend through the facade on the flight: latencies, errors vs truth, iSAM2-vs-batch samples."""
    scenario = flight.scenario
    sections = {"isam2": isam2} if isam2 is not None else {}
    config = synthetic.config_for(scenario, backend, **sections)
    proxy = TimedBackend(create_backend(backend, config))
    estimator = StateEstimator(config, backend=proxy)
    estimator.set_takeoff_origin(**flight.origin_kwargs)
    t0_ns = int(flight.truth.t_ns[0])
    batch: list[dict[str, float]] = []
    next_batch_s = params.batch_every_s
    errors: list[tuple[float, float]] = []
    next_error_s = 0.0
    started = time.perf_counter()
    for m in flight.measurements:
        if m.kind == "imu":
            estimator.add_imu(m.args["sample"])
        else:
            getattr(estimator, f"add_{m.kind}")(m.t_ns, **m.args)
        t_s = (m.t_ns - t0_ns) / 1e9
        estimate = estimator.estimate() if m.kind == "imu" and t_s >= next_error_s else None
        if estimate is not None:
            i = flight.truth.index(estimate.state.t_ns)
            d = flight.truth.position_m[i] - estimate.state.position_m
            errors.append(((estimate.state.t_ns - t0_ns) / 1e9, float(math.hypot(d[0], d[1]))))
            next_error_s = t_s + 0.5
        if backend == "isam2" and m.kind == "imu" and t_s >= next_batch_s and estimator.initialized:
            batch.append(batch_difference(proxy.inner, t_s))
            next_batch_s += params.batch_every_s
    elapsed_s = time.perf_counter() - started
    begin, end = scenario.gnss_off[0]
    denied = [e for t, e in errors if begin <= t < end]
    aided = [e for t, e in errors if t >= 10.0 and not begin <= t < end + 10.0]
    status = estimator.status()
    return {
        "backend": backend,
        "elapsed_s": elapsed_s,
        "flight_s": scenario.duration_s,
        "latency": proxy.stats(),
        "accuracy": {
            "aided_rmse_m": rms(aided),
            "denied_max_m": max(denied) if denied else math.nan,
            "denied_final_m": denied[-1] if denied else math.nan,
            "denial_s": end - begin,
        },
        "counters": {
            "vio_updates": status.vio_updates,
            "vio_rejected": status.vio_rejected,
            "gnss_accepted": status.gnss_accepted,
            "baro_updates": status.baro_updates,
            "resets": status.resets,
        },
        "batch": batch,
        "keyframes": getattr(proxy.inner, "keyframe_count", None),
    }


def batch_difference(backend: Any, t_s: float) -> dict[str, float]:
    """iSAM2's window against batch LM on the same graph: position differences and excess cost."""
    start = time.perf_counter()
    comparison = backend.compare_with_batch()
    batch_s = time.perf_counter() - start
    diffs = np.linalg.norm(comparison.incremental_m - comparison.batch_m, axis=1)
    return {
        "t_s": t_s,
        "keyframes": len(diffs),
        "max_diff_m": float(diffs.max()),
        "newest_diff_m": float(diffs[-1]),
        "incremental_cost": comparison.incremental_cost,
        "batch_cost": comparison.batch_cost,
        "lm_iterations": comparison.iterations,
        "batch_solve_ms": batch_s * 1e3,
    }


def rms(values: Sequence[float]) -> float:
    """Root mean square (NaN when empty)."""
    return float(math.sqrt(sum(v * v for v in values) / len(values))) if values else math.nan


# --------------------------------------------------------------------------- KITTI
def run_kitti(params: Params) -> dict[str, Any] | None:
    """Both backends through the facade on KITTI for each denial length; None without the data."""
    directory = kitti_data.data_dir()
    if directory is None:
        return None
    seq = kitti_data.load(directory)
    result: dict[str, Any] = {"lengths": {}, "latency": {}}
    for length in params.kitti_lengths_s:
        row: dict[str, Any] = {}
        for backend in BACKENDS:
            proxies: list[TimedBackend] = []

            def wrap(inner: Any, proxies: list[TimedBackend] = proxies) -> TimedBackend:
                proxies.append(TimedBackend(inner))
                return proxies[-1]

            run = kitti_data.run_facade(seq, backend, kitti_data.denial_windows(length), wrap=wrap)
            withheld = [e for w in run.windows for e in w.horizontal_m]
            row[backend] = {
                "window_max_m": [w.max_horizontal_m for w in run.windows],
                "window_final_m": [w.horizontal_m[-1] for w in run.windows],
                "max_m": max(withheld),
                "rmse_m": rms(withheld),
                "withheld_fixes": len(withheld),
                "gnss_accepted": run.gnss_accepted,
                "gnss_rejected": run.gnss_rejected,
                "resets": run.resets,
                "elapsed_s": run.elapsed_s,
            }
            if backend not in result["latency"]:
                result["latency"][backend] = proxies[0].stats()
        result["lengths"][str(length)] = row
    result["windows_s"] = {str(length): kitti_data.denial_windows(length) for length in params.kitti_lengths_s}
    result["span_s"] = kitti_data.CONSISTENT_SPAN_S
    return result


# --------------------------------------------------------------------------- report
def latency_rows(latency: dict[str, dict[str, dict[str, float]]]) -> list[list[object]]:
    """One row per kind of call, one p50/p99 column pair per backend."""
    kinds = sorted({kind for per_backend in latency.values() for kind in per_backend})
    rows: list[list[object]] = []
    for kind in kinds:
        row: list[object] = [kind]
        for backend in BACKENDS:
            s = latency.get(backend, {}).get(kind)
            row += [f"{s['calls']:,}", f"{s['p50_us']:.1f}", f"{s['p99_us']:.1f}"] if s else ["-", "-", "-"]
        rows.append(row)
    return rows


LATENCY_HEADERS = ["call", *(f"{b} {h}" for b in BACKENDS for h in ("calls", "p50 us", "p99 us"))]


def report(doc: dict[str, Any]) -> None:
    """Print every section as a table."""
    synthetic_runs = doc["synthetic"]
    print_table(
        f"a. Latency per backend call, synthetic flight ({doc['parameters']['synthetic_duration_s']:.0f} s: "
        "IMU 200 Hz, VIO 20 Hz, GNSS 1 Hz, baro 10 Hz), through the facade",
        LATENCY_HEADERS,
        latency_rows({b: synthetic_runs[b]["latency"] for b in BACKENDS}),
    )
    kitti = doc["kitti"]
    if kitti is not None:
        print_table(
            "a. Latency per backend call, KITTI (IMU 100 Hz, GPS 1 Hz)", LATENCY_HEADERS, latency_rows(kitti["latency"])
        )
    rows = []
    for backend in BACKENDS:
        run = synthetic_runs[backend]
        acc = run["accuracy"]
        rows.append(
            [
                backend,
                f"{acc['aided_rmse_m']:.2f}",
                f"{acc['denied_max_m']:.2f}",
                f"{acc['denied_final_m']:.2f}",
                f"{run['elapsed_s'] / run['flight_s']:.3f}",
                run["keyframes"] if run["keyframes"] else "-",
            ]
        )
    denial = synthetic_runs["eskf"]["accuracy"]["denial_s"]
    print_table(
        f"b. Accuracy vs truth, synthetic flight (GNSS denied {denial:.0f} s, VIO on)",
        ["backend", "aided RMSE m", "denied max m", "denied final m", "CPU s per flight s", "keyframes"],
        rows,
    )
    if kitti is not None:
        rows = []
        for length, row in kitti["lengths"].items():
            for backend in BACKENDS:
                r = row[backend]
                rows.append(
                    [
                        f"{float(length):.0f} s",
                        backend,
                        " ".join(f"{v:.2f}" for v in r["window_max_m"]),
                        f"{r['max_m']:.2f}",
                        f"{r['rmse_m']:.2f}",
                        r["gnss_rejected"],
                    ]
                )
        print_table(
            f"b. KITTI: horizontal error at the withheld GPS fixes ({kitti['span_s']:.0f} s from the standstill)",
            ["denial", "backend", "max per window m", "max m", "RMSE m", "GNSS rejected"],
            rows,
        )
    rows = []
    for label, entry in doc["batch"].items():
        samples = entry["samples"]
        if samples:
            excess = [s["incremental_cost"] - s["batch_cost"] for s in samples]
            rows.append(
                [
                    label,
                    len(samples),
                    f"{max(s['max_diff_m'] for s in samples) * 1e3:.1f}",
                    f"{max(s['newest_diff_m'] for s in samples) * 1e3:.1f}",
                    f"{np.median(excess):.1f}",
                    f"{max(excess):.1f}",
                    f"{np.median([s['batch_cost'] for s in samples]):.0f}",
                    f"{entry['cpu_s_per_flight_s']:.3f}",
                ]
            )
    print_table(
        "c. iSAM2 fixed-lag vs batch Levenberg-Marquardt (QR) on the same window graph, synthetic flight",
        [
            "relinearisation",
            "samples",
            "max |dp| mm",
            "newest |dp| mm",
            "excess cost p50",
            "excess cost max",
            "batch cost p50",
            "CPU s/flight s",
        ],
        rows,
    )


# --------------------------------------------------------------------------- main
def run_benchmark(params: Params) -> dict[str, Any]:
    """Run every section and return the JSON document."""
    started = time.perf_counter()
    doc = document_header(SCHEMA, ("gtsam", "numpy", "scipy"), asdict(params))
    doc["definitions"] = DEFINITIONS
    print(
        f"Estimator benchmark ({params.mode}): {doc['machine']['cpu_count']} CPUs, Python {platform.python_version()}, "
        f"gtsam {doc['machine']['packages']['gtsam']}"
    )
    with quiet_library_logs():
        flight = synthetic.simulate(synthetic_scenario(params))
        doc["synthetic"] = {backend: run_synthetic(flight, backend, params) for backend in BACKENDS}
        doc["batch"] = {}
        for label, relinearize in RELINEARISATION.items():
            run = (
                doc["synthetic"]["isam2"]
                if relinearize is None
                else run_synthetic(flight, "isam2", params, isam2=replace(Isam2Config(), **relinearize))
            )
            doc["batch"][label] = {"samples": run["batch"], "cpu_s_per_flight_s": run["elapsed_s"] / run["flight_s"]}
        doc["kitti"] = run_kitti(params)
    if doc["kitti"] is None:
        print("\n(KITTI data not found in GTSAM's Data dir: section skipped)")
    report(doc)
    doc["elapsed_s"] = time.perf_counter() - started
    return doc


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: --out, --quick, --dir (accepted for the shared quick-run helper; nothing is written there)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "estimator.json", help="JSON output")
    parser.add_argument("--quick", action="store_true", help="a CI-sized run (about 20 s)")
    parser.add_argument("--dir", type=Path, default=None, help="unused: this benchmark writes only --out")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write the JSON."""
    args = parse_args(argv)
    doc = run_benchmark(QUICK if args.quick else FULL)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    print(f"\nwrote {args.out} ({doc['elapsed_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
