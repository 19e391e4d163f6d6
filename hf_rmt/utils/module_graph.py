# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""hf_rmt's modules and the imports between them, read from the source with `ast` (nothing is imported).

Used to export remote code (`remote_code.py`: the modules a model class needs) and by tests/test_architecture.py (the
graph must be acyclic, and `hf_rmt.core` must import nothing outside it).
"""

from __future__ import annotations

import ast
import os


PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.basename(PACKAGE_DIR)


def package_modules() -> dict[str, str]:
    """`{dotted module name: file path}` of every module of the package."""
    found = {}
    for root, _, files in os.walk(PACKAGE_DIR):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                parts = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[: -len(".py")].split(os.sep)
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def resolve_relative(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` statement of `module` reads from."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(module: str, path: str, modules: dict[str, str]) -> set[str]:
    """The package's modules that `module` imports, inside functions too (they run, later)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve_relative(module, path.endswith("__init__.py"), node)
            # `from .pkg import name` imports the submodule `pkg.name` when there is one.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # `hf_rmt.a.b.Class` -> the module `hf_rmt.a.b`
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def import_graph() -> dict[str, set[str]]:
    """`{module: the package's modules it imports}`."""
    modules = package_modules()
    return {module: imported_modules(module, path, modules) for module, path in modules.items()}


def closure(graph: dict[str, set[str]], roots: tuple[str, ...]) -> list[str]:
    """`roots` and every module they import, directly or not, sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return sorted(seen)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as `[a, b, ..., a]`, or None. A submodule importing the package it sits in is not counted:
    Python has run the package's `__init__` before the submodule."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(t for t in graph[module] if not module.startswith(t + ".")):
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


__all__ = ["closure", "find_cycle", "import_graph", "imported_modules", "package_modules", "resolve_relative"]
