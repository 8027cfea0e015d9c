"""onboard_replay: plays a rosbag2 bag into the graph as raw CDR, with /clock from the bag stamps.

A thin adapter over gps_denied_onboard.replay: the core reads the bag and decides the
publishers, their QoS and the schedule; this module publishes. Two modes:

live           the replayer alone, into whatever graph is running, real time scaled by a rate
               (or as fast as possible), like ``ros2 bag play --clock``.
deterministic  every node of the graph and the replayer in this process on one
               SingleThreadedExecutor, the nodes on sim time. Before message k its /clock is
               published and callbacks run until every node's clock shows its stamp; after it,
               callbacks run until none becomes ready for ``quiet_s``. So each message is fully
               processed before the next, and two runs of one bag give the same outputs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from rclpy.clock import ROSClock
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.executors import (
    ExternalShutdownException,
    ShutdownException,
    SingleThreadedExecutor,
    TimeoutException,
)
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import get_default_context, try_shutdown
from rosgraph_msgs.msg import Clock

from gps_denied_onboard.bringup.plan import LaunchArgs, ros_arguments
from gps_denied_onboard.graph.nodes import NODES, NodeSpec, start_order
from gps_denied_onboard.graph.qos import Reliability
from gps_denied_onboard.replay.bag import NS_PER_S, Bag, BagMessage
from gps_denied_onboard.replay.errors import ReplayError
from gps_denied_onboard.replay.pacing import Pacer
from gps_denied_onboard.replay.plan import (
    CLOCK_TOPIC,
    ReplayOptions,
    ReplayPlan,
    TopicPlan,
    expected_subscribers,
    plan_topics,
)
from gps_denied_onboard.replay.report import ReplayReport
from gps_denied_onboard.ros.msg_types import UnknownMessageTypeError, message_class
from gps_denied_onboard.ros.qos import qos_profile
from gps_denied_onboard.ros.single_process import make

NODE_NAME = "onboard_replay"
POLL_S = 0.01  # how often subscriber counts and graph visibility are polled
STOP_POLL_S = 0.1  # live: a pause between messages checks this often whether the replay was stopped
DRAIN_TIMEOUT_S = 5.0  # live: how long reliable readers get to acknowledge the last messages
CLOCK_STEP_TIMEOUT_S = 5.0  # deterministic: every node's clock must follow /clock within this
SETTLE_LIMIT_S = 10.0  # deterministic: the graph must go quiet after a message within this


@dataclass
class _Output:
    """A replayed topic's publisher and the plan it was made from."""

    plan: TopicPlan
    publisher: Publisher


class ReplayerNode(Node):
    """One raw publisher per replayed topic, plus /clock. A topic whose message type cannot be
    imported is skipped, counted in ``skipped`` with the reason, and warned about once."""

    def __init__(self, plan: ReplayPlan, *, context: Context | None = None) -> None:
        super().__init__(NODE_NAME, context=context)
        self.skipped: dict[str, str] = dict(plan.skipped)
        self.outputs: dict[str, _Output] = {}  # published topic name -> output
        for topic in plan.topics:
            try:
                msg_class = message_class(topic.msg_type)
            except UnknownMessageTypeError as exc:
                self.skipped[topic.bag_topic] = f"message type not importable: {exc}"
                self.get_logger().warning(f"not replaying {topic.bag_topic} ({topic.count} messages): {exc}")
                continue
            publisher = self.create_publisher(msg_class, topic.topic, qos_profile(topic.qos))
            self.outputs[topic.topic] = _Output(topic, publisher)
        self.clock_publisher = self.create_publisher(Clock, CLOCK_TOPIC, qos_profile(plan.clock_qos))

    @property
    def bag_topics(self) -> list[str]:
        """The bag names of the topics this node replays."""
        return [output.plan.bag_topic for output in self.outputs.values()]

    def publish_clock(self, stamp_ns: int) -> None:
        """Publish /clock at bag time ``stamp_ns``."""
        sec, nanosec = divmod(stamp_ns, NS_PER_S)
        self.clock_publisher.publish(Clock(clock=Time(sec=sec, nanosec=nanosec)))

    def publish_message(self, message: BagMessage) -> None:
        """Publish the message's CDR bytes untouched on its (remapped) topic."""
        self.outputs[message.topic].publisher.publish(message.cdr)

    def short_of_subscribers(self, expected: Callable[[str], int]) -> list[str]:
        """Topics (and /clock) whose publisher has fewer matched subscriptions than ``expected(topic)``."""
        publishers = {topic: output.publisher for topic, output in self.outputs.items()}
        publishers[CLOCK_TOPIC] = self.clock_publisher
        return sorted(t for t, p in publishers.items() if p.get_subscription_count() < expected(t))

    def wait_for_subscribers(self, timeout_s: float, expected: Callable[[str], int]) -> tuple[str, ...]:
        """Wait until every publisher has its expected subscribers, or ``timeout_s``; return those still short."""
        deadline = time.monotonic() + timeout_s
        while (short := self.short_of_subscribers(expected)) and time.monotonic() < deadline and self.context.ok():
            time.sleep(POLL_S)
        if short:
            self.get_logger().warning(
                f"still short of subscribers after {timeout_s:g} s, their first messages may be lost: {short}"
            )
        return tuple(short)

    def wait_until_visible(self, timeout_s: float) -> None:
        """Wait until this node's topics show in the ROS graph, so nodes created next discover them at once."""
        wanted = {*self.outputs, CLOCK_TOPIC}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if wanted <= {name for name, _ in self.get_topic_names_and_types()}:
                return
            time.sleep(POLL_S)

    def drain(self, timeout_s: float) -> None:
        """Wait for reliable readers to acknowledge what was published, before the publishers go away."""
        reliable = [o.publisher for o in self.outputs.values() if o.plan.qos.reliability is Reliability.RELIABLE]
        for publisher in [*reliable, self.clock_publisher]:
            if not publisher.wait_for_all_acked(Duration(seconds=timeout_s)):
                self.get_logger().warning(f"{publisher.topic_name}: not every reader acknowledged within {timeout_s} s")


