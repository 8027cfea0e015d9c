"""What an evaluation is asked to do: which estimates, aligned how, associated with what tolerance,
and the RPE delta. Defaults follow the suite: the state estimate lives in ``map`` like the
ground truth, so it is not aligned (absolute error is what a GNSS-denied navigator is judged
on); VIO lives in ``odom``, an arbitrary frame, so it gets SE(3) alignment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gps_denied_onboard.evaluation.align import Alignment, parse_alignment
from gps_denied_onboard.evaluation.associate import DEFAULT_MAX_DIFF_S, seconds_to_ns
from gps_denied_onboard.evaluation.errors import BadOptionError
from gps_denied_onboard.evaluation.metrics import RpeOptions
from gps_denied_onboard.graph import Topic

SPEC_SEPARATOR = ":"
DEFAULT_TOPICS: tuple[Topic, ...] = (Topic.STATE_ODOMETRY, Topic.VIO_ODOMETRY)


@dataclass(frozen=True)
class TopicOptions:
    """One estimate to evaluate: a bag topic (or a TUM file path) and its alignment.

    ``alignment`` None means automatic: none when the estimate's frame_id is the reference's,
    else SE(3). ``align_first_s`` estimates an SE(3)/Sim(3) alignment from the pairs of the
    first S seconds only (then applies it to all), which shows drift after the alignment span.
    """

    topic: str
    alignment: Alignment | None = None
    align_first_s: float | None = None

    def __post_init__(self) -> None:
        if not self.topic:
            raise BadOptionError("an evaluated topic needs a name")
        if self.align_first_s is not None:
            if not math.isfinite(self.align_first_s) or self.align_first_s <= 0:
                raise BadOptionError(
                    f"{self.topic}: the alignment span must be finite seconds > 0, got {self.align_first_s}"
                )
            if self.alignment not in (Alignment.SE3, Alignment.SIM3):
                raise BadOptionError(
                    f"{self.topic}: a first-seconds alignment span needs se3 or sim3, not {self.alignment or 'auto'}"
                )

    def spec(self) -> str:
        """The option as ``T[:ALIGN[:FIRST_S]]`` (what parse_topic_option reads)."""
        parts = [self.topic]
        if self.alignment is not None:
            parts.append(self.alignment.value)
        if self.align_first_s is not None:
            parts.append(f"{self.align_first_s:g}")
        return SPEC_SEPARATOR.join(parts)


def parse_topic_option(text: str) -> TopicOptions:
    """Parse ``T``, ``T:ALIGN`` or ``T:ALIGN:FIRST_S`` (ALIGN: none|se3|sim3|origin; T has no ':')."""
    name, *rest = text.split(SPEC_SEPARATOR)
    if len(rest) > 2:
        raise BadOptionError(f"topic option {text!r} is not of the form TOPIC[:ALIGN[:FIRST_S]]")
    alignment = parse_alignment(rest[0]) if rest else None
    first_s = None
    if len(rest) == 2:
        try:
            first_s = float(rest[1])
        except ValueError:
            raise BadOptionError(f"topic option {text!r}: alignment span {rest[1]!r} is not seconds") from None
    return TopicOptions(name.strip(), alignment, first_s)


def _default_topics() -> tuple[TopicOptions, ...]:
    return tuple(TopicOptions(topic.value) for topic in DEFAULT_TOPICS)


@dataclass(frozen=True)
class EvalOptions:
    """The whole evaluation's options (the ``onboard eval`` flags)."""

    topics: tuple[TopicOptions, ...] = field(default_factory=_default_topics)
    ground_truth: str = Topic.GROUND_TRUTH.value
    t_max_diff_s: float = DEFAULT_MAX_DIFF_S
    t_offset_s: float = 0.0  # added to estimate stamps for association (evo's --t_offset)
    rpe: RpeOptions = field(default_factory=RpeOptions)
    plots: bool = True

    def __post_init__(self) -> None:
        if not self.topics:
            raise BadOptionError("no topic to evaluate")
        names = [t.topic for t in self.topics]
        if duplicated := sorted({n for n in names if names.count(n) > 1}):
            raise BadOptionError(f"topic(s) {duplicated} are given more than once")
        if self.ground_truth in names:
            raise BadOptionError(f"{self.ground_truth} is the ground truth; it cannot also be evaluated")
        seconds_to_ns(self.t_max_diff_s, "the association tolerance (--t-max-diff)")
        seconds_to_ns(self.t_offset_s, "the time offset (--t-offset)", allow_negative=True)

    @property
    def max_diff_ns(self) -> int:
        """The association tolerance in nanoseconds."""
        return seconds_to_ns(self.t_max_diff_s, "--t-max-diff")

    @property
    def offset_ns(self) -> int:
        """The estimate time offset in nanoseconds."""
        return seconds_to_ns(self.t_offset_s, "--t-offset", allow_negative=True)
