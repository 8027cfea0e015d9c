"""Rendering of doctor results as a terminal table or JSON."""

from __future__ import annotations

import json

from gps_denied_onboard.doctor.checks import CheckResult, Level


def _status(result: CheckResult) -> str:
    if result.ok:
        return "ok"
    return "FAIL" if result.level is Level.REQUIRED else "missing"


def format_table(results: list[CheckResult]) -> str:
    """A fixed-width table: check, level, status, detail."""
    rows = [(r.name, r.level.value, _status(r), r.detail) for r in results]
    widths = [max(len(row[i]) for row in [("check", "level", "status", ""), *rows]) for i in range(3)]
    header = f"{'check':<{widths[0]}}  {'level':<{widths[1]}}  {'status':<{widths[2]}}  detail"
    lines = [header, "-" * len(header)]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def to_json(results: list[CheckResult]) -> str:
    """The results as a JSON document (a list of objects)."""
    return json.dumps(
        [{"name": r.name, "level": r.level.value, "ok": r.ok, "detail": r.detail} for r in results], indent=2
    )
