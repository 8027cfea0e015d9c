"""Producer rings and the client: bounded, non-blocking, exact loss accounting, typed refusals."""

from __future__ import annotations

import threading

import pytest

from gps_denied_onboard.fdr.client import FdrClient, PendingRecord
from gps_denied_onboard.fdr.config import QueueConfig
from gps_denied_onboard.fdr.errors import FdrConfigError, ForbiddenRecordKindError, ProducerIdError, RecordSchemaError
from gps_denied_onboard.fdr.fake import FakeFdrClient
from gps_denied_onboard.fdr.ring import ProducerRing


def test_full_ring_drops_oldest_and_counts_each_loss() -> None:
    ring: ProducerRing[int] = ProducerRing("p", capacity=4)
    for value in range(10):
        ring.push(value)
    drained = ring.drain(max_items=100)
    assert drained.items == [6, 7, 8, 9]
    assert drained.dropped == 6
    assert (ring.pushed_total, ring.dropped_total) == (10, 6)


def test_drop_count_is_reported_once_before_the_survivors() -> None:
    ring: ProducerRing[int] = ProducerRing("p", capacity=2)
    for value in range(5):
        ring.push(value)
    first = ring.drain(max_items=1)
    assert (first.dropped, first.items) == (3, [3])
    second = ring.drain(max_items=10)
    assert (second.dropped, second.items) == (0, [4])


def test_loss_accounting_is_exact_under_concurrent_producers_and_drainer() -> None:
    ring: ProducerRing[int] = ProducerRing("p", capacity=64)
    per_thread, threads = 20_000, 4
    received: list[int] = []
    dropped = 0
    done = threading.Event()

    def drainer() -> None:
        nonlocal dropped
        while not done.is_set() or len(ring):
            batch = ring.drain(max_items=16)
            dropped += batch.dropped
            received.extend(batch.items)

    def producer(base: int) -> None:
        for i in range(per_thread):
            ring.push(base + i)

    drain_thread = threading.Thread(target=drainer)
    drain_thread.start()
    workers = [threading.Thread(target=producer, args=(t * per_thread,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    drain_thread.join()
    dropped += ring.drain(max_items=1000).dropped
    assert len(received) + dropped == per_thread * threads
    assert len(set(received)) == len(received), "no record delivered twice"


def test_queue_sizes_must_be_powers_of_two_in_range() -> None:
    with pytest.raises(FdrConfigError, match="power of two"):
        QueueConfig(queue_size=1000)
    with pytest.raises(FdrConfigError, match=r"fdr.queue_size must be an integer in \[2, 16777216\]"):
        QueueConfig(queue_size=0)
    with pytest.raises(FdrConfigError, match=r"queue_overrides\['/imu/data'\]"):
        QueueConfig(overrides={"/imu/data": 300})
    assert QueueConfig(queue_size=8, overrides={"/imu/data": 1024}).capacity_for("/imu/data") == 1024


def test_per_producer_override_sets_ring_capacity() -> None:
    client = FdrClient(QueueConfig(queue_size=4, overrides={"big": 16}))
    big, small = client.producer("big"), client.producer("small")
    for i in range(20):
        big.record("event", {"i": i})
        small.record("event", {"i": i})
    assert (big.dropped_total, small.dropped_total) == (4, 16)


@pytest.mark.parametrize("bad", ["", "   ", "a\nb"])
def test_bad_producer_ids_are_typed_errors(bad: str) -> None:
    with pytest.raises(ProducerIdError):
        FdrClient().producer(bad)


@pytest.mark.parametrize("kind", ["raw_nav_frame", "raw_ai_cam_frame"])
def test_raw_camera_frames_are_refused_at_the_producer(kind: str) -> None:
    producer = FdrClient().producer("camera")
    with pytest.raises(ForbiddenRecordKindError, match="never recorded"):
        producer.record(kind, {"jpeg": "..."})


@pytest.mark.parametrize("kind", ["", "has space", "ros_message"])
def test_malformed_kinds_are_typed_errors(kind: str) -> None:
    with pytest.raises(RecordSchemaError):
        FdrClient().producer("p").record(kind, {})


def test_same_producer_id_shares_one_ring() -> None:
    client = FdrClient()
    client.producer("p").record("event", {"n": 1})
    client.producer("p").record("event", {"n": 2})
    assert len(client.rings()) == 1
    assert client.pending() == 2


def test_fake_client_uses_the_real_overrun_policy() -> None:
    fake = FakeFdrClient(QueueConfig(queue_size=4))
    producer = fake.producer("est")
    for i in range(10):
        producer.record("event", {"i": i})
    producer.ros_message("/state/odometry", "nav_msgs/msg/Odometry", b"\x00\x01\x00\x00")
    flight = fake.drain()
    assert flight.dropped == {"est": 7}
    assert [r.payload["i"] for r in flight.records("est", "event")] == [7, 8, 9]
    assert isinstance(flight.records("est")[0], PendingRecord)
    assert [m.topic for m in flight.ros_messages("est")] == ["/state/odometry"]