@dataclass
class _Tally:
    """What the replay loop published, and when."""

    published: Counter[str] = field(default_factory=Counter)
    clock_published: int = 0
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None
    first_wall_s: float | None = None  # just before the first message was paced and published
    last_wall_s: float | None = None  # just after the last message was published (and, deterministic, settled)
    interrupted: bool = False

    def begin(self) -> None:
        """The replay starts (before the first message is paced): the wall duration counts from here."""
        if self.first_wall_s is None:
            self.first_wall_s = time.monotonic()

    def clock(self, stamp_ns: int) -> None:
        self.clock_published += 1
        if self.first_stamp_ns is None:
            self.first_stamp_ns = stamp_ns
        self.last_stamp_ns = stamp_ns

    def message(self, topic: str) -> None:
        self.published[topic] += 1
        self.last_wall_s = time.monotonic()


def _plan(bag: Bag, options: ReplayOptions) -> ReplayPlan:
    outputs = bag.check_remaps(options.remaps)
    return plan_topics(bag.topics, outputs, bag.counts(options.window))


def _report(
    options: ReplayOptions, node: ReplayerNode, tally: _Tally, unmatched: Sequence[str], rate: float | None
) -> ReplayReport:
    first, last = tally.first_stamp_ns, tally.last_stamp_ns
    start, end = tally.first_wall_s, tally.last_wall_s
    return ReplayReport(
        bag=options.bag,
        published={topic: tally.published.get(topic, 0) for topic in node.outputs},
        in_window={topic: output.plan.count for topic, output in node.outputs.items()},
        clock_published=tally.clock_published,
        bag_duration_s=(last - first) / NS_PER_S if first is not None and last is not None else 0.0,
        wall_duration_s=end - start if start is not None and end is not None else 0.0,
        skipped=dict(node.skipped),
        unmatched=tuple(unmatched),
        rate=rate,
        deterministic=options.deterministic,
        interrupted=tally.interrupted,
    )


def _run_guarded(context: Context, tally: _Tally, loop: Callable[[], None]) -> None:
    """Run the replay loop; SIGINT/SIGTERM (rclpy shuts the context down) ends it as interrupted."""
    try:
        loop()
    except (KeyboardInterrupt, ExternalShutdownException, ShutdownException):
        tally.interrupted = True
    except Exception:
        if context.ok():
            raise
        tally.interrupted = True  # rclpy calls on a context shut down by a signal fail: that is the stop


def _sleep_unless_stopped(context: Context, seconds: float, sleep: Callable[[float], None]) -> bool:
    """Sleep ``seconds`` in slices; False as soon as the context is shut down. rclpy's SIGINT/SIGTERM
    handlers shut the context down without raising, so a long gap in the bag must not outlast Ctrl-C."""
    deadline = time.monotonic() + seconds
    while context.ok():
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        sleep(min(left, STOP_POLL_S))
    return False


