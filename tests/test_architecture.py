"""The package's shape (CONTRIBUTING.md): an acyclic import graph, a core that imports nothing above it, and modules
small enough to read in one sitting. The graph is read from the source with `ast` (`hf_rmt.utils.module_graph`)."""

from __future__ import annotations

import os

from hf_rmt.utils.module_graph import PACKAGE_DIR, find_cycle, import_graph, package_modules


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


# The layers of CONTRIBUTING.md, bottom first: a module may import its own layer and the layers below it. The modules
# at the top of the package that only re-export names from their new places sit with what they re-export.
LAYERS = [
    ("hf_rmt.core",),
    ("hf_rmt.config", "hf_rmt.mapping", "hf_rmt.utils"),
    ("hf_rmt.checkpoint",),
    ("hf_rmt.hub",),
    ("hf_rmt.modeling", "hf_rmt.modeling_rmt", "hf_rmt.peft_utils"),
    ("hf_rmt.mapping_func", "hf_rmt.saving", "hf_rmt.model_card", "hf_rmt.backbone", "hf_rmt.fast_path"),
    ("hf_rmt.memory", "hf_rmt.outputs", "hf_rmt.layout", "hf_rmt.segments", "hf_rmt.recompute", "hf_rmt.tasks"),
    ("hf_rmt.training", "hf_rmt.evaluation", "hf_rmt.eval_results", "hf_rmt"),
    ("hf_rmt.recipe",),
    ("hf_rmt.cli", "hf_rmt.cli_parser", "hf_rmt.cli_checks"),
]


def layer_of(module: str) -> int:
    """The layer of `module`: that of the longest prefix listed in `LAYERS`."""
    best, found = -1, None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    assert found is not None, f"{module} is in no layer: add it to LAYERS (and to CONTRIBUTING.md's picture)"
    return found


def test_modules_import_only_their_layer_and_the_layers_below():
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module) and not module.startswith(target + ".")
    ]
    assert not upward, "\n".join(upward)


def test_every_package_folder_has_an_init():
    """setup.cfg's `packages = find:` skips folders without `__init__.py`, so a wheel would leave them out (an editable
    install hides that). `metrics/` holds `evaluate` metric scripts, loaded by path, not packages."""
    missing = [
        os.path.relpath(root, PACKAGE_DIR)
        for root, _, files in os.walk(PACKAGE_DIR)
        if any(name.endswith(".py") for name in files)
        and "__init__.py" not in files
        and not os.path.relpath(root, PACKAGE_DIR).startswith("metrics")
    ]
    assert not missing, f"folders of hf_rmt without __init__.py: {missing}"
