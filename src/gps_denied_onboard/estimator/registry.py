"""Backend name -> factory. Each factory imports its backend module when called, so GTSAM (the
heavy dependency of ``isam2``) is imported only when that backend is selected."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import MappingProxyType, ModuleType

from gps_denied_onboard.estimator.backend import FusionBackend
from gps_denied_onboard.estimator.config import EstimatorConfig
from gps_denied_onboard.estimator.errors import BackendUnavailableError, UnknownBackendError

logger = logging.getLogger(__name__)

BackendFactory = Callable[[EstimatorConfig], FusionBackend]

ISAM2_MODULE = "gps_denied_onboard.estimator.isam2"


def _import_backend(name: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(f"estimator backend {name!r} cannot be loaded ({module}): {exc}") from exc


def _make_eskf(config: EstimatorConfig) -> FusionBackend:
    # A typed import (numpy/scipy only), so mypy checks EskfBackend against the FusionBackend protocol.
    from gps_denied_onboard.estimator.eskf import EskfBackend  # noqa: PLC0415 - imported when selected

    return EskfBackend(config.eskf, config.gating, vio_measurement=config.eskf.vio_measurement)


def _make_isam2(config: EstimatorConfig) -> FusionBackend:
    # estimator.isam2 itself imports GTSAM only when the backend is built (config tables import the
    # module for Isam2Config); a missing GTSAM surfaces here as BackendUnavailableError.
    module = _import_backend("isam2", ISAM2_MODULE)
    backend: FusionBackend = module.Isam2Backend(config.isam2, config.gating)
    return backend


BACKENDS: MappingProxyType[str, BackendFactory] = MappingProxyType({"eskf": _make_eskf, "isam2": _make_isam2})
"""Every backend the ``backend`` parameter may name (config.BACKEND_CHOICES lists the same names)."""


def create_backend(name: str, config: EstimatorConfig) -> FusionBackend:
    """A new, uninitialised backend called ``name``; UnknownBackendError lists the known names."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise UnknownBackendError(f"unknown estimator backend {name!r}; known backends: {sorted(BACKENDS)}")
    backend = factory(config)
    logger.debug("created estimator backend %s", name)
    return backend
