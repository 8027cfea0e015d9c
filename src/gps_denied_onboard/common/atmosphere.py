"""The ISA troposphere (ICAO Doc 7488): pressure <-> altitude, shared by the simulator and the estimator."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.common.inertial import GRAVITY_MPS2, FloatArray

ISA_SEA_LEVEL_PRESSURE_PA = 101_325.0
ISA_SEA_LEVEL_TEMPERATURE_K = 288.15
ISA_LAPSE_RATE_K_PER_M = 0.0065
_MOLAR_MASS_AIR = 0.0289644  # kg/mol
_GAS_CONSTANT = 8.3144598  # J/(mol K)
ISA_EXPONENT = GRAVITY_MPS2 * _MOLAR_MASS_AIR / (_GAS_CONSTANT * ISA_LAPSE_RATE_K_PER_M)  # 5.2559


def isa_pressure_pa(altitude_m: npt.ArrayLike, sea_level_pressure_pa: float = ISA_SEA_LEVEL_PRESSURE_PA) -> FloatArray:
    """Static pressure of the ISA troposphere (below 11 km) at ``altitude_m`` above mean sea level."""
    h = np.asarray(altitude_m, dtype=np.float64)
    ratio = 1.0 - ISA_LAPSE_RATE_K_PER_M * h / ISA_SEA_LEVEL_TEMPERATURE_K
    return np.asarray(sea_level_pressure_pa * ratio**ISA_EXPONENT, dtype=np.float64)


def isa_altitude_m(pressure_pa: npt.ArrayLike, sea_level_pressure_pa: float = ISA_SEA_LEVEL_PRESSURE_PA) -> FloatArray:
    """The ISA altitude of a static pressure: the inverse of ``isa_pressure_pa``."""
    p = np.asarray(pressure_pa, dtype=np.float64)
    ratio = (p / sea_level_pressure_pa) ** (1.0 / ISA_EXPONENT)
    return np.asarray((1.0 - ratio) * ISA_SEA_LEVEL_TEMPERATURE_K / ISA_LAPSE_RATE_K_PER_M, dtype=np.float64)


def isa_altitude_slope_m_per_pa(pressure_pa: float, sea_level_pressure_pa: float = ISA_SEA_LEVEL_PRESSURE_PA) -> float:
    """d(altitude)/d(pressure) of ``isa_altitude_m``, m/Pa (negative): turns a pressure variance into a height one."""
    ratio = (pressure_pa / sea_level_pressure_pa) ** (1.0 / ISA_EXPONENT)
    return float(-ratio / (ISA_EXPONENT * pressure_pa) * ISA_SEA_LEVEL_TEMPERATURE_K / ISA_LAPSE_RATE_K_PER_M)
