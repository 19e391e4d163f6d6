"""Remote code (`register_for_auto_class`) loaded from a local folder in a process where hf_rmt cannot be imported.

transformers loads a local folder's remote code by module file, each in a folder named by the hash of that file and
the files it imports: `config.py` (which imports nothing of the folder) and `modeling_rmt.py` land in two module
copies, so the `RMTConfig` that `AutoConfig` returns is not the class the modeling code imported. Every identity check
must hold across such copies. From the Hub (one folder per commit, so one copy) the same loading is tested in
test_hub.py (`test_remote_code_without_hf_rmt`).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
import sys
import textwrap

import torch
from _subprocess import run as run_subprocess
from tiny_models import rmt_config, tiny_backbone
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

import hf_rmt
from hf_rmt.utils.module_graph import closure, import_graph, package_modules
from hf_rmt.utils.remote_code import ENTRY_MODULES


@contextlib.contextmanager
def registered_for_auto_class(*pairs):
    """`cls.register_for_auto_class(auto_class)` for each `(cls, auto_class)`, undone afterwards (a class attribute
    that every later save in this process would see)."""
    before = [cls.__dict__.get("_auto_class") for cls, _ in pairs]
    for cls, auto_class in pairs:
        cls.register_for_auto_class(auto_class)
    try:
        yield
    finally:
        for (cls, _), value in zip(pairs, before):
            if value is None:
                del cls._auto_class
            else:
                cls._auto_class = value


def wrap(arch, task, folder):
    """A tiny backbone saved to `folder/backbone` and loaded from there (so adapters record a path that exists),
    wrapped with memory; parameters moved off their initial values so a reload that re-initialised would show."""
    tiny_backbone(arch, task).save_pretrained(folder / "backbone")
    auto = AutoModelForSequenceClassification if task == "sequence-classification" else AutoModelForCausalLM
    model = hf_rmt.get_rmt_model(auto.from_pretrained(folder / "backbone"), rmt_config(arch))
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model.eval()


def test_remote_code_from_a_local_folder_without_hf_rmt(tmp_path):
    """Full and adapter-only checkpoints of a classifier and a causal LM, saved with `register_for_auto_class`, load
    from their folders with `trust_remote_code=True` in a process without hf_rmt, with the same logits (and, for the
    causal LM, the same generated tokens)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 99, (2, 21), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, :5] = 0
    expected = {}
    pairs = [
        (hf_rmt.RMTConfig, "AutoConfig"),
        (hf_rmt.RMTForSequenceClassification, "AutoModelForSequenceClassification"),
        (hf_rmt.RMTForCausalLM, "AutoModelForCausalLM"),
    ]
    with registered_for_auto_class(*pairs):
        for arch, task, auto in (
            ("bert", "sequence-classification", "AutoModelForSequenceClassification"),
            ("gpt2", "causal-lm", "AutoModelForCausalLM"),
        ):
            model = wrap(arch, task, tmp_path / arch)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask).logits
            generated = model.generate(ids, attention_mask=mask, max_new_tokens=3) if arch == "gpt2" else None
            for kind, adapter_only in (("adapter", True), ("full", False)):
                folder = tmp_path / arch / kind
                model.save_pretrained(folder, adapter_only=adapter_only)
                files = set(os.listdir(folder))
                assert {"config.py", "modeling_rmt.py"} <= files
                assert ("rmt_adapter.safetensors" in files) == adapter_only
                expected[str(folder)] = (auto, logits, generated)
    torch.save({"ids": ids, "mask": mask, "expected": expected}, tmp_path / "expected.pt")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["hf_rmt"] = None  # as if hf_rmt were not installed
        import torch
        import transformers
        data = torch.load({str(tmp_path / "expected.pt")!r})
        for folder, (auto, logits, generated) in data["expected"].items():
            model = getattr(transformers, auto).from_pretrained(folder, trust_remote_code=True).eval()
            assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
            with torch.no_grad():
                out = model(input_ids=data["ids"], attention_mask=data["mask"]).logits
            assert torch.equal(out, logits), folder
            if generated is not None:
                again = model.generate(data["ids"], attention_mask=data["mask"], max_new_tokens=3)
                assert torch.equal(again, generated), folder
            print("loaded", folder)
        print("remote code OK")
        """
    )
    # hf_rmt off the path (the subprocess starts in tmp_path, not the repository), a fresh module cache for the
    # remote code, offline: everything comes from the folders.
    env = {
        **os.environ,
        "PYTHONPATH": "",
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "HF_HUB_OFFLINE": "1",
    }
    result = run_subprocess([sys.executable, "-c", script], env=env, cwd=str(tmp_path))
    assert "remote code OK" in result.stdout, result.stderr[-3000:]
    assert result.stdout.count("loaded") == 4


# ------------------------------------------------------------------------------ the kind: identity checks

# `isinstance` checks against an hf_rmt class that hold by construction, with the reason: both sides always come
# from the same module copy.
SAME_COPY = {
    # The model creates its memory module from its own copy of `RMTMemory`, then initialises it.
    ("hf_rmt.modeling.base", "RMTMemory"),
    ("hf_rmt.modeling.base", "AssociativeMemory"),  # the same, for ARMT's memory module
}


def identity_checks_against_package_classes(module: str, path: str) -> list[tuple[int, str]]:
    """`(line, class name)` of every `isinstance`/`issubclass` in `module` whose class is a name imported from hf_rmt
    (relative import), or `type(x) is Name` with such a name."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "issubclass"):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            found += [(node.lineno, c.id) for c in classes if isinstance(c, ast.Name) and c.id in imported]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            found += [(node.lineno, c.id) for c in node.comparators if isinstance(c, ast.Name) and c.id in imported]
    return found


