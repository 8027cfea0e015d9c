"""Barometric height with the baro-GNSS offset estimated (estimator.baro): the offset follows a
drift of metres per minute through trusted GNSS heights, and without GNSS its uncertainty grows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gps_denied_onboard.common.atmosphere import isa_altitude_m, isa_pressure_pa
from gps_denied_onboard.estimator.baro import BaroAltimeter
from gps_denied_onboard.estimator.config import BaroConfig
from gps_denied_onboard.estimator.intake import BaroSample

NS = 1_000_000_000
GROUND_MSL_M = 488.0
PRESSURE_SIGMA_PA = 3.0


def sample(t_s: float, height_m: float, rng: np.random.Generator) -> BaroSample:
    pressure = float(isa_pressure_pa(GROUND_MSL_M + height_m)) + float(rng.normal(0.0, PRESSURE_SIGMA_PA))
    return BaroSample(round(t_s * NS), pressure, PRESSURE_SIGMA_PA**2)


def test_the_offset_follows_a_drift_of_two_metres_per_minute_through_gnss_heights() -> None:
    rng = np.random.default_rng(3)
    altimeter = BaroAltimeter(BaroConfig())
    for k in range(10):  # the reference at rest, up = 0
        assert altimeter.add(sample(0.04 * k, 0.0, rng), None) is None
    reference = altimeter.offset_m
    assert reference == pytest.approx(GROUND_MSL_M, abs=0.5)
    drift_mps = 2.0 / 60.0
    errors = []
    for k in range(25 * 120):  # 120 s of 25 Hz baro, GNSS heights at 5 Hz
        t_s = 0.4 + k / 25.0
        true_up = 20.0 * math.sin(t_s / 20.0)
        measured = altimeter.add(sample(t_s, true_up + drift_mps * t_s, rng), true_up)
        if k % 5 == 0:
            altimeter.observe_gnss(round(t_s * NS), true_up + float(rng.normal(0.0, 1.5)), 1.5**2)
        if measured is not None and t_s > 60.0:
            errors.append(measured.up_m - true_up)
            assert measured.variance_m2 > altimeter.offset_sigma_m**2  # the offset's doubt is in the height's
    assert abs(float(np.mean(errors))) < 1.0  # 4 m of drift over the flight, tracked to under a metre
    assert altimeter.offset_m - reference == pytest.approx(drift_mps * 120.0, abs=1.0)


def test_without_gnss_the_offset_uncertainty_grows_by_its_random_walk() -> None:
    rng = np.random.default_rng(4)
    config = BaroConfig()
    altimeter = BaroAltimeter(config)
    for k in range(10):
        altimeter.add(sample(0.04 * k, 0.0, rng), None)
    first = altimeter.add(sample(1.0, 0.0, rng), 0.0)
    later = altimeter.add(sample(61.0, 0.0, rng), 0.0)
    assert first is not None
    assert later is not None
    growth = later.variance_m2 - first.variance_m2
    assert growth == pytest.approx(config.offset_random_walk_m_per_sqrt_s**2 * 60.0, rel=0.05)


def test_heights_are_fused_at_most_every_fusion_period() -> None:
    rng = np.random.default_rng(5)
    altimeter = BaroAltimeter(BaroConfig(fusion_period_s=0.2))
    for k in range(10):
        altimeter.add(sample(0.04 * k, 0.0, rng), None)
    fused = [altimeter.add(sample(1.0 + k / 25.0, 0.0, rng), 0.0) for k in range(50)]  # 2 s at 25 Hz
    assert sum(m is not None for m in fused) == 10


def test_a_gnss_height_far_off_the_offset_does_not_move_it() -> None:
    rng = np.random.default_rng(6)
    altimeter = BaroAltimeter(BaroConfig())
    for k in range(10):
        altimeter.add(sample(0.04 * k, 0.0, rng), None)
    altimeter.add(sample(1.0, 0.0, rng), 0.0)
    before = altimeter.offset_m
    altimeter.observe_gnss(1 * NS, 60.0, 1.0)  # a 60 m vertical outlier
    assert altimeter.offset_m == before
    assert float(isa_altitude_m(isa_pressure_pa(100.0))) == pytest.approx(100.0, abs=1e-6)


def test_a_streak_of_refused_heights_gives_the_height_and_climb_rate_they_show() -> None:
    rng = np.random.default_rng(4)
    altimeter = BaroAltimeter(BaroConfig(reset_after_s=2.0))
    for k in range(10):
        altimeter.add(sample(0.04 * k, 0.0, rng), None)
    anchor = None
    for k in range(100):  # climbing at 3 m/s; the backend refuses every height
        t_s = 1.0 + k * 0.04
        measured = altimeter.add(sample(t_s, 10.0 + 3.0 * t_s, rng), 0.0)
        if measured is not None:
            anchor = altimeter.refused(measured)
            if anchor is not None:
                break
    assert anchor is not None
    assert anchor.refused_s >= 2.0
    t_s = anchor.t_ns / NS
    assert anchor.up_m == pytest.approx(10.0 + 3.0 * t_s, abs=3.0 * math.sqrt(anchor.up_variance_m2))
    assert anchor.up_rate_mps == pytest.approx(3.0, abs=3.0 * math.sqrt(anchor.up_rate_variance_m2ps2))
    assert math.sqrt(anchor.up_rate_variance_m2ps2) < 0.5


def test_an_accepted_height_ends_the_refusal_streak() -> None:
    rng = np.random.default_rng(5)
    altimeter = BaroAltimeter(BaroConfig(reset_after_s=2.0, fusion_period_s=0.0))
    for k in range(10):
        altimeter.add(sample(0.04 * k, 0.0, rng), None)
    for k in range(100):
        measured = altimeter.add(sample(1.0 + k * 0.04, 0.0, rng), 0.0)
        assert measured is not None
        if k % 40 == 39:
            altimeter.fused()  # one accepted height every 1.6 s: never 2 s of refusals
        else:
            assert altimeter.refused(measured) is None
