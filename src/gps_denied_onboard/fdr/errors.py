"""Typed errors of the flight data recorder."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class FdrError(OnboardError):
    """Base class of every flight data recorder error."""


class FdrConfigError(FdrError):
    """A recorder configuration value is invalid; the message names it and the allowed range."""


class ProducerIdError(FdrError):
    """A producer id is empty or malformed."""


class ForbiddenRecordKindError(FdrError):
    """A record kind that must never be recorded (raw camera frames: privacy rule)."""


class RecordSchemaError(FdrError):
    """A record does not follow the versioned record schema."""


class FlightLockedError(FdrError):
    """Another recorder holds the flight root's lock."""


class FlightStateError(FdrError):
    """A flight lifecycle call out of order: close without open, mismatched flight id, ..."""


class SegmentFormatError(FdrError):
    """A segment file is not an FDR segment or has an unsupported format version."""


class ExportError(FdrError):
    """A flight could not be exported to MCAP or rosbag2."""


class ExportOutputExistsError(ExportError):
    """The export output already exists; exports never overwrite."""


class FlightNotFoundError(ExportError):
    """The flight directory does not exist or holds no segment files."""


class FlightOpenError(FdrError):
    """The flight's first segment or header could not be written: the flight must not start."""
