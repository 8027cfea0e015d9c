"""Covariance consistency: the normalised estimation error squared over Monte Carlo runs, per backend.

For a consistent estimator the NEES of a d-dimensional error is chi-square with d dof, so the mean
over N independent runs (ANEES) times N is chi-square with N*d dof (Bar-Shalom, Li, Kirubarajan,
"Estimation with Applications to Tracking and Navigation", 5.4.2). The test takes N = 20 flights of
20 s (IMU 100 Hz, GNSS 5 Hz, VIO 10 Hz; CI-sized) and checks the ANEES of the position (3 dof) and
of position-velocity-attitude (9 dof) at 2 s intervals after the alignment transient against the
two-sided 99 % region: at least 80 % of the instants inside (instants of one run are correlated,
so they are not independent trials), and the time-averaged ANEES inside too. Biases are left out:
their prior is deliberately loose and they are barely observable in 20 s, so their NEES is low.
"""

from __future__ import annotations

import numpy as np
import pytest
from estimator_synthetic import BACKENDS, Scenario, config_for, errors, run, simulate, start
from scipy.stats import chi2

RUNS = 20
DURATION_S = 20.0
INSTANTS_S = np.arange(8.0, DURATION_S - 1.0, 2.0)  # 8 ... 18 s: after alignment, motion onset and dwell


@pytest.mark.parametrize("backend", BACKENDS)
def test_nees_is_chi_square_consistent_over_monte_carlo_runs(backend: str) -> None:
    nees = {"position": np.zeros((RUNS, len(INSTANTS_S))), "pos-vel-att": np.zeros((RUNS, len(INSTANTS_S)))}
    for r in range(RUNS):
        scenario = Scenario(seed=1000 + r, duration_s=DURATION_S, vio_rate_hz=10.0)
        flight = simulate(scenario)
        samples = run(start(flight, config_for(scenario, backend)), flight, every_s=1.0)
        for j, t_s in enumerate(INSTANTS_S):
            sample = min(samples, key=lambda s: abs(s.t_s - t_s))
            assert abs(sample.t_s - t_s) < 0.1
            e = errors(sample, flight.truth)
            p = sample.state.covariance[:9, :9]
            nees["position"][r, j] = e[:3] @ np.linalg.solve(p[:3, :3], e[:3])
            nees["pos-vel-att"][r, j] = e @ np.linalg.solve(p, e)
    for name, values in nees.items():
        dof = 3 if name == "position" else 9
        low, high = chi2.ppf([0.005, 0.995], RUNS * dof) / RUNS
        anees = values.mean(axis=0)
        inside = (anees >= low) & (anees <= high)
        print(
            f"\n[NEES] backend={backend} {name} ({dof} dof): ANEES {np.round(anees, 2).tolist()} "
            f"bounds [{low:.2f}, {high:.2f}]"
        )
        assert inside.mean() >= 0.8, (name, anees, low, high)
        assert low <= anees.mean() <= high, (name, anees.mean(), low, high)
