# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Remote code: the package's modules written flat into a checkpoint, for `trust_remote_code=True` without hf_rmt.

transformers' remote code is one flat folder: `custom_object_save` copies the class's file and the files of its
relative imports *by base name*, and the loader resolves `from .name import ...` in that folder only. hf_rmt is a
package of subpackages, so a model class registered with `register_for_auto_class` is exported here instead: every
module the entry points need, named by its path (`hf_rmt/core/segments.py` -> `core_segments.py`), with its relative
imports rewritten to those names. The entry points are the modules that checkpoints' `auto_map` has always named
(`modeling_rmt.<class>`, `config.RMTConfig`), so config.json reads as before the package was split.
"""

from __future__ import annotations

import ast
import os
import re
from typing import Any

from transformers.dynamic_module_utils import custom_object_save

from .module_graph import PACKAGE, closure, import_graph, package_modules, resolve_relative


# `auto_map` entry modules: the model classes (modeling_rmt) and the checkpoint functions (saving) under the names
# they had when hf_rmt was a flat package, and the config.
ENTRY_MODULES = (f"{PACKAGE}.modeling_rmt", f"{PACKAGE}.saving", f"{PACKAGE}.config")
_FROM = re.compile(r"from\s+\.+[\w.]*\s+import")


def flat_name(module: str) -> str:
    """The file name (without `.py`) of `module` in a remote-code folder."""
    return "_".join(module.split(".")[1:])


def flat_source(module: str, path: str, modules: dict[str, str]) -> str:
    """The source of `module` with its relative imports pointing at the flat names."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            target = resolve_relative(module, path.endswith("__init__.py"), node)
            if target not in modules:
                raise ValueError(f"{module} imports {target!r}, which is not a module of {PACKAGE}.")
            line = lines[node.lineno - 1]
            start = node.col_offset
            lines[node.lineno - 1] = line[:start] + _FROM.sub(f"from .{flat_name(target)} import", line[start:], 1)
    return "".join(lines)


def save_remote_code(model: Any, folder: str | os.PathLike) -> list[str]:
    """
    Writes the code of `model`'s class into `folder` and names it in `model.config.auto_map`, as transformers'
    `custom_object_save` does for a single-file model. A model whose class is already remote code (loaded with
    `trust_remote_code=True`, so flat) is saved by transformers itself.

    Returns:
        The paths written.
    """
    if not type(model).__module__.startswith(f"{PACKAGE}."):
        return custom_object_save(model, folder, config=model.config)
    config = model.config
    auto_map = dict(getattr(config, "auto_map", None) or {})
    auto_map[model._auto_class] = f"modeling_rmt.{type(model).__name__}"
    config.auto_map = auto_map
    modules = package_modules()
    written = []
    for module in closure(import_graph(), ENTRY_MODULES):
        path = os.path.join(folder, f"{flat_name(module)}.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(flat_source(module, modules[module], modules))
        written.append(path)
    return written


__all__ = ["ENTRY_MODULES", "flat_name", "flat_source", "save_remote_code"]
