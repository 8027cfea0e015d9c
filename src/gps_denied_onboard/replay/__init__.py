"""Replay of a rosbag2 bag into the graph (``onboard replay``): the pure core.

``bag`` reads topics and messages (window, remapping), ``plan`` decides the publishers and
their QoS, ``pacing`` the schedule, ``report`` what happened. The ROS side is
``gps_denied_onboard.ros.replayer``.
"""

from gps_denied_onboard.replay.bag import Bag, BagMessage, BagTopic, Window, parse_remaps
from gps_denied_onboard.replay.errors import (
    BadRateError,
    BadRemapError,
    BadWindowError,
    BagNotFoundError,
    BagReadError,
    ReplayError,
)
from gps_denied_onboard.replay.pacing import Pacer, rate_from_option
from gps_denied_onboard.replay.plan import ReplayOptions, ReplayPlan, TopicPlan, plan_topics, publish_qos
from gps_denied_onboard.replay.report import ReplayReport, format_report, report_to_json

__all__ = [
    "BadRateError",
    "BadRemapError",
    "BadWindowError",
    "Bag",
    "BagMessage",
    "BagNotFoundError",
    "BagReadError",
    "BagTopic",
    "Pacer",
    "ReplayError",
    "ReplayOptions",
    "ReplayPlan",
    "ReplayReport",
    "TopicPlan",
    "Window",
    "format_report",
    "parse_remaps",
    "plan_topics",
    "publish_qos",
    "rate_from_option",
    "report_to_json",
]
