"""Core stays pure: no module outside gps_denied_onboard/ros imports rclpy."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SRC_ROOT

ROS_ONLY_MODULES = ("rclpy",)


def imported_modules(source: str) -> set[str]:
    """Dotted names a module imports, including importlib.import_module("x") and `from a import b` as a.b."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def imported_roots(source: str) -> set[str]:
    """Top-level package names a module imports."""
    return {name.split(".")[0] for name in imported_modules(source)}


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


def library_modules() -> list[Path]:
    """Every module of the library, adapters included."""
    return sorted(SRC_ROOT.rglob("*.py"))


def test_fakes_are_named_as_fakes_and_never_imported_by_production_code() -> None:
    fakes = [p for p in library_modules() if p.stem.startswith("fake")]
    assert fakes, "the FDR test double (fdr/fake.py) should exist and be named as a fake"
    fake_modules = {"gps_denied_onboard." + ".".join(p.relative_to(SRC_ROOT).with_suffix("").parts) for p in fakes}
    offenders = [
        f"{path.relative_to(SRC_ROOT)} imports {sorted(bad)}"
        for path in library_modules()
        if path not in fakes and (bad := imported_modules(path.read_text(encoding="utf-8")) & fake_modules)
    ]
    assert not offenders, "production code must not import test doubles:\n" + "\n".join(offenders)


def test_fake_checker_sees_from_imports() -> None:
    assert "gps_denied_onboard.fdr.fake" in imported_modules("from gps_denied_onboard.fdr import fake")
    assert "gps_denied_onboard.fdr.fake" in imported_modules("from gps_denied_onboard.fdr.fake import FakeFdrClient")
