import json, sys, time
import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer
import hf_rmt
from hf_rmt import RMTConfig, get_rmt_model
from hf_rmt.evaluation import evaluate_by_length
path, lengths, out, n = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], sys.argv[3], int(sys.argv[4])
cfg = RMTConfig.from_pretrained(path)
tok = AutoTokenizer.from_pretrained(path)
info = json.load(open(path + "/hf_rmt_training.json"))
bb = AutoModelForSequenceClassification.from_pretrained("/tmp/minilm", num_labels=6)
m = get_rmt_model(bb, RMTConfig(num_memory_tokens=cfg.num_memory_tokens, segment_size=cfg.segment_size), tokenizer=tok)
m = PeftModel.from_pretrained(m, path).merge_and_unload().cuda()
t = time.perf_counter()
r = evaluate_by_length(m, tok, info["task"], lengths, num_samples=n, batch_size=100, progress=False, trained_length=info["trained_length"])
print(r.summary(), f"\nwall {time.perf_counter() - t:.1f} s", flush=True)
r.save_json(out)
