"""GeoFix fusion as the map matcher will feed it: 1 Hz fixes with 3 m sigma and a heading, 10 % of them
outliers 50-200 m off, over a flight with 60 % of its time GNSS-denied. Every backend."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from estimator_synthetic import BACKENDS, Flight, Measurement, Scenario, config_for, simulate, start

from gps_denied_onboard.estimator.config import TimingConfig
from gps_denied_onboard.estimator.intake import IntakeReason

NS = 1_000_000_000
DURATION_S = 60.0
DENIAL = ((20.0, 56.0),)  # 36 s of 60 s
OUTLIER_SHARE = 0.1
HEADING_SIGMA_RAD = 0.05


def with_outliers(flight: Flight, seed: int) -> tuple[Flight, set[int]]:
    """The flight with a heading on every GeoFix and 10 % of them moved 50-200 m; returns their stamps."""
    rng = np.random.default_rng(seed)
    plane = flight.plane
    outliers: set[int] = set()
    measurements: list[Measurement] = []
    for m in flight.measurements:
        if m.kind != "geofix":
            measurements.append(m)
            continue
        rotation = flight.truth.rotation[flight.truth.index(m.t_ns)]
        yaw = math.atan2(rotation[1, 0], rotation[0, 0]) + float(rng.normal(0.0, HEADING_SIGMA_RAD))
        args = {**m.args, "heading_rad": yaw, "heading_variance_rad2": HEADING_SIGMA_RAD**2}
        if rng.uniform() < OUTLIER_SHARE:
            enu = np.asarray(plane.enu_from_geodetic(args["latitude_deg"], args["longitude_deg"], args["altitude_m"]))
            angle = rng.uniform(0.0, 2.0 * math.pi)
            enu = enu + rng.uniform(50.0, 200.0) * np.array([math.cos(angle), math.sin(angle), 0.0])
            lat, lon, alt = plane.geodetic_from_enu(enu)
            args.update(latitude_deg=float(lat), longitude_deg=float(lon), altitude_m=float(alt))
            args["heading_rad"] = yaw + rng.uniform(-math.pi, math.pi)  # a wrong match is wrong in heading too
            outliers.add(m.t_ns)
        measurements.append(replace(m, args=args))
    return replace(flight, measurements=measurements), outliers


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [61, 62])
def test_geofix_keeps_the_error_bounded_and_fuses_no_outlier(backend: str, seed: int) -> None:
    scenario = Scenario(seed=seed, duration_s=DURATION_S, geofix_rate_hz=1.0, gnss_off=DENIAL, baro_rate_hz=5.0)
    flight, outliers = with_outliers(simulate(scenario), seed)
    assert len(outliers) >= 3
    # No reorder window and no wait: each fix is fused (or not) inside its own call, so it can be checked.
    config = config_for(scenario, backend, timing=TimingConfig(reorder_window_s=0.0))
    config = replace(config, vio=replace(config.vio, max_delay_s=0.0))
    estimator = start(flight, config)
    t0 = int(flight.truth.t_ns[0])
    fused_outliers, fused_inliers, errors_m = 0, 0, []
    for m in flight.measurements:
        if m.kind == "imu":
            estimator.add_imu(m.args["sample"])  # type: ignore[arg-type]
            continue
        before = estimator.status().geofix_accepted
        result = getattr(estimator, f"add_{m.kind}")(m.t_ns, **m.args)
        if m.kind != "geofix" or result.reason is IntakeReason.NOT_INITIALIZED:
            continue
        fused = estimator.status().geofix_accepted > before
        fused_outliers += fused and m.t_ns in outliers
        fused_inliers += fused and m.t_ns not in outliers
        estimate = estimator.estimate()
        t_s = (m.t_ns - t0) / NS
        if estimate is not None and DENIAL[0][0] <= t_s <= DENIAL[0][1]:
            truth = flight.truth.position_m[flight.truth.index(estimate.state.t_ns)]
            errors_m.append(float(np.hypot(*(estimate.state.position_m - truth)[:2])))
    status = estimator.status()
    assert fused_outliers == 0
    inliers = sum(1 for m in flight.measurements if m.kind == "geofix") - len(outliers)
    assert fused_inliers >= 0.8 * inliers
    assert status.geofix_heading_accepted >= 0.8 * inliers
    assert max(errors_m) < 6.0, max(errors_m)
    assert math.sqrt(np.mean(np.square(errors_m))) < 3.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_geofix_heading_corrects_a_wrong_yaw_without_gnss_or_vio(backend: str) -> None:
    """With no GNSS and no VIO after take-off, heading comes only from the GeoFix headings."""
    scenario = Scenario(seed=63, duration_s=30.0, vio_rate_hz=0.0, geofix_rate_hz=1.0, gnss_off=((0.0, 30.0),))
    flight, _ = with_outliers(simulate(scenario), 63)
    flight = replace(flight, origin_kwargs={**flight.origin_kwargs, "yaw_rad": flight.origin_kwargs["yaw_rad"] + 0.3,
                                            "sigma_yaw_rad": 0.4})  # fmt: skip
    estimator = start(flight, config_for(scenario, backend))
    for m in flight.measurements:
        if m.kind == "imu":
            estimator.add_imu(m.args["sample"])  # type: ignore[arg-type]
        else:
            getattr(estimator, f"add_{m.kind}")(m.t_ns, **m.args)
    estimator.flush()
    estimate = estimator.estimate()
    assert estimate is not None
    truth = flight.truth.rotation[flight.truth.index(estimate.state.t_ns)]
    yaw_error = math.remainder(
        math.atan2(truth[1, 0], truth[0, 0]) - math.atan2(estimate.state.rotation[1, 0], estimate.state.rotation[0, 0]),
        2.0 * math.pi,
    )
    assert abs(yaw_error) < 0.05, yaw_error  # the 0.3 rad start error is gone
    assert estimator.status().geofix_heading_accepted >= 15


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"covariance_enu_m2": np.full(9, np.nan)}, IntakeReason.NOT_FINITE),
        ({"covariance_enu_m2": -np.eye(3)}, IntakeReason.INVALID_COVARIANCE),
        ({"heading_rad": math.inf, "heading_variance_rad2": 0.01}, IntakeReason.NOT_FINITE),
        ({"heading_rad": 0.1, "heading_variance_rad2": 0.0}, IntakeReason.INVALID_COVARIANCE),
        ({"heading_rad": 0.1, "heading_variance_rad2": math.nan}, IntakeReason.NOT_FINITE),
        ({"frame_id": "odom"}, IntakeReason.WRONG_FRAME),
    ],
)
def test_a_malformed_geofix_is_refused_by_name_and_the_state_is_untouched(
    change: dict[str, object], reason: IntakeReason
) -> None:
    scenario = Scenario(seed=64, duration_s=6.0, geofix_rate_hz=1.0)
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, "eskf"))
    fixes = [m for m in flight.measurements if m.kind == "geofix"]
    for m in flight.measurements:
        if m.kind == "imu":
            estimator.add_imu(m.args["sample"])  # type: ignore[arg-type]
    estimator.flush()
    before = estimator.estimate()
    rejected = estimator.status().geofix_rejected
    result = estimator.add_geofix(fixes[-1].t_ns + 1, **{**fixes[-1].args, **change})  # type: ignore[arg-type]
    assert not result.accepted
    assert result.reason is reason
    assert result.detail
    after = estimator.estimate()
    assert before is not None
    assert after is not None
    np.testing.assert_array_equal(after.state.position_m, before.state.position_m)
    np.testing.assert_array_equal(after.state.covariance, before.state.covariance)
    assert estimator.status().geofix_rejected == rejected + 1
