"""fdr_node: the flight data recorder of the whole graph (C13), a thin adapter over gps_denied_onboard.fdr.

It discovers every topic, subscribes to each with a raw (serialized) subscription whose
QoS matches the publishers, and hands the CDR bytes to the recorder untouched. WARN and
above from every node arrive through /rosout; this process's own Python logging goes
through the in-process bridge. It publishes /fdr/status (1 Hz) and /diagnostics.

Exit codes (see ros/entrypoint.py): 0 clean, 2 bad parameters, 3 the flight could not be
opened (flight root unwritable, or locked by another recorder) — a flight must not start
without its recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from onboard.msg import FdrStatus, FdrTopicCounter
from rcl_interfaces.msg import Log
from rclpy.clock import Clock
from rclpy.clock_type import ClockType
from rclpy.context import Context
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.subscription import Subscription

from gps_denied_onboard import __version__
from gps_denied_onboard.fdr.config import FdrConfig, QueueConfig
from gps_denied_onboard.fdr.errors import FdrConfigError, FdrError
from gps_denied_onboard.fdr.kinds import Kind
from gps_denied_onboard.fdr.logbridge import attach_log_bridge, detach_log_bridge
from gps_denied_onboard.fdr.recording_policy import (
    DEFAULT_EXCLUDE,
    PublisherQos,
    SubscriptionQos,
    TopicFilter,
    adapt_qos,
    new_flight_id,
    parse_queue_overrides,
)
from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder
from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.graph.qos import QosSpec
from gps_denied_onboard.paths import default_fdr_root
from gps_denied_onboard.ros.diagnostics import diagnostic_array
from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, EXIT_UNAVAILABLE, NodeStartupError, run_node
from gps_denied_onboard.ros.msg_types import UnknownMessageTypeError, message_class
from gps_denied_onboard.ros.params import declare, reject_undeclared
from gps_denied_onboard.ros.qos import durability_of, qos_profile, reliability_of, topic_qos

NODE_NAME = "fdr_node"
ROSOUT_PRODUCER_ID = "/rosout"
EVENTS_PRODUCER_ID = NODE_NAME
_LEVEL_NAMES = {Log.WARN: "WARN", Log.ERROR: "ERROR", Log.FATAL: "FATAL"}


@dataclass(frozen=True)
class FdrNodeSettings:
    """Everything the node's parameters say, validated."""

    fdr: FdrConfig
    flight_id: str
    topics: TopicFilter
    rescan_period_s: float
    status_period_s: float
    subscription_depth: int


@dataclass
class _Recording:
    """One recorded topic: its subscription and the QoS it was made with."""

    subscription: Subscription
    qos: SubscriptionQos
    msg_type: str


