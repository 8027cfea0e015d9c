"""EstimatorConfig and its ROS parameter table: every invalid value is refused with its name and range."""

from __future__ import annotations

import dataclasses
import math

import pytest

from gps_denied_onboard.common.inertial import ImuNoiseConfig, MultirotorImuNoiseConfig
from gps_denied_onboard.common.parameters import ParameterError, ParameterSpec
from gps_denied_onboard.estimator.config import (
    BACKEND_CHOICES,
    PARAMETERS,
    SECTIONS,
    EstimatorConfig,
    GateConfig,
    Isam2Config,
    check_value,
)
from gps_denied_onboard.estimator.errors import EstimatorConfigError


def test_table_lists_every_field_of_every_section_once() -> None:
    names = [spec.name for spec in PARAMETERS]
    assert len(names) == len(set(names))
    expected = {"backend"} | {
        f"{section}.{item.name}" for section, config in SECTIONS.items() for item in dataclasses.fields(config)
    }
    assert set(names) == expected
    assert "gate.max_horizontal_delta_m" in names
    assert any(name.startswith("isam2.") for name in names), "the iSAM2 section must be declared too"


def test_table_defaults_are_the_dataclass_defaults_and_inside_their_ranges() -> None:
    defaults = EstimatorConfig().to_parameters()
    for spec in PARAMETERS:
        assert defaults[spec.name] == spec.default, spec.name
        assert spec.description, spec.name
        assert check_value(spec, spec.default) == spec.default
        if spec.minimum is not None and spec.maximum is not None:
            assert spec.minimum <= float(spec.default) <= spec.maximum, spec.name  # type: ignore[arg-type]


def test_documented_defaults() -> None:
    config = EstimatorConfig()
    assert config.backend == "eskf"
    assert config.gate.max_horizontal_delta_m == 200.0
    assert config.timing.reorder_window_s == 0.05
    assert config.isam2 == Isam2Config()


def test_round_trip_through_parameters() -> None:
    config = EstimatorConfig.from_parameters(
        {"backend": "isam2", "gate.dwell_s": 8, "baro.enabled": False, "gating.geofix_kernel": "cauchy"}
    )
    assert config.backend == "isam2"
    assert config.gate.dwell_s == 8.0
    assert isinstance(config.gate.dwell_s, float)
    assert config.baro.enabled is False
    assert config.gating.geofix_kernel == "cauchy"
    assert config.imu == MultirotorImuNoiseConfig()  # untouched sections keep their defaults
    assert EstimatorConfig.from_parameters(config.to_parameters()) == config


def test_unknown_parameter_is_refused_with_the_known_names() -> None:
    with pytest.raises(EstimatorConfigError, match=r"unknown estimator parameter\(s\) \['gate.dwel_s'\]") as info:
        EstimatorConfig.from_parameters({"gate.dwel_s": 5.0})
    assert "gate.dwell_s" in str(info.value)


