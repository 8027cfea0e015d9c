"""Typed errors of trajectory evaluation: each names the bag, topic, file, option or value at fault."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class EvaluationError(OnboardError):
    """Base class of every evaluation error."""


class BagNotFoundError(EvaluationError):
    """The bag path does not exist."""


class BagReadError(EvaluationError):
    """The path is not a readable rosbag2 bag, or a message in it cannot be decoded."""


class TopicMissingError(EvaluationError):
    """A topic the evaluation needs is not in the bag, or holds no message."""


class TopicTypeError(EvaluationError):
    """A topic has a message type the evaluation cannot read as asked (e.g. not nav_msgs/msg/Odometry)."""


class InvalidTrajectoryError(EvaluationError):
    """A trajectory is empty, has wrong-shaped arrays, non-finite values, unsorted stamps or non-unit quaternions."""


class TumFormatError(EvaluationError):
    """A TUM trajectory file is missing, unreadable, or has a line that is not 8 numbers."""


class InvalidPhaseError(EvaluationError):
    """A scenario phase has an unknown kind or a window that ends before it starts."""


class InvalidStatusError(EvaluationError):
    """An estimator status series has an unknown source or GNSS trust label, or mismatched arrays."""


class AssociationError(EvaluationError):
    """No estimate stamp lies within the tolerance of a reference stamp."""


class AlignmentError(EvaluationError):
    """The poses cannot determine the asked alignment (too few, collinear, or mismatched)."""


class MetricError(EvaluationError):
    """A metric cannot be computed on the given poses (e.g. an RPE delta that yields no pair)."""


class BadOptionError(EvaluationError):
    """An evaluation option is malformed or out of range (alignment, tolerance, RPE delta, topic spec)."""


class ReportWriteError(EvaluationError):
    """The report directory or one of its files cannot be written."""