class FdrNode(Node):
    """Records every topic of the graph and every WARN/ERROR log into one flight."""

    def __init__(
        self,
        *,
        context: Context | None = None,
        parameter_overrides: list[Parameter] | None = None,
        cli_args: list[str] | None = None,
    ) -> None:
        super().__init__(NODE_NAME, context=context, parameter_overrides=parameter_overrides, cli_args=cli_args)
        self.settings = self._read_settings()
        reject_undeclared(self)
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self.recorder = FlightRecorder(self.settings.fdr, alert=self._on_alert)
        header = FlightHeader(self.settings.flight_id, self._config_snapshot(), __version__)
        try:
            self.flight_dir: Path = self.recorder.open_flight(header)
        except (FdrError, OSError) as exc:
            raise NodeStartupError(
                f"flight recorder cannot open its flight, refusing to start: {exc}", EXIT_UNAVAILABLE
            ) from exc
        self._closed = False
        self._bridge = attach_log_bridge(self.recorder.client)
        self._rosout = self.recorder.client.producer(ROSOUT_PRODUCER_ID)
        self._events = self.recorder.client.producer(EVENTS_PRODUCER_ID)
        self._recordings: dict[str, _Recording] = {}
        self._skipped: set[str] = set()
        self.create_subscription(Log, Topic.ROSOUT.value, self._on_rosout, topic_qos(Topic.ROSOUT))
        self._status_pub = self.create_publisher(FdrStatus, Topic.FDR_STATUS.value, topic_qos(Topic.FDR_STATUS))
        self._diag_pub = self.create_publisher(DiagnosticArray, Topic.DIAGNOSTICS.value, topic_qos(Topic.DIAGNOSTICS))
        # Discovery and health run on the steady clock: on sim time (replay) the node clock stands
        # still until /clock arrives, and a replayer waits for the recorder to subscribe before it
        # publishes /clock; a ROS-time timer here would deadlock the two.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(self.settings.rescan_period_s, self._rescan, clock=steady)
        self.create_timer(self.settings.status_period_s, self._publish_status, clock=steady)
        self._rescan()
        self._publish_status()
        self.get_logger().info(f"recording flight {self.settings.flight_id} to {self.flight_dir}")

    # ------------------------------------------------------------------ parameters
    def _read_settings(self) -> FdrNodeSettings:
        root = declare(self, "fdr_root", "", "directory of one sub-directory per flight; empty: the default data root")
        root = root or str(default_fdr_root())
        flight_id = declare(self, "flight_id", "", "flight id; empty: generated from UTC time")
        segment = declare(
            self, "segment_size_bytes", 64 * 2**20, "segment rotation size", minimum=64 * 2**10, maximum=2**31
        )
        cap = declare(
            self, "flight_cap_bytes", 64 * 2**30, "oldest segments are deleted above this", minimum=2**20, maximum=2**50
        )
        fsync = declare(
            self, "fsync_interval_s", 1.0, "bound on data lost at power failure", minimum=0.01, maximum=60.0
        )
        queue = declare(self, "queue_size", 4096, "ring capacity per topic (power of two)", minimum=2, maximum=2**24)
        overrides = declare(self, "queue_overrides", [], "per-topic ring capacity: ['<topic>=<size>', ...]")
        include = declare(self, "include_patterns", [".*"], "regexes of topics to record")
        exclude = declare(self, "exclude_patterns", list(DEFAULT_EXCLUDE), "regexes of topics not to record")
        rescan = declare(
            self, "rescan_period_s", 2.0, "how often the graph is searched for new topics", minimum=0.05, maximum=60.0
        )
        status = declare(self, "status_period_s", 1.0, "period of /fdr/status", minimum=0.05, maximum=60.0)
        depth = declare(
            self,
            "subscription_depth",
            100,
            "minimum history depth of recording subscriptions",
            minimum=1,
            maximum=100000,
        )
        try:
            queues = QueueConfig(queue, parse_queue_overrides(overrides))
            fdr = FdrConfig(
                flight_root=Path(root).expanduser(),
                queues=queues,
                segment_size_bytes=segment,
                flight_cap_bytes=cap,
                fsync_interval_s=fsync,
                software_version=__version__,
            )
            topics = TopicFilter(tuple(include), tuple(exclude))
            flight = flight_id or new_flight_id()
        except FdrConfigError as exc:
            raise NodeStartupError(f"invalid fdr_node parameters: {exc}", EXIT_BAD_CONFIG) from exc
        return FdrNodeSettings(fdr, flight, topics, rescan, status, depth)

    def _config_snapshot(self) -> dict[str, Any]:
        return {name: param.value for name, param in sorted(self._parameters.items())}

    # ------------------------------------------------------------------ discovery
    def _rescan(self) -> None:
        """Subscribe to topics that appeared, and re-subscribe where the publishers' QoS changed."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._skipped or not self.settings.topics.accepts(topic):
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue  # subscribers only: nothing to record yet
            qos = adapt_qos(
                [PublisherQos(reliability_of(p.qos_profile), durability_of(p.qos_profile)) for p in publishers],
                self._depth_for(topic),
            )
            current = self._recordings.get(topic)
            if current is not None and current.qos == qos:
                continue
            if len(types) != 1:
                self._skip(topic, f"{len(types)} message types on one topic: {types}")
                continue
            try:
                msg_class = message_class(types[0])
            except UnknownMessageTypeError as exc:
                self._skip(topic, str(exc))
                continue
            if current is not None:
                self.destroy_subscription(current.subscription)
                self.get_logger().info(f"re-subscribing {topic} with {qos} (publishers changed)")
            self._recordings[topic] = _Recording(self._subscribe(topic, types[0], msg_class, qos), qos, types[0])

    def _depth_for(self, topic: str) -> int:
        try:
            declared = topic_spec(Topic(topic)).qos.depth
        except ValueError:
            declared = 0
        return max(self.settings.subscription_depth, declared)

    def _subscribe(self, topic: str, msg_type: str, msg_class: type[Any], qos: SubscriptionQos) -> Subscription:
        producer = self.recorder.client.producer(topic)
        if self._sim_time:
            clock = self.get_clock()

            # Replay: stamp with the ROS clock (bag time), so two replays export identical times.
            def on_raw(data: bytes) -> None:
                producer.ros_message(topic, msg_type, data, wall_ns=clock.now().nanoseconds)

        else:

            def on_raw(data: bytes) -> None:  # the hot path: bytes straight into the ring
                producer.ros_message(topic, msg_type, data)

        events = SubscriptionEventCallbacks(
            incompatible_qos=lambda info: self._on_incompatible_qos(topic, info),
            message_lost=lambda info: self._on_message_lost(topic, info),
        )
        profile = qos_profile(QosSpec(f"fdr:{topic}", qos.reliability, qos.durability, qos.depth))
        return self.create_subscription(msg_class, topic, on_raw, profile, event_callbacks=events, raw=True)

    def _skip(self, topic: str, reason: str) -> None:
        self._skipped.add(topic)
        self.get_logger().warning(f"not recording {topic}: {reason}")
        self._events.record(
            Kind.EVENT.value, {"name": "topic_not_recorded", "data": {"topic": topic, "reason": reason}}
        )

    def _on_incompatible_qos(self, topic: str, info: Any) -> None:
        self.get_logger().warning(
            f"incompatible QoS on {topic}: policy {info.last_policy_kind}, "
            f"{info.total_count} publisher(s); re-adapting at the next scan"
        )
        self._events.record(
            Kind.EVENT.value,
            {
                "name": "incompatible_qos",
                "data": {"topic": topic, "policy": str(info.last_policy_kind), "total_count": info.total_count},
            },
        )
        current = self._recordings.pop(topic, None)
        if current is not None:
            self.destroy_subscription(current.subscription)

    def _on_message_lost(self, topic: str, info: Any) -> None:
        # Lost inside the middleware, before the recorder saw them: counted like any other loss.
        if info.total_count_change > 0:
            self._events.record(
                Kind.OVERRUN.value,
                {"origin_producer_id": topic, "dropped_count": info.total_count_change, "reason": "middleware_lost"},
            )

    # ------------------------------------------------------------------ logs and status
    def _on_rosout(self, msg: Log) -> None:
        if msg.level < Log.WARN:
            return  # INFO and DEBUG are never recorded
        self._rosout.record(
            Kind.LOG.value,
            {
                "level": _LEVEL_NAMES.get(msg.level, str(msg.level)),
                "component": msg.name,
                "message": msg.msg,
                "exc_text": "",
                "file": msg.file,
                "function": msg.function,
                "line": msg.line,
                "stamp_ns": msg.stamp.sec * 1_000_000_000 + msg.stamp.nanosec,
            },
        )

    def _on_alert(self, message: str) -> None:
        self.get_logger().error(f"flight recorder alert: {message}")

    def _publish_status(self) -> None:
        status = self.recorder.status()
        msg = FdrStatus(
            flight_id=status.flight_id,
            flight_dir=status.flight_dir,
            records_written=status.records_written,
            records_dropped=status.records_dropped,
            bytes_written=status.bytes_written,
            segment_index=status.segment_index,
            rollover_count=status.rollover_count,
            degraded=status.degraded,
            degraded_reason=status.degraded_reason,
            topics=[
                FdrTopicCounter(producer_id=pid, records=c.records, dropped=c.dropped, bytes=c.bytes)
                for pid, c in sorted(status.producers.items())
            ],
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self._status_pub.publish(msg)
        level, text = (DiagnosticStatus.OK, "recording")
        if status.degraded:
            level, text = DiagnosticStatus.ERROR, f"writes failing: {status.degraded_reason}"
        elif status.records_dropped:
            level, text = DiagnosticStatus.WARN, f"{status.records_dropped} records dropped (counted)"
        values = {
            "flight_id": str(status.flight_id),
            "records_written": str(status.records_written),
            "records_dropped": str(status.records_dropped),
            "bytes_written": str(status.bytes_written),
            "segment_index": str(status.segment_index),
            "topics": str(len(self._recordings)),
        }
        summary = DiagnosticStatus(
            level=level, name=f"{NODE_NAME}: flight recorder", message=text, hardware_id=status.flight_dir
        )
        self._diag_pub.publish(diagnostic_array(summary, values, msg.header.stamp))

    # ------------------------------------------------------------------ shutdown
    def close_flight(self) -> None:
        """Stop recording and close the flight with its footer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for recording in self._recordings.values():
            self.destroy_subscription(recording.subscription)
        self._recordings.clear()
        footer = self.recorder.close_flight()
        detach_log_bridge(self._bridge)
        # After SIGINT the context is already shut down and /rosout is gone: log to the console only.
        console = self.get_logger() if self.context.ok() else rclpy.logging.get_logger("onboard.fdr")
        console.info(
            f"flight {footer.flight_id} closed: {footer.records_written} records, "
            f"{footer.records_dropped_overrun} dropped, {footer.bytes_written} bytes, "
            f"clean_shutdown={footer.clean_shutdown}"
        )

    def destroy_node(self) -> None:
        """Close the flight (footer, fsync, unlock) before the node goes away."""
        self.close_flight()
        super().destroy_node()


def make_node(*, context: Context | None = None, cli_args: list[str] | None = None) -> Node:
    """The node, for the single-process launcher."""
    return FdrNode(context=context, cli_args=cli_args)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the `fdr_node` executable."""
    factory: Callable[[], Node] = FdrNode
    return run_node(factory, args)
