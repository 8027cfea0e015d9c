"""Simulated GNSS (events: denial, jamming, spoofing) and barometer."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gps_denied_onboard.common.atmosphere import isa_altitude_m, isa_pressure_pa
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.errors import GnssConfigError
from gps_denied_onboard.sim.gnss import (
    BaroConfig,
    DeniedOutput,
    DriftDirection,
    GnssConfig,
    GnssDenial,
    GnssJamming,
    GnssSpoofDrift,
    GnssSpoofJump,
    gauss_markov,
    simulate_baro,
    simulate_gnss,
    spoof_offset_enu_m,
)
from gps_denied_onboard.sim.trajectory import FlightProfile, OutAndBack, Trajectory, plan_trajectory

LTP = LocalTangentPlane(47.397742, 8.545594, 488.0)
EXACT = GnssConfig(
    horizontal_sigma_m=0.0, vertical_sigma_m=0.0, correlated_horizontal_sigma_m=0.0, correlated_vertical_sigma_m=0.0
)


@pytest.fixture(scope="module")
def trajectory() -> Trajectory:
    return plan_trajectory(OutAndBack(distance_m=200.0), FlightProfile())


def _t(series: object) -> np.ndarray:
    return np.asarray(series.t_ns) / 1e9  # type: ignore[attr-defined]


def test_fixes_come_at_the_configured_rate(trajectory: Trajectory) -> None:
    for rate in (5.0, 10.0):
        gnss = simulate_gnss(
            trajectory, LTP, dataclasses.replace(EXACT, rate_hz=rate), (), rng=np.random.default_rng(0)
        )
        assert np.all(np.diff(gnss.t_ns) == round(1e9 / rate))
        assert len(gnss) == math.floor(trajectory.duration_s * rate) + 1
        assert gnss.fix.all()


def test_geodetic_fix_is_the_true_position_without_noise(trajectory: Trajectory) -> None:
    gnss = simulate_gnss(trajectory, LTP, EXACT, (), rng=np.random.default_rng(0))
    truth = trajectory.position_m(_t(gnss))
    back = LTP.enu_from_geodetic(gnss.latitude_deg, gnss.longitude_deg, gnss.altitude_m)  # pyproj, independently
    assert np.abs(back - truth).max() < 1e-6
    assert gnss.altitude_m[0] == pytest.approx(488.0 + FlightProfile().ground_clearance_m, abs=1e-6)


def test_denial_means_no_fix_messages_with_nan_position(trajectory: Trajectory) -> None:
    denial = GnssDenial("denied", 20.0, 35.0)
    gnss = simulate_gnss(trajectory, LTP, GnssConfig(), (denial,), rng=np.random.default_rng(1))
    t = _t(gnss)
    inside = (t >= 20.0) & (t < 35.0)
    assert inside.sum() == 75  # 15 s at 5 Hz: the receiver keeps publishing
    assert not gnss.fix[inside].any()
    assert gnss.fix[~inside].all()
    assert np.isnan(gnss.latitude_deg[inside]).all()
    assert np.isnan(gnss.altitude_m[inside]).all()
    assert np.isfinite(gnss.latitude_deg[~inside]).all()
    assert not gnss.variance_enu_m2[inside].any()


def test_silent_denial_publishes_nothing(trajectory: Trajectory) -> None:
    denial = GnssDenial("denied", 20.0, 35.0)
    config = dataclasses.replace(GnssConfig(), denied_output=DeniedOutput.SILENT)
    gnss = simulate_gnss(trajectory, LTP, config, (denial,), rng=np.random.default_rng(1))
    t = _t(gnss)
    assert not ((t >= 20.0) & (t < 35.0)).any()
    assert gnss.fix.all()
    assert np.max(np.diff(t)) == pytest.approx(15.2, abs=1e-9)


def test_jamming_inflates_the_reported_covariance_and_scatters_the_fixes(trajectory: Trajectory) -> None:
    jam = GnssJamming("jam", 10.0, 60.0, sigma_m=30.0, ramp_s=5.0)
    config = GnssConfig(rate_hz=10.0)
    gnss = simulate_gnss(trajectory, LTP, config, (jam,), rng=np.random.default_rng(2))
    t = _t(gnss)
    error = gnss.position_enu_m - gnss.true_position_enu_m
    nominal = config.nominal_variance_enu_m2()
    full = (t >= 15.0) & (t < 60.0)
    outside = (t < 10.0) | (t >= 60.0)
    assert np.allclose(gnss.variance_enu_m2[outside], nominal)
    assert np.allclose(gnss.variance_enu_m2[full], nominal + np.array([30.0, 30.0, 45.0]) ** 2)
    ramp = (t >= 10.0) & (t < 15.0)
    assert np.all(np.diff(gnss.variance_enu_m2[ramp, 0]) > 0)  # the covariance grows during the ramp
    # 450 fixes at full jamming: their scatter is the reported sigma (within sampling error).
    assert error[full, 0].std() == pytest.approx(math.sqrt(nominal[0] + 900.0), rel=0.15)
    assert error[outside, 0].std() < 3.0
    assert gnss.fix.all()


def test_spoof_drift_grows_at_the_configured_rate_with_a_nominal_covariance(trajectory: Trajectory) -> None:
    drift = GnssSpoofDrift("drift", 20.0, 50.0, rate_mps=2.0, direction_deg=90.0, ramp_s=4.0)
    gnss = simulate_gnss(trajectory, LTP, EXACT, (drift,), rng=np.random.default_rng(3))
    t = _t(gnss)
    offset = gnss.position_enu_m - gnss.true_position_enu_m
    steady = (t >= 24.0) & (t < 50.0)
    slope, _ = np.polyfit(t[steady], offset[steady, 1], 1)
    assert slope == pytest.approx(2.0, abs=1e-6)  # north at 2 m/s
    assert np.abs(offset[:, [0, 2]]).max() < 1e-6
    assert offset[t < 20.0].max() < 1e-6  # nothing before, ...
    assert np.abs(offset[t >= 50.0]).max() < 1e-6  # ... and the true signals are back after
    assert offset[steady][-1, 1] == pytest.approx(2.0 * (t[steady][-1] - 20.0 - 2.0), abs=1e-6)
    ramp = (t >= 20.0) & (t < 24.0)
    speed = np.diff(offset[ramp, 1]) / np.diff(t[ramp])
    assert np.all(np.diff(speed) > 0)  # smoothly accelerating, no jump
    assert speed.max() < 2.0
    assert np.allclose(gnss.variance_enu_m2, EXACT.nominal_variance_enu_m2())  # the receiver is fooled


def test_spoof_drift_rate_is_seen_through_receiver_noise(trajectory: Trajectory) -> None:
    drift = GnssSpoofDrift("drift", 10.0, 70.0, rate_mps=2.0, direction_deg=0.0, ramp_s=0.0)
    config = dataclasses.replace(GnssConfig(), correlated_horizontal_sigma_m=0.0)
    gnss = simulate_gnss(trajectory, LTP, config, (drift,), rng=np.random.default_rng(4))
    t = _t(gnss)
    inside = (t >= 10.0) & (t < 70.0)
    slope, _ = np.polyfit(t[inside], (gnss.position_enu_m - gnss.true_position_enu_m)[inside, 0], 1)
    assert slope == pytest.approx(2.0, rel=0.03)
    assert np.allclose(gnss.variance_enu_m2, config.nominal_variance_enu_m2())


def test_spoof_jump_is_a_constant_offset(trajectory: Trajectory) -> None:
    jump = GnssSpoofJump("jump", 15.0, 25.0, offset_enu_m=(40.0, -30.0, 5.0))
    gnss = simulate_gnss(trajectory, LTP, EXACT, (jump,), rng=np.random.default_rng(5))
    t = _t(gnss)
    offset = gnss.position_enu_m - gnss.true_position_enu_m
    inside = (t >= 15.0) & (t < 25.0)
    assert np.allclose(offset[inside], [40.0, -30.0, 5.0], atol=1e-6)
    assert np.abs(offset[~inside]).max() < 1e-6
    assert np.array_equal(spoof_offset_enu_m(jump, [14.9, 15.0, 25.0]), [[0, 0, 0], [40, -30, 5], [0, 0, 0]])


def test_nominal_white_error_matches_the_reported_sigma() -> None:
    still = Trajectory.stationary(2000.0)
    config = dataclasses.replace(GnssConfig(), correlated_horizontal_sigma_m=0.0, correlated_vertical_sigma_m=0.0)
    gnss = simulate_gnss(still, LTP, config, (), rng=np.random.default_rng(6))
    error = gnss.position_enu_m - gnss.true_position_enu_m
    assert np.allclose(error.std(axis=0), np.sqrt(config.nominal_variance_enu_m2()), rtol=0.03)


def test_gauss_markov_has_the_configured_variance_and_correlation_time() -> None:
    sigma, tau, dt = 2.0, 6.0, 0.2
    series = gauss_markov(np.random.default_rng(7), 400_000, np.array([sigma]), tau, dt)[:, 0]
    assert series.std() == pytest.approx(sigma, rel=0.03)
    lag = round(tau / dt)  # autocorrelation exp(-1) at one correlation time
    correlation = np.corrcoef(series[:-lag], series[lag:])[0, 1]
    assert correlation == pytest.approx(math.exp(-1.0), abs=0.02)
    assert np.corrcoef(series[:-1], series[1:])[0, 1] == pytest.approx(math.exp(-dt / tau), abs=0.01)


def test_same_seed_same_fixes(trajectory: Trajectory) -> None:
    events = (GnssJamming("jam", 10.0, 20.0),)
    a = simulate_gnss(trajectory, LTP, GnssConfig(), events, rng=np.random.default_rng(9))
    b = simulate_gnss(trajectory, LTP, GnssConfig(), events, rng=np.random.default_rng(9))
    c = simulate_gnss(trajectory, LTP, GnssConfig(), events, rng=np.random.default_rng(10))
    assert np.array_equal(a.latitude_deg, b.latitude_deg)
    assert not np.array_equal(a.latitude_deg, c.latitude_deg)


def test_isa_pressure_matches_the_standard_atmosphere_table() -> None:
    # ICAO standard atmosphere: 101325 Pa at 0 m, 89875 Pa at 1000 m, 54020 Pa at 5000 m, 22632 Pa at 11 km.
    table = {0.0: 101_325.0, 1000.0: 89_875.0, 5000.0: 54_020.0, 11_000.0: 22_632.0}
    for altitude, pressure in table.items():
        assert isa_pressure_pa(altitude) == pytest.approx(pressure, rel=2e-4)
    altitudes = np.linspace(-300.0, 8000.0, 50)
    assert np.allclose(isa_altitude_m(isa_pressure_pa(altitudes, 100_000.0), 100_000.0), altitudes, atol=1e-6)


def test_barometer_pressure_follows_the_true_altitude(trajectory: Trajectory) -> None:
    config = BaroConfig(noise_pa=0.0, drift_sigma_pa=0.0)
    baro = simulate_baro(trajectory, 488.0, config, rng=np.random.default_rng(11))
    heights = isa_altitude_m(baro.pressure_pa) - 488.0
    truth = trajectory.position_m(_t(baro))[:, 2]
    assert np.abs(heights - truth).max() < 1e-6
    assert np.all(np.diff(baro.t_ns) == 40_000_000)  # 25 Hz


def test_barometer_noise_and_drift_have_the_configured_size() -> None:
    still = Trajectory.stationary(3000.0)
    white = simulate_baro(still, 0.0, BaroConfig(drift_sigma_pa=0.0), rng=np.random.default_rng(12))
    assert (white.pressure_pa - white.true_pressure_pa).std() == pytest.approx(3.0, rel=0.02)
    assert white.variance_pa2 == 9.0
    drifting = simulate_baro(
        still, 0.0, BaroConfig(noise_pa=0.0, drift_sigma_pa=15.0, drift_time_s=30.0), rng=np.random.default_rng(13)
    )
    drift = drifting.pressure_pa - drifting.true_pressure_pa
    assert drift.std() == pytest.approx(15.0, rel=0.15)  # 100 correlation times
    phi = math.exp(-(1.0 / 25.0) / 30.0)  # slow: each step is the exact Gauss-Markov innovation, no white noise
    assert np.diff(drift).std() == pytest.approx(15.0 * math.sqrt(1.0 - phi**2), rel=0.03)


def test_non_positive_gnss_rate_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"gnss\.rate_hz"):
        simulate_gnss(trajectory, LTP, GnssConfig(rate_hz=0.0), (), rng=np.random.default_rng(0))


def test_negative_gnss_sigma_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"gnss\.vertical_sigma_m"):
        simulate_gnss(trajectory, LTP, GnssConfig(vertical_sigma_m=-1.0), (), rng=np.random.default_rng(0))


def test_non_positive_correlation_time_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"gnss\.correlation_time_s"):
        simulate_gnss(trajectory, LTP, GnssConfig(correlation_time_s=0.0), (), rng=np.random.default_rng(0))


def test_implausible_sea_level_pressure_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"baro\.sea_level_pressure_pa"):
        simulate_baro(trajectory, 0.0, BaroConfig(sea_level_pressure_pa=1013.25), rng=np.random.default_rng(0))


def test_negative_baro_noise_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"baro\.noise_pa"):
        simulate_baro(trajectory, 0.0, BaroConfig(noise_pa=-0.1), rng=np.random.default_rng(0))


def test_fixes_come_at_2_hz_as_well(trajectory: Trajectory) -> None:
    gnss = simulate_gnss(trajectory, LTP, dataclasses.replace(EXACT, rate_hz=2.0), (), rng=np.random.default_rng(0))
    assert np.all(np.diff(gnss.t_ns) == 500_000_000)
    assert gnss.t_ns[0] == 0
    assert len(gnss) == math.floor(trajectory.duration_s * 2.0) + 1


def _baro_height_m(baro: object, config: BaroConfig, origin_m: float) -> np.ndarray:
    return isa_altitude_m(baro.pressure_pa, config.sea_level_pressure_pa) - origin_m  # type: ignore[attr-defined]


def test_baro_altitude_offset_starts_where_configured_and_grows_at_its_rate(trajectory: Trajectory) -> None:
    config = BaroConfig(
        noise_pa=0.0,
        drift_sigma_pa=0.0,
        initial_offset_m=-1.5,
        offset_drift_m_per_min=2.0,
        offset_drift_direction=DriftDirection.UP,
    )
    baro = simulate_baro(trajectory, 488.0, config, rng=np.random.default_rng(14))
    t = _t(baro)
    offset = _baro_height_m(baro, config, 488.0) - trajectory.position_m(t)[:, 2]
    assert np.abs(offset - (-1.5 + 2.0 * t / 60.0)).max() < 1e-6
    assert np.allclose(baro.altitude_offset_m, offset, atol=1e-6)
    after_a_minute = np.searchsorted(t, 60.0)
    assert offset[after_a_minute] - offset[0] == pytest.approx(2.0, abs=1e-6)  # 2 m apart after 60 s
    down = dataclasses.replace(config, offset_drift_direction=DriftDirection.DOWN)
    lower = simulate_baro(trajectory, 488.0, down, rng=np.random.default_rng(14))
    assert lower.altitude_offset_m[after_a_minute] == pytest.approx(-3.5, abs=1e-9)


def test_random_drift_direction_is_drawn_per_seed_after_the_other_draws(trajectory: Trajectory) -> None:
    config = BaroConfig(offset_drift_m_per_min=1.0)
    final_offsets = {
        seed: simulate_baro(trajectory, 0.0, config, rng=np.random.default_rng(seed)).altitude_offset_m[-1]
        for seed in range(12)
    }
    assert {float(np.sign(v)) for v in final_offsets.values()} == {-1.0, 1.0}
    drifting = simulate_baro(trajectory, 0.0, config, rng=np.random.default_rng(3))
    assert drifting.altitude_offset_m[-1] == final_offsets[3]
    # The drift and the white noise are the draws a baro without the offset gets.
    plain = simulate_baro(trajectory, 0.0, BaroConfig(), rng=np.random.default_rng(3))
    offset_only = isa_pressure_pa(isa_altitude_m(drifting.true_pressure_pa) + drifting.altitude_offset_m)
    assert np.allclose(drifting.pressure_pa - offset_only, plain.pressure_pa - plain.true_pressure_pa, atol=1e-6)


def test_baro_and_gnss_heights_separate_at_the_drift_rate_through_their_noise() -> None:
    """A long hover with every default error: the baro-minus-GNSS height trend is the drift rate."""
    still = Trajectory.stationary(3000.0, position_m=(0.0, 0.0, 50.0))
    config = BaroConfig(offset_drift_m_per_min=1.0, offset_drift_direction=DriftDirection.UP)
    baro = simulate_baro(still, 488.0, config, rng=np.random.default_rng(15))
    gnss = simulate_gnss(still, LTP, GnssConfig(), (), rng=np.random.default_rng(16))
    baro_height = np.interp(_t(gnss), _t(baro), _baro_height_m(baro, config, 488.0))
    gnss_height = gnss.position_enu_m[:, 2]
    slope_m_per_s, _ = np.polyfit(_t(gnss), baro_height - gnss_height, 1)
    assert slope_m_per_s * 60.0 == pytest.approx(1.0, rel=0.15)


def test_negative_offset_drift_rate_is_a_typed_error(trajectory: Trajectory) -> None:
    with pytest.raises(GnssConfigError, match=r"baro\.offset_drift_m_per_min"):
        simulate_baro(trajectory, 0.0, BaroConfig(offset_drift_m_per_min=-1.0), rng=np.random.default_rng(0))