def test_remote_code_makes_no_identity_check_against_its_own_classes():
    """The modules exported as remote code never ask `isinstance(x, <hf_rmt class>)` of an object that another copy
    of the code may have made (a config, a model): they check what the object is (`model_type`,
    `hf_rmt.utils.validation.is_rmt_config`) instead."""
    modules = package_modules()
    offending = [
        f"{module}:{line} checks against {name}"
        for module in closure(import_graph(), ENTRY_MODULES)
        for line, name in identity_checks_against_package_classes(module, modules[module])
        if (module, name) not in SAME_COPY
    ]
    assert not offending, "\n".join(offending)


def test_the_identity_check_finder_finds_them(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "from .config import RMTConfig\nfrom torch import nn\n"
        "def f(x):\n    return isinstance(x, (nn.Module, RMTConfig)) or type(x) is RMTConfig or isinstance(x, nn.Module)\n"
    )
    assert identity_checks_against_package_classes("hf_rmt.example", str(source)) == [
        (4, "RMTConfig"),
        (4, "RMTConfig"),
    ]


def test_an_rmt_config_of_another_module_copy_is_accepted(tmp_path, monkeypatch):
    """The loader and `get_rmt_model` take a config of another copy of the class (what remote code hands them)."""
    spec = importlib.util.spec_from_file_location("copied_rmt_config", hf_rmt.config.__file__)
    copied = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "copied_rmt_config", copied)  # dataclasses look their module up
    spec.loader.exec_module(copied)
    assert copied.RMTConfig is not hf_rmt.RMTConfig
    backbone = tiny_backbone("bert", "sequence-classification")
    config = copied.RMTConfig(num_memory_tokens=4, segment_size=8, cls_token_id=1, sep_token_id=2)
    model = hf_rmt.get_rmt_model(backbone, config)
    model.save_pretrained(tmp_path / "model", adapter_only=False)
    loaded_config = copied.RMTConfig.from_pretrained(tmp_path / "model")
    loaded = hf_rmt.RMTForSequenceClassification.from_pretrained(tmp_path / "model", config=loaded_config)
    ids = torch.randint(5, 99, (1, 20))
    with torch.no_grad():
        assert torch.equal(loaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)
