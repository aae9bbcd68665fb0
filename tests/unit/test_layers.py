"""The package's architecture, checked: layers import only downward, no import cycle, argparse only in the
CLI, and the core free of torch. Every import counts, also those inside functions and under TYPE_CHECKING:
a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "fmops"

# Bottom to top. A package may import its own modules and any package of a lower layer, nothing sideways.
LAYERS = [
    {"core"},
    {"data", "models"},
    {"training", "evaluation", "argo", "steps", "curate"},
    # finetune builds on training's settings; serving's monitor on the evaluation stage
    {"finetune", "serving"},
    {"bench"},
    {"cli"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module of the standard library, third parties and fmops that this file imports."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    """fmops module -> the fmops modules it imports (a `from pkg import name` counts when name is a module)."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        module: {target for target in imported_modules(path) if target in files and target != module}
        for module, path in files.items()
    }


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANK) else None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_package_has_a_layer():
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert packages - RANK.keys() == set(), "a package without a layer: add it to LAYERS"


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_cycle_detection_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_import_only_downward():
    upward = []
    for module, targets in graph().items():
        source = package_of(module)
        for target in targets:
            destination = package_of(target)
            if source and destination and source != destination and RANK[destination] >= RANK[source]:
                upward.append(f"{module} -> {target}")
    assert sorted(upward) == []


@pytest.mark.parametrize(
    "forbidden, allowed_in",
    [
        ("argparse", {"cli"}),
        ("torch", {"training", "finetune", "evaluation", "serving", "steps", "bench", "models"}),
    ],
)
def test_where_heavy_or_cli_modules_may_be_imported(forbidden, allowed_in):
    offenders = sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if package_of(module_name(path)) not in allowed_in
        and any(name == forbidden or name.startswith(f"{forbidden}.") for name in imported_modules(path))
    )
    assert offenders == []
