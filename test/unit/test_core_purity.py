"""Core stays pure: no module outside gps_denied_onboard/ros imports rclpy."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SRC_ROOT

ROS_ONLY_MODULES = ("rclpy",)


def imported_roots(source: str) -> set[str]:
    """Top-level package names a module imports, including importlib.import_module("x")."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def core_modules() -> list[Path]:
    """Every library module outside the ros/ adapters."""
    ros_dir = SRC_ROOT / "ros"
    return [p for p in sorted(SRC_ROOT.rglob("*.py")) if ros_dir not in p.parents]


def test_checker_sees_every_import_form() -> None:
    source = "import rclpy.node\nfrom rclpy import qos\nimport importlib\nimportlib.import_module('rclpy')\n"
    assert imported_roots(source) == {"rclpy", "importlib"}
    assert imported_roots("from . import rclpy") == set()  # a relative name is not the package


def test_core_modules_exist() -> None:
    assert len(core_modules()) >= 5, "the scan found no core modules: the path is wrong"


def test_no_core_module_imports_rclpy() -> None:
    offenders = [
        f"{path.relative_to(SRC_ROOT)} imports {sorted(bad)}"
        for path in core_modules()
        if (bad := imported_roots(path.read_text(encoding="utf-8")) & set(ROS_ONLY_MODULES))
    ]
    assert not offenders, "core modules must not import rclpy:\n" + "\n".join(offenders)
