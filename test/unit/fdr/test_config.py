"""FdrConfig refuses every invalid value with the parameter's name and its allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from gps_denied_onboard.fdr.config import FdrConfig
from gps_denied_onboard.fdr.errors import FdrConfigError


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("segment_size_bytes", 1000, "fdr.segment_size_bytes must be >= 65536"),
        ("flight_cap_bytes", 0, "fdr.flight_cap_bytes must be > 0"),
        ("fsync_interval_s", 0.0, r"fdr.fsync_interval_s must be in \(0, 60\]"),
        ("fsync_interval_s", 120.0, r"fdr.fsync_interval_s must be in \(0, 60\]"),
        ("drain_interval_s", 5.0, r"fdr.drain_interval_s must be in \(0, 1\]"),
        ("batch_max_records", 0, r"fdr.batch_max_records must be in \[1, 1048576\]"),
        ("degraded_retry_s", -1.0, r"fdr.degraded_retry_s must be in \(0, 60\]"),
    ],
)
def test_invalid_values_name_the_parameter(tmp_path: Path, field: str, value: object, message: str) -> None:
    with pytest.raises(FdrConfigError, match=message):
        FdrConfig(flight_root=tmp_path, **{field: value})  # type: ignore[arg-type]


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    config = FdrConfig(flight_root=str(tmp_path))  # type: ignore[arg-type]
    assert config.flight_root == tmp_path
    assert config.fsync_interval_s <= 1.0
    assert config.flight_cap_bytes == 64 * 2**30
    assert not config.cap_below_segment
