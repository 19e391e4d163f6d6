"""The package's shape (CONTRIBUTING.md): an acyclic import graph, a core that imports nothing above it, and modules
small enough to read in one sitting. Read from the source with `ast`, so nothing is imported."""

from __future__ import annotations

import ast
import os

import pytest


PACKAGE_DIR = os.path.join(os.path.dirname(__file__), "..", "hf_rmt")
MAX_MODULE_LINES = 400


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[: -len(".py")].split(os.sep)
    if relative[-1] == "__init__":
        relative = relative[:-1]
    return ".".join(relative)


def package_modules() -> dict[str, str]:
    """`{dotted module name: file path}` of every module of hf_rmt."""
    found = {}
    for root, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                found[_module_name(path)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """`{module: hf_rmt modules it imports}`, counting imports inside functions too (they run, later)."""
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                # `from .pkg import name` imports the submodule `pkg.name` when there is one.
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            else:
                continue
            for name in names:
                while name and name not in modules:  # `hf_rmt.a.b.Class` -> the module `hf_rmt.a.b`
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as `[a, b, ..., a]`, or None. A package's own `__init__` importing its submodules is not a
    cycle (Python runs it before them), so edges from a submodule to the package it sits in are left out."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def edges(module: str) -> list[str]:
        return sorted(t for t in graph[module] if not module.startswith(t + "."))

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in edges(module):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


@pytest.mark.xfail(strict=True, reason="modeling_rmt and saving import each other (issue 13): removed by the redesign")
def test_import_graph_is_acyclic():
    assert find_cycle(import_graph()) is None


def test_core_imports_nothing_above_it():
    for module, targets in import_graph().items():
        if module == "hf_rmt.core" or module.startswith("hf_rmt.core."):
            above = sorted(t for t in targets if not (t == "hf_rmt.core" or t.startswith("hf_rmt.core.")))
            assert not above, f"{module} imports {above}: hf_rmt.core must import nothing outside it"


@pytest.mark.xfail(strict=True, reason="cli, model_card, saving, modeling_rmt and others are longer (issue 13)")
def test_no_module_is_over_the_size_limit():
    long = {}
    for module, path in package_modules().items():
        with open(path, encoding="utf-8") as handle:
            lines = sum(1 for _ in handle)
        if lines > MAX_MODULE_LINES:
            long[module] = lines
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "a.c": {"a"}}) is None
