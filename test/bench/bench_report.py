"""What the benchmarks print and record the same way: aligned tables, nearest-rank percentiles, the machine."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print an aligned table: first column left, the others right."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def package_version(name: str) -> str | None:
    """The installed distribution's version, None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info(packages: Sequence[str]) -> dict[str, Any]:
    """CPU, Python and the versions of ``packages``."""
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in packages},
    }


@contextlib.contextmanager
def quiet_library_logs() -> Iterator[None]:
    """Keep the library's log lines (trust transitions, resets, restarts) out of the tables."""
    logger = logging.getLogger("gps_denied_onboard")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def document_header(schema: str, packages: Sequence[str], parameters: dict[str, Any]) -> dict[str, Any]:
    """The opening of every benchmark's JSON: schema, when, on what, with which parameters."""
    return {
        "schema": schema,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(packages),
        "parameters": parameters,
    }
