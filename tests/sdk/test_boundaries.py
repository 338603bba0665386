"""The SDK and the reference agencies use the contract (`schemas`), never the hub."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["producers", "consumers", "agencies"])
def test_no_module_of_the_package_imports_the_hub(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name == "hub" or name.startswith("hub.")
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_producers_do_not_depend_on_the_consumers() -> None:
    for path in (ROOT / "producers").rglob("*.py"):
        assert not any(name.startswith("consumers") for name in imported_modules(path)), path
