"""Scenario event windows (onboard/msg/ScenarioPhase) and the estimator's status labels over time
(onboard/msg/EstimatorStatus), as the evaluation slices and plots them.

The enum values mirror the constants of ``msg/ScenarioPhase.msg`` and ``msg/EstimatorStatus.msg``
(the .msg files are the home of those facts; a unit test checks these against them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.estimator import gate
from gps_denied_onboard.estimator.status import SourceLabel
from gps_denied_onboard.evaluation.errors import InvalidPhaseError, InvalidStatusError

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]


class PhaseKind(enum.IntEnum):
    """ScenarioPhase.kind."""

    GNSS_DENIED = 0
    GNSS_JAMMED = 1
    GNSS_SPOOF_DRIFT = 2
    GNSS_SPOOF_JUMP = 3
    FEATURELESS = 4
    SEASONAL_CHANGE = 5


class PhaseCategory(str, enum.Enum):
    """What the evaluation reports separately: each event class, and ``nominal`` outside every window."""

    NOMINAL = "nominal"
    DENIED = "denied"
    JAMMED = "jammed"
    SPOOFED = "spoofed"
    FEATURELESS = "featureless"
    SEASONAL = "seasonal_change"

    def __str__(self) -> str:
        return self.value


CATEGORY_OF_KIND: dict[PhaseKind, PhaseCategory] = {
    PhaseKind.GNSS_DENIED: PhaseCategory.DENIED,
    PhaseKind.GNSS_JAMMED: PhaseCategory.JAMMED,
    PhaseKind.GNSS_SPOOF_DRIFT: PhaseCategory.SPOOFED,
    PhaseKind.GNSS_SPOOF_JUMP: PhaseCategory.SPOOFED,
    PhaseKind.FEATURELESS: PhaseCategory.FEATURELESS,
    PhaseKind.SEASONAL_CHANGE: PhaseCategory.SEASONAL,
}


# EstimatorStatus.source and .gnss_trust: the estimator's own enums, with the message's values.
EstimatorSource = SourceLabel
GnssTrust = gate.GnssTrust


def phase_kind(value: int) -> PhaseKind:
    """The PhaseKind of a message's ``kind`` byte; an unknown value is an InvalidPhaseError."""
    try:
        return PhaseKind(value)
    except ValueError:
        known = ", ".join(f"{k.value}={k.name}" for k in PhaseKind)
        raise InvalidPhaseError(f"unknown scenario phase kind {value} (known: {known})") from None


@dataclass(frozen=True)
class PhaseWindow:
    """One scenario event: ``[start_ns, end_ns)`` in ROS time, its kind and the scenario's name for it."""

    kind: PhaseKind
    start_ns: int
    end_ns: int  # exclusive
    name: str = ""

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise InvalidPhaseError(
                f"phase {self.name or self.kind.name} ends at {self.end_ns} ns, not after its start {self.start_ns} ns"
            )

    @property
    def category(self) -> PhaseCategory:
        """The reporting class of this window."""
        return CATEGORY_OF_KIND[self.kind]

    @property
    def is_spoof(self) -> bool:
        """Whether GNSS is spoofed in this window (drift or jump)."""
        return self.category is PhaseCategory.SPOOFED

    @property
    def label(self) -> str:
        """The scenario's name, else the kind's."""
        return self.name or self.kind.name

    def contains(self, stamps_ns: Int64Array) -> BoolArray:
        """Which of ``stamps_ns`` lie inside the window (start inclusive, end exclusive)."""
        return (stamps_ns >= self.start_ns) & (stamps_ns < self.end_ns)


def _check_labels(name: str, values: UInt8Array, enum_type: type[enum.IntEnum]) -> None:
    known = {member.value for member in enum_type}
    if unknown := sorted({int(v) for v in np.unique(values)} - known):
        names = ", ".join(f"{m.value}={m.name}" for m in enum_type)
        raise InvalidStatusError(f"estimator status {name} value(s) {unknown} are unknown (known: {names})")


@dataclass(frozen=True, eq=False)
class StatusSeries:
    """The estimator's status over time: per message its stamp, ``source`` and ``gnss_trust`` labels."""

    stamps_ns: Int64Array
    source: UInt8Array
    gnss_trust: UInt8Array

    def __post_init__(self) -> None:
        stamps = np.asarray(self.stamps_ns, dtype=np.int64)
        source = np.asarray(self.source, dtype=np.uint8)
        trust = np.asarray(self.gnss_trust, dtype=np.uint8)
        if stamps.ndim != 1 or source.shape != stamps.shape or trust.shape != stamps.shape:
            raise InvalidStatusError(
                f"status arrays must be 1-D of one length: stamps {stamps.shape}, source {source.shape}, "
                f"gnss_trust {trust.shape}"
            )
        if stamps.size > 1 and np.any(np.diff(stamps) < 0):
            raise InvalidStatusError("status stamps must not decrease")
        _check_labels("source", source, EstimatorSource)
        _check_labels("gnss_trust", trust, GnssTrust)
        for field, array in (("stamps_ns", stamps), ("source", source), ("gnss_trust", trust)):
            array.setflags(write=False)
            object.__setattr__(self, field, array)

    @classmethod
    def from_unsorted(cls, stamps_ns: npt.ArrayLike, source: npt.ArrayLike, gnss_trust: npt.ArrayLike) -> StatusSeries:
        """Build from messages in any order (sorted by stamp, stable)."""
        stamps = np.asarray(stamps_ns, dtype=np.int64)
        labels = np.asarray(source, dtype=np.uint8), np.asarray(gnss_trust, dtype=np.uint8)
        if stamps.ndim != 1 or any(array.shape != stamps.shape for array in labels):
            return cls(stamps, *labels)  # the constructor names the mismatch
        order = np.argsort(stamps, kind="stable")
        return cls(stamps[order], labels[0][order], labels[1][order])

    def __len__(self) -> int:
        return int(self.stamps_ns.shape[0])
