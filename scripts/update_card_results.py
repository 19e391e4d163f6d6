"""Merges new `hf-rmt eval` results into a shipped card under model_cards/: the lengths measured again replace the
card's, the others stay; then `eval_by_length.json`, the plot and the README's generated sections are written again
(text written by hand outside the hf_rmt markers is kept).

    python scripts/update_card_results.py model_cards/rmt-minilm-l6-detect-memorize-lora \
        bench/results/session13_gpu/call1_dm_2m/w/eval/shipped_500/eval_by_length.json \
        --repo-id hf-rmt/rmt-minilm-l6-detect-memorize-lora
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import hf_rmt
from hf_rmt.evaluation import LengthEvalResult
from hf_rmt.recipe import EVAL_JSON, EVAL_PLOT
from hf_rmt.training.run_record import TRAINING_INFO_FILE, card_training_info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", help="the card's folder (an hf_rmt checkpoint with eval_by_length.json)")
    parser.add_argument("results", nargs="+", help="eval_by_length.json files of the same task")
    parser.add_argument("--repo-id", required=True, help="the Hub repo the card names in its snippet")
    args = parser.parse_args(argv)

    card = LengthEvalResult.load_json(os.path.join(args.card, EVAL_JSON))
    for path in args.results:
        try:  # the lengths measured again replace the card's; another task, split or seed is refused
            merged = LengthEvalResult.load_json(path).merged_with(card)
        except ValueError as error:
            raise SystemExit(f"{path} cannot join the results of {args.card}: {error}") from None
        card = dataclasses.replace(merged, model=card.model)  # the card's name, not the folder evaluated
    card.save_json(os.path.join(args.card, EVAL_JSON))
    card.plot(os.path.join(args.card, EVAL_PLOT))
    with open(os.path.join(args.card, TRAINING_INFO_FILE), encoding="utf-8") as handle:
        info = card_training_info(json.load(handle))
    hf_rmt.write_model_card(args.card, training_info=info, eval_results=card, repo_id=args.repo_id)
    print(card.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