def replay_live(
    options: ReplayOptions,
    *,
    context: Context | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Play ``options.bag`` into the running graph, paced by ``options.rate``; return the report.

    With ``context`` None, rclpy is initialised on a context of its own and shut down after.
    """
    with Bag(options.bag) as bag:
        plan = _plan(bag, options)
        own_context = context is None
        ctx = Context() if context is None else context
        if own_context:  # SIGINT/SIGTERM shut it down, which ends the replay (rclpy installs no handlers otherwise)
            rclpy.init(context=ctx, signal_handler_options=SignalHandlerOptions.ALL)
        node: ReplayerNode | None = None
        try:
            node = ReplayerNode(plan, context=ctx)
            unmatched = node.wait_for_subscribers(options.wait_for_subscribers_s, lambda _topic: 1)
            first_ns, _ = bag.window_ns(options.window)
            pacer = Pacer(first_ns, options.rate, time.monotonic)
            tally = _Tally()
            live = node

            def loop() -> None:
                for message in bag.messages(options.window, options.remaps, live.bag_topics):
                    tally.begin()
                    if not _sleep_unless_stopped(ctx, pacer.delay_s(message.stamp_ns), sleep):
                        tally.interrupted = True
                        return
                    live.publish_clock(message.stamp_ns)
                    tally.clock(message.stamp_ns)
                    live.publish_message(message)
                    tally.message(message.topic)
                    if options.rate is None:
                        sleep(0)  # as fast as possible, yet yield: the middleware's threads deliver meanwhile
                live.drain(DRAIN_TIMEOUT_S)

            _run_guarded(ctx, tally, loop)
            return _report(options, node, tally, unmatched, options.rate)
        finally:
            if node is not None:
                node.destroy_node()
            if own_context:
                try_shutdown(context=ctx)


def _run_one(executor: SingleThreadedExecutor, timeout_s: float) -> bool:
    """Run one ready callback, waiting at most ``timeout_s`` for one; False if none became ready."""
    try:
        handler, _, _ = executor.wait_for_ready_callbacks(timeout_sec=timeout_s)
    except TimeoutException:
        return False
    handler()
    if handler.exception() is not None:
        raise handler.exception()
    return True


def _on_sim_time(node: Node) -> bool:
    clock = node.get_clock()
    return isinstance(clock, ROSClock) and clock.ros_time_is_active


class _Stepper:
    """Deterministic stepping of an in-process graph on one SingleThreadedExecutor."""

    def __init__(self, executor: SingleThreadedExecutor, nodes: Sequence[Node], quiet_s: float) -> None:
        self.executor = executor
        self.quiet_s = quiet_s
        self.sim_nodes = [n for n in nodes if _on_sim_time(n)]

    def follow_clock(self, stamp_ns: int) -> None:
        """Run callbacks until every sim-time node's clock reads ``stamp_ns``."""
        deadline = time.monotonic() + CLOCK_STEP_TIMEOUT_S
        while lagging := [n.get_name() for n in self.sim_nodes if n.get_clock().now().nanoseconds != stamp_ns]:
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"node(s) {lagging} did not follow /clock to {stamp_ns} ns within {CLOCK_STEP_TIMEOUT_S} s"
                )
            _run_one(self.executor, self.quiet_s)

    def settle(self) -> None:
        """Run callbacks until none becomes ready for ``quiet_s``."""
        deadline = time.monotonic() + SETTLE_LIMIT_S
        while _run_one(self.executor, self.quiet_s):
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"the graph did not go quiet for {self.quiet_s} s within {SETTLE_LIMIT_S} s "
                    "(a wall-clock timer faster than the quiet period?): the replay cannot be deterministic"
                )


def replay_deterministic(
    options: ReplayOptions, launch_args: LaunchArgs, overlay: Path, nodes: tuple[NodeSpec, ...] = NODES
) -> ReplayReport:
    """Replay ``options.bag`` through ``nodes``, built in this process with the launch's ``--ros-args``
    (``launch_args.use_sim_time`` should be true), stepped message by message; return the report.

    A node that cannot start raises its NodeStartupError (with the exit code of its executable).
    """
    with Bag(options.bag) as bag:
        plan = _plan(bag, options)
        rclpy.init()
        context = get_default_context()
        executor = SingleThreadedExecutor()
        replayer: ReplayerNode | None = None
        graph: list[Node] = []
        try:
            replayer = ReplayerNode(plan)
            # The recorder subscribes to what it sees when it starts, and its rescan timer runs on
            # sim time (frozen until the first /clock): the replay's topics must be visible first.
            replayer.wait_until_visible(max(options.wait_for_subscribers_s, 1.0))
            for spec in start_order(nodes):
                graph.append(make(spec, ros_arguments(spec, launch_args, overlay)))
            for node in [replayer, *graph]:
                executor.add_node(node)
            declared: Mapping[str, int] = {
                topic: expected_subscribers(topic, nodes) for topic in [*replayer.outputs, CLOCK_TOPIC]
            }
            unmatched = replayer.wait_for_subscribers(options.wait_for_subscribers_s, declared.__getitem__)
            stepper = _Stepper(executor, graph, options.quiet_s)
            tally = _Tally()
            player = replayer

            def loop() -> None:
                for message in bag.messages(options.window, options.remaps, player.bag_topics):
                    tally.begin()
                    if not context.ok():
                        tally.interrupted = True
                        return
                    player.publish_clock(message.stamp_ns)
                    tally.clock(message.stamp_ns)
                    stepper.follow_clock(message.stamp_ns)
                    player.publish_message(message)
                    stepper.settle()
                    tally.message(message.topic)

            _run_guarded(context, tally, loop)
            return _report(options, replayer, tally, unmatched, None)
        finally:
            executor.shutdown()
            for node in reversed(graph):  # stop order: the recorder, started first, closes its flight last
                node.destroy_node()
            if replayer is not None:
                replayer.destroy_node()
            try_shutdown()