def test_unknown_section_is_refused() -> None:
    with pytest.raises(EstimatorConfigError, match=r"\['kalman.q'\]"):
        EstimatorConfig.from_parameters({"kalman.q": 1.0})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("backend", "ekf", r"backend must be one of \['eskf', 'isam2'\], got 'ekf'"),
        ("backend", 1, r"backend must be one of"),
        ("gate.max_horizontal_delta_m", 0.5, r"gate.max_horizontal_delta_m must be a finite number in \[1, 10000\]"),
        ("gate.max_horizontal_delta_m", math.nan, r"gate.max_horizontal_delta_m must be a finite number"),
        (
            "gate.innovation_probability",
            1.0,
            r"gate.innovation_probability must be a finite number in \[0.5, 0.999999999\]",
        ),
        ("gate.dwell_s", -1.0, r"gate.dwell_s must be a finite number in \[0, 600\]"),
        ("gate.dwell_s", "5", r"gate.dwell_s must be a finite number"),
        ("gate.dwell_s", True, r"gate.dwell_s must be a finite number"),
        ("imu.accel_noise_density", 0.0, r"imu.accel_noise_density must be a finite number in \[1e-06, 1\]"),
        ("imu.gyro_noise_density", math.inf, r"imu.gyro_noise_density must be a finite number"),
        ("timing.reorder_window_s", 2.0, r"timing.reorder_window_s must be a finite number in \[0, 1\]"),
        ("timing.max_imu_gap_s", 0.0, r"timing.max_imu_gap_s must be a finite number in \[0.005, 10\]"),
        ("init.alignment_duration_s", 0.01, r"init.alignment_duration_s must be a finite number in \[0.1, 30\]"),
        ("init.default_yaw_sigma_rad", 4.0, r"init.default_yaw_sigma_rad must be a finite number in"),
        ("baro.enabled", 1, r"baro.enabled must be a bool, got 1"),
        ("baro.reference_samples", 2.5, r"baro.reference_samples must be an integer in \[1, 1000\], got 2.5"),
        ("baro.reference_samples", 0, r"baro.reference_samples must be an integer in \[1, 1000\]"),
        ("gating.geofix_kernel", "tukey", r"gating.geofix_kernel must be one of \['none', 'huber', 'cauchy'\]"),
        ("vio.max_speed_mps", 0.0, r"vio.max_speed_mps must be a finite number in \[0.1, 1000\]"),
        ("source.vio_timeout_s", 0.0, r"source.vio_timeout_s must be a finite number in \[0.05, 60\]"),
        ("eskf.variance_floor", -1.0, r"eskf.variance_floor must be a finite number in \[0, 0.001\]"),
        ("isam2.lag_s", 0.1, r"isam2.lag_s must be a finite number in \[0.5, 120\]"),
    ],
)
def test_invalid_value_names_the_parameter_and_its_range(name: str, value: object, message: str) -> None:
    with pytest.raises(EstimatorConfigError, match=message):
        EstimatorConfig.from_parameters({name: value})


def test_drift_min_window_above_window_is_refused() -> None:
    with pytest.raises(EstimatorConfigError, match=r"gate.drift_min_window_s \(20.0\) must be <= gate.drift_window_s"):
        GateConfig(drift_window_s=10.0, drift_min_window_s=20.0)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ParameterError, match=r"imu.accel_noise_density must be a finite number"):
        ImuNoiseConfig(accel_noise_density=-1.0)


def test_a_section_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(EstimatorConfigError, match=r"gate must be a GateConfig, got ImuNoiseConfig"):
        EstimatorConfig(gate=ImuNoiseConfig())  # type: ignore[arg-type]


def test_backend_choices_match_the_parameter_spec() -> None:
    spec = next(spec for spec in PARAMETERS if spec.name == "backend")
    assert spec.choices == BACKEND_CHOICES == ("eskf", "isam2")


def test_check_value_converts_ints_for_floats_but_not_floats_for_ints() -> None:
    float_spec = ParameterSpec("x.f", 1.0, "a float", minimum=0.0, maximum=10.0)
    int_spec = ParameterSpec("x.i", 1, "an int", minimum=0, maximum=10)
    assert check_value(float_spec, 3) == 3.0
    assert isinstance(check_value(float_spec, 3), float)
    with pytest.raises(EstimatorConfigError, match=r"x.i must be an integer in \[0, 10\], got 3.0"):
        check_value(int_spec, 3.0)


def test_the_eskf_vio_measurement_choices_are_the_backend_s() -> None:
    from gps_denied_onboard.estimator.config import ESKF_VIO_MEASUREMENTS, EskfConfig
    from gps_denied_onboard.estimator.eskf import VioMeasurement

    assert set(ESKF_VIO_MEASUREMENTS) == {m.value for m in VioMeasurement}
    assert EskfConfig().vio_measurement == VioMeasurement.RELATIVE_POSE.value
    with pytest.raises(EstimatorConfigError, match=r"eskf\.vio_measurement"):
        EskfConfig(vio_measurement="pose")
