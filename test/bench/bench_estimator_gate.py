"""The GNSS gate on the simulator's unkind flights, both backends side by side, several seeds.

Genuine GNSS on the aggressive flight (vibration, 20 m/s, 30 deg banks, 2 Hz GNSS, baro-GNSS
offset drift, 10 / 30 / 60 s denials): the share of genuine fixes rejected (and of heights
withheld), and how long after each denial GNSS is trusted again. Attacks on the same flight from
a fixed onset: 1 / 2 / 5 m/s drifts, a 50 m jump, jam-then-spoof with 30 / 100 / 200 m offsets,
a spoof that moves like VIO's own drift: detection delay and how far the estimate was pulled.
The issue's limits are printed beside each figure. Prints tables, writes JSON; asserts nothing.

    python test/bench/bench_estimator_gate.py --out bench-results/estimator_gate.json [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

REPO_ROOT = Path(__file__).resolve().parents[2]
for helper_dir in (REPO_ROOT / "test" / "unit" / "estimator",):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))

import sim_flights  # noqa: E402
from bench_report import document_header, print_table, quiet_library_logs  # noqa: E402

from gps_denied_onboard.estimator.config import EstimatorConfig  # noqa: E402

SCHEMA = "estimator-gate-bench/1"
BACKENDS = ("eskf", "isam2")
ONSET_S = 40.0  # attacks start here, with GNSS trusted and the vehicle at cruise speed
ATTACK_SPAN_S = 25.0  # flown after the onset (jam-then-spoof: after the jam)
JAM_S = 30.0


def attacks() -> dict[str, tuple[Callable[..., Any], float]]:
    """Name -> (attack, when spoofed fixes start)."""
    return {
        "drift 1 m/s": (sim_flights.drift_spoof(ONSET_S, 1.0), ONSET_S),
        "drift 2 m/s": (sim_flights.drift_spoof(ONSET_S, 2.0), ONSET_S),
        "drift 5 m/s": (sim_flights.drift_spoof(ONSET_S, 5.0), ONSET_S),
        "jump 50 m": (sim_flights.jump_spoof(ONSET_S, 50.0), ONSET_S),
        "jam 30 s then +30 m": (sim_flights.jam_then_spoof(ONSET_S, JAM_S, 30.0), ONSET_S + JAM_S),
        "jam 30 s then +100 m": (sim_flights.jam_then_spoof(ONSET_S, JAM_S, 100.0), ONSET_S + JAM_S),
        "jam 30 s then +200 m": (sim_flights.jam_then_spoof(ONSET_S, JAM_S, 200.0), ONSET_S + JAM_S),
        "moves like VIO drift": (sim_flights.vio_matching_spoof(ONSET_S), ONSET_S),
    }


def genuine(scenario: str, seeds: list[int]) -> list[dict[str, Any]]:
    """False rejections and re-trust delays on unattacked flights."""
    rows = []
    for backend in BACKENDS:
        for seed in seeds:
            start = time.perf_counter()
            run = sim_flights.fly(
                sim_flights.sim_flight(scenario, seed=seed), EstimatorConfig(backend=backend), seed=seed
            )
            rejected, withheld = sim_flights.false_rejection_share(run)
            delays = sim_flights.retrust_delays_s(run)
            horizontal = np.hypot(run.error_m[:, 0], run.error_m[:, 1])
            assert run.estimator is not None
            rows.append(
                {
                    "backend": backend,
                    "seed": seed,
                    "fixes": run.gnss_fixes,
                    "rejected_share": rejected,
                    "height_withheld_share": withheld,
                    "retrust_delays_s": delays,
                    "horizontal_rmse_m": float(np.sqrt(np.mean(horizontal**2))),
                    "horizontal_max_m": float(np.max(horizontal)),
                    "accel_clipped": run.estimator.status().accel_clipped,
                    "wall_s": time.perf_counter() - start,
                }
            )
    return rows


def attacked(scenario: str, seeds: list[int]) -> list[dict[str, Any]]:
    """Detection delay and pull for every attack."""
    rows = []
    for name, (attack, spoofed_s) in attacks().items():
        for backend in BACKENDS:
            for seed in seeds:
                flight = sim_flights.sim_flight(
                    scenario, seed=seed, duration_s=spoofed_s + ATTACK_SPAN_S, gnss_events=False
                )
                run = sim_flights.fly(flight, EstimatorConfig(backend=backend), attack=attack, seed=seed)
                outcome = sim_flights.attack_outcome(run, ONSET_S, spoofed_s)
                rows.append(
                    {
                        "attack": name,
                        "backend": backend,
                        "seed": seed,
                        "detected_after_s": outcome.detected_after_s,
                        "trusted_during_attack": outcome.trusted_after_onset,
                        "max_pull_m": outcome.max_pull_m,
                    }
                )
    return rows


def _s(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Run, print the tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "estimator_gate.json")
    parser.add_argument("--scenario", default="aggressive")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--quick", action="store_true", help="one seed (the smoke test's size)")
    args = parser.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    with quiet_library_logs():
        genuine_rows = genuine(args.scenario, seeds)
        attack_rows = attacked(args.scenario, seeds)
    print_table(
        f"genuine GNSS on the {args.scenario!r} flight "
        "(issue: rejected <= 1 %, trusted again <= 10 s after each denial)",
        ["backend", "seed", "fixes", "rejected %", "height withheld %", "re-trusted after denial (s)",
         "horiz RMSE/max m", "clipped", "wall s"],
        [
            [r["backend"], r["seed"], r["fixes"], f"{100 * r['rejected_share']:.2f}",
             f"{100 * r['height_withheld_share']:.2f}", " / ".join(_s(d) for d in r["retrust_delays_s"]),
             f"{r['horizontal_rmse_m']:.2f} / {r['horizontal_max_m']:.2f}", r["accel_clipped"], f"{r['wall_s']:.0f}"]
            for r in genuine_rows
        ],
    )  # fmt: skip
    print_table(
        f"attacks from t = {ONSET_S:.0f} s (issue: detected <= 10 s, pull <= 10 m; jam-then-spoof never trusted)",
        ["attack", "backend", "seed", "detected after s", "trusted during attack", "max pull m"],
        [
            [r["attack"], r["backend"], r["seed"], _s(r["detected_after_s"]), r["trusted_during_attack"],
             f"{r['max_pull_m']:.1f}"]
            for r in attack_rows
        ],
    )  # fmt: skip
    document = {
        **document_header(SCHEMA, ["gtsam", "numpy", "scipy"], {"scenario": args.scenario, "seeds": seeds}),
        "genuine": genuine_rows,
        "attacks": attack_rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
