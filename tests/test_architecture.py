"""The package's shape (CONTRIBUTING.md): an acyclic import graph, a core that imports nothing above it, and modules
small enough to read in one sitting. The graph is read from the source with `ast` (`hf_rmt.utils.module_graph`)."""

from __future__ import annotations

from hf_rmt.utils.module_graph import find_cycle, import_graph, package_modules


MAX_MODULE_LINES = 400


def test_import_graph_is_acyclic():
    assert find_cycle(import_graph()) is None


def test_core_imports_nothing_above_it():
    for module, targets in import_graph().items():
        if module == "hf_rmt.core" or module.startswith("hf_rmt.core."):
            above = sorted(t for t in targets if not (t == "hf_rmt.core" or t.startswith("hf_rmt.core.")))
            assert not above, f"{module} imports {above}: hf_rmt.core must import nothing outside it"


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

