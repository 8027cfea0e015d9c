"""Typed errors of the simulator: each names the file, option or value at fault."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class SimError(OnboardError):
    """Base class of every simulator error."""


class OrthophotoError(SimError):
    """An orthophoto cannot be read or written: unreadable file, band count or data type, empty raster."""


class OrthophotoNotFoundError(OrthophotoError):
    """The orthophoto path does not exist."""


class GeoreferenceError(OrthophotoError):
    """A georeference is missing, inconsistent or unsupported (no CRS, rotated or sheared transform)."""


class GroundOptionsError(SimError):
    """A ground scenario option (featureless region, repeated texture, seasonal change) is invalid."""


class CameraModelError(SimError):
    """Camera intrinsics, distortion or mount are invalid."""


class RenderOptionsError(SimError):
    """A rendering option (exposure, noise, vignetting, encoding, fill value) is invalid."""


class RenderInputError(SimError):
    """A pose, velocity, point array or random generator passed to the camera is malformed or missing."""


class TrajectoryError(SimError):
    """A mission or flight profile cannot be flown, or a trajectory is queried outside its time span."""


class ImuConfigError(SimError):
    """An IMU profile figure, rate or random generator is invalid."""


class UnknownImuProfileError(ImuConfigError):
    """No MEMS profile has the requested name."""


class VibrationConfigError(ImuConfigError):
    """A rotor vibration figure (rotor rate, amplitudes, axis weights, idle schedule) is invalid."""


class GnssConfigError(SimError):
    """A GNSS receiver, GNSS event or barometer figure is invalid."""


class ScenarioError(SimError):
    """A scenario cannot be loaded or is inconsistent; the message names the file, key and value."""


class ScenarioNotFoundError(ScenarioError):
    """No scenario file at the path, and no built-in scenario of that name."""


class ScenarioSyntaxError(ScenarioError):
    """The scenario file is not YAML, or its top level is not a mapping."""


class ScenarioKeyError(ScenarioError):
    """A key the scenario does not know, or a required key that is missing."""


class ScenarioTypeError(ScenarioError):
    """A value of the wrong type (a string where a number belongs, a list where a mapping does)."""


class ScenarioValueError(ScenarioError):
    """A value out of its range or not one of the allowed choices."""


class ScenarioWindowError(ScenarioError):
    """An event window that is empty, reversed, overlapping another, or outside the flight."""


class BagOutputExistsError(SimError):
    """The simulator's output bag directory exists already; it is never overwritten."""


class BagWriteError(SimError):
    """The simulated bag could not be written (a message type unknown to the typestore, a disk error)."""
