"""The logging bridge: WARN/ERROR/FATAL recorded with their traceback, never INFO/DEBUG, no recursion."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gps_denied_onboard.fdr.config import QueueConfig
from gps_denied_onboard.fdr.fake import FakeFdrClient
from gps_denied_onboard.fdr.logbridge import LOG_PRODUCER_ID, FdrLogHandler, attach_log_bridge, detach_log_bridge


@pytest.fixture
def bridged() -> Iterator[tuple[FakeFdrClient, logging.Logger]]:
    client = FakeFdrClient()
    logger = logging.getLogger("test.logbridge")
    logger.setLevel(logging.DEBUG)
    handler = attach_log_bridge(client, logger)
    yield client, logger
    detach_log_bridge(handler, logger)


def test_only_warn_and_above_are_recorded(bridged: tuple[FakeFdrClient, logging.Logger]) -> None:
    client, logger = bridged
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("gnss %s", "suspect")
    logger.error("vio lost")
    logger.critical("estimator diverged")
    logs = client.drain().records(LOG_PRODUCER_ID, "log")
    assert [(r.payload["level"], r.payload["message"]) for r in logs] == [
        ("WARN", "gnss suspect"),
        ("ERROR", "vio lost"),
        ("FATAL", "estimator diverged"),
    ]
    assert logs[0].payload["component"] == "test.logbridge"
    assert logs[0].payload["function"] == "test_only_warn_and_above_are_recorded"
    assert logs[0].payload["line"] > 0


def test_exception_traceback_is_recorded(bridged: tuple[FakeFdrClient, logging.Logger]) -> None:
    client, logger = bridged
    try:
        raise ValueError("bad covariance")
    except ValueError:
        logger.exception("update failed")
    (log,) = client.drain().records(LOG_PRODUCER_ID, "log")
    assert "ValueError: bad covariance" in log.payload["exc_text"]
    assert "Traceback" in log.payload["exc_text"]


def test_attached_exactly_once(bridged: tuple[FakeFdrClient, logging.Logger]) -> None:
    client, logger = bridged
    again = attach_log_bridge(client, logger)
    assert sum(isinstance(h, FdrLogHandler) for h in logger.handlers) == 1
    assert again in logger.handlers
    logger.warning("once")
    assert len(client.drain().records(LOG_PRODUCER_ID)) == 1


def test_overrun_error_about_the_log_ring_does_not_recurse() -> None:
    client = FakeFdrClient(QueueConfig(queue_size=2))
    handler = attach_log_bridge(client)  # the root logger: the ring's own overrun ERROR comes back here
    try:
        for i in range(50):
            logging.getLogger("test.flood").warning("flood %d", i)
    finally:
        detach_log_bridge(handler)
    flight = client.drain()
    kept = flight.records(LOG_PRODUCER_ID)
    assert len(kept) == 2
    assert flight.dropped[LOG_PRODUCER_ID] == 48
