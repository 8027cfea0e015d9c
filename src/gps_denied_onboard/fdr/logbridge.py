"""Forward WARNING and above from Python logging into the recorder, without blocking.

INFO and DEBUG never reach the FDR. A thread-local guard stops a log emitted while
recording a log (for example a ring overrun ERROR about the log ring itself) from
recursing, and ``attach_log_bridge`` adds the handler at most once per logger and client.
"""

from __future__ import annotations

import logging
import threading
import traceback

from gps_denied_onboard.fdr.client import FdrClient, Producer
from gps_denied_onboard.fdr.kinds import Kind

LOG_PRODUCER_ID = "log"
_LEVEL_NAMES = {logging.WARNING: "WARN", logging.ERROR: "ERROR", logging.CRITICAL: "FATAL"}


class FdrLogHandler(logging.Handler):
    """A logging handler that records WARN/ERROR/FATAL as ``log`` records."""

    def __init__(self, client: FdrClient, producer_id: str = LOG_PRODUCER_ID) -> None:
        super().__init__(level=logging.WARNING)
        self.client = client
        self._producer: Producer = client.producer(producer_id)
        self._guard = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        """Record ``record`` unless it is below WARNING or emitted from inside this handler."""
        if record.levelno < logging.WARNING or getattr(self._guard, "active", False):
            return
        self._guard.active = True
        try:
            exc_text = ""
            if record.exc_info and record.exc_info[0] is not None:
                exc_text = "".join(traceback.format_exception(*record.exc_info))
            self._producer.record(
                Kind.LOG.value,
                {
                    "level": _LEVEL_NAMES.get(record.levelno, record.levelname),
                    "component": record.name,
                    "message": record.getMessage(),
                    "exc_text": exc_text,
                    "file": record.pathname,
                    "function": record.funcName,
                    "line": record.lineno,
                },
            )
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            self.handleError(record)
        finally:
            self._guard.active = False


def attach_log_bridge(client: FdrClient, logger: logging.Logger | None = None) -> FdrLogHandler:
    """Attach (once) a bridge from ``logger`` (default: the root logger) to ``client``."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if isinstance(handler, FdrLogHandler) and handler.client is client:
            return handler
    handler = FdrLogHandler(client)
    target.addHandler(handler)
    return handler


def detach_log_bridge(handler: FdrLogHandler, logger: logging.Logger | None = None) -> None:
    """Remove a bridge added by attach_log_bridge."""
    (logger if logger is not None else logging.getLogger()).removeHandler(handler)
