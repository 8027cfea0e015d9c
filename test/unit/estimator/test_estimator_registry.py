"""The backend registry: names, lazy imports of the heavy dependency, typed errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from gps_denied_onboard.estimator import registry
from gps_denied_onboard.estimator.config import BACKEND_CHOICES, EstimatorConfig
from gps_denied_onboard.estimator.errors import BackendUnavailableError, EstimatorConfigError, UnknownBackendError


def test_registry_names_are_the_config_choices() -> None:
    assert tuple(registry.BACKENDS) == BACKEND_CHOICES


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownBackendError, match=r"unknown estimator backend 'ukf'; known backends: \['eskf', 'isam2'\]"
    ):
        registry.create_backend("ukf", EstimatorConfig())


def test_unknown_backend_is_a_config_error() -> None:
    assert issubclass(UnknownBackendError, EstimatorConfigError)


def test_eskf_backend_is_created_under_its_name() -> None:
    backend = registry.create_backend("eskf", EstimatorConfig())
    assert backend.name == "eskf"


def test_selecting_eskf_never_imports_gtsam() -> None:
    # A fresh interpreter: this test process may already hold GTSAM from another test.
    code = (
        "import sys\n"
        "from gps_denied_onboard.estimator.core import StateEstimator\n"
        "from gps_denied_onboard.estimator.config import EstimatorConfig, PARAMETERS\n"
        "estimator = StateEstimator(EstimatorConfig(backend='eskf'))\n"
        "assert 'gtsam' not in sys.modules, 'gtsam imported for eskf'\n"
        "print(len(PARAMETERS))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 40


def test_a_missing_backend_module_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "ISAM2_MODULE", "gps_denied_onboard.estimator.no_such_backend")
    with pytest.raises(BackendUnavailableError, match=r"estimator backend 'isam2' cannot be loaded"):
        registry.create_backend("isam2", EstimatorConfig())
