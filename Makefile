# The two set-up commands of the README. Each creates .venv when missing,
# installs what it needs once (a stamp file tracks pyproject.toml), then runs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EDGELSTM := $(VENV)/bin/edgelstm
STAMP := $(VENV)/.edgelstm-dev-installed
# pip's notes about this machine's local package mirrors are noise, not news.
QUIET_PIP := grep -v -e '^WARNING: Location' -e '^$$' || true
DEMO := out/demo
# The demo model: the classic architecture, sized for the built-in corpus's short reviews
# (they fit in 64 tokens; 4,000 words hold its everyday vocabulary and leave rare names out,
# so the model learns what an unknown word means). About 40 s of training here.
DEMO_TRAIN := --synthetic-size 12000 --vocab-size 4000 --maxlen 64 --embedding-dim 32 --lstm-units 32 \
	--epochs 6 --learning-rate 5e-3
# Everyday English reviews with their labels, written for the tests (tests/test_everyday_reviews.py).
EVERYDAY := tests/data/everyday_reviews.jsonl

RAY_STAMP := $(VENV)/.edgelstm-ray-installed
# The web page's npm packages (pinned in web/package-lock.json), installed into web/node_modules.
NPM_STAMP := web/node_modules/.edgelstm-npm-installed

.PHONY: demo test test-pi test-ray install clean browser

install: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing edgelstm[dev] into $(VENV) (first time: about 2 minutes)"
	@$(PY) -m pip install -q -e '.[dev]' 2>&1 | $(QUIET_PIP)
	@# tf_keras is the only route to TFLite's fused LSTM (and so to full int8); its
	@# package metadata would pull the full tensorflow wheel over tensorflow-cpu.
	@$(PY) -m pip install -q --no-deps 'tf-keras==2.21.0' 2>&1 | $(QUIET_PIP)
	@touch $(STAMP)

# Without npm (or the registry) the page cannot be built: the browser tests then skip and say so.
$(NPM_STAMP): web/package.json web/package-lock.json
	@if command -v npm >/dev/null; then \
	  echo "installing the web page's npm packages into web/node_modules (pinned; about 30 s)"; \
	  npm ci --prefix web --no-audit --no-fund --loglevel=error && touch $@ \
	    || echo "npm ci failed: the browser tests will skip"; \
	else echo "npm not found: the browser tests will skip (install Node.js and npm)"; fi

# Debian's Chromium for the browser tests and bench row (root and apt-get; CI runs it).
browser:
	@if command -v chromium >/dev/null; then echo "chromium: $$(chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests (1-3 minutes)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: the browser tests will skip"; \
	else echo "no chromium, and apt-get needs root: the browser tests will skip (Debian: apt-get install chromium)"; fi

# The main job end to end on the built-in corpus: train, evaluate, export all six
# variants, verify them on every installed backend, then benchmark them.
demo: $(STAMP)
	$(EDGELSTM) train --data synthetic $(DEMO_TRAIN) --out $(DEMO)/run --force --quiet
	$(EDGELSTM) evaluate $(DEMO)/run --data synthetic
	$(EDGELSTM) evaluate $(DEMO)/run --data $(EVERYDAY)
	$(EDGELSTM) export $(DEMO)/run --out $(DEMO)/bundle --force
	$(EDGELSTM) verify $(DEMO)/bundle
	$(EDGELSTM) predict $(DEMO)/bundle "great movie" "terrible movie" "not bad at all" "not good" \
		"The cast was dull but the final act was superb" "What a waste of time." "I enjoyed every minute of it."
	$(EDGELSTM) bench $(DEMO)/bundle --keras-model $(DEMO)/run/model.keras --out $(DEMO)/bench --no-progress
	@echo "demo done: run in $(DEMO)/run, bundle in $(DEMO)/bundle, benchmark in $(DEMO)/bench/results.md"
	@echo "next, try:"
	@echo "  $(EDGELSTM) predict $(DEMO)/bundle \"your own review\" --json"
	@echo "  $(EDGELSTM) predict $(DEMO)/bundle --input $(EVERYDAY) --json"
	@echo "  $(EDGELSTM) bench $(DEMO)/bundle --variants onnx-fp32,tflite-int8"
	@echo "  $(EDGELSTM) train --data YOUR.csv --out out/mine   (then export, verify, predict as above)"

# The linter first (seconds), then the suite; ruff's rules are in pyproject.toml.
test: $(STAMP) $(NPM_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

# `predict --engine ray`: Ray Data is about 500 MB and 1.5-3 minutes of install, so it is
# installed here rather than by `make install`; `make test` skips the Ray tests without it.
# Ray Data brings pyarrow, so the Parquet input tests run here too.
test-ray: $(RAY_STAMP)
	$(PY) -m pytest -m "ray or parquet"

$(RAY_STAMP): $(STAMP)
	@echo "installing edgelstm[ray] into $(VENV) (about 500 MB)"
	@$(PY) -m pip install -q -e '.[dev,ray]' 2>&1 | $(QUIET_PIP)
	@touch $(RAY_STAMP)

# The runtime on a Raspberry Pi's userland (Debian bookworm arm64, Python 3.11) under qemu
# user-mode emulation: needs root; about 3 minutes cold, caches in .pi-root/ and .cache/pi/.
# Writes the compatibility matrix to out/pi/compatibility.md.
test-pi: $(STAMP)
	$(PY) scripts/pi/pi_test.py

clean:
	rm -rf out .pytest_cache
