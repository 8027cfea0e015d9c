"""Environment report: is this machine able to run the suite, and what is degraded."""

from gps_denied_onboard.doctor.checks import CheckResult, Level, failed_required, run_checks
from gps_denied_onboard.doctor.report import format_table, to_json

__all__ = ["CheckResult", "Level", "failed_required", "format_table", "run_checks", "to_json"]
