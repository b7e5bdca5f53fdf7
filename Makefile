# make convert MODEL=lenet4   convert one model; artifacts in build/<model>/ (or OUT=...)
# make test                   lint + the test suite (what .ci/run calls)
# The first target that needs Python creates .venv from the pinned requirements.lock.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MODEL ?= lenet4
# build/<name>: a registry name as is, a file path by its stem, a directory (a Keras 2
# SavedModel) by its name (same rule as the CLI)
OUT ?= build/$(basename $(notdir $(patsubst %/,%,$(MODEL))))

.PHONY: convert export passes torch check bench finetune-demo zoo fuzz keras2-files test test-slow lint lock clean report-screenshot
# Stages run one after the other, even under make -j.
.NOTPARALLEL:

# A new .venv takes about 8 GB (torch's CUDA build alone 5.5 GB), and pip unpacks wheels in
# TMPDIR: refuse to start without room, rather than fail half-way with a truncated download.
VENV_MIN_FREE_GB ?= 10
# A registry download that breaks off is retried whole, after INSTALL_RETRY_WAIT seconds.
INSTALL_TRIES ?= 3
INSTALL_RETRY_WAIT ?= 30

$(VENV)/.installed: pyproject.toml requirements.lock requirements-hub.lock
	@test -d $(VENV) || for dir in $(dir $(abspath $(VENV))) "$${TMPDIR:-/tmp}"; do \
	  free_kb=$$(df -Pk "$$dir" | awk 'NR == 2 {print $$4}'); \
	  if [ "$$free_kb" -lt $$(( $(VENV_MIN_FREE_GB) * 1024 * 1024 )) ]; then \
	    echo "error: $$dir has $$(( free_kb / 1024 )) MB free; creating $(VENV) needs" \
	      "$(VENV_MIN_FREE_GB) GB. Free some space (or set VENV_MIN_FREE_GB)." >&2; \
	    exit 1; \
	  fi; \
	done
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	@for try in $$(seq $(INSTALL_TRIES)); do \
	  echo "$(PY) -m pip install --quiet -r requirements.lock   # try $$try of $(INSTALL_TRIES)"; \
	  $(PY) -m pip install --quiet -r requirements.lock && break; \
	  if [ $$try -eq $(INSTALL_TRIES) ]; then \
	    echo "error: pip could not install requirements.lock in $(INSTALL_TRIES) tries" >&2; \
	    exit 1; \
	  fi; \
	  echo "pip install failed; trying again in $(INSTALL_RETRY_WAIT) s" >&2; \
	  sleep $(INSTALL_RETRY_WAIT); \
	done
	$(PY) -m pip install --quiet --no-deps -r requirements-hub.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Each stage is its own process (TensorFlow and torchvision cannot share one): the four
# targets below, in order. `python -m pipeline convert` runs them so, starting each stage's
# process ahead of its turn so that its imports overlap the stage before (pipeline/convert.py).
convert: $(VENV)/.installed
	$(PY) -m pipeline convert $(MODEL) $(OUT)$(if $(EXPORT_FLAGS), $(EXPORT_FLAGS))$(if $(PASSES_FLAGS), $(PASSES_FLAGS))

# EXPORT_FLAGS="--custom-objects my_layers.py" (the model's own layer classes) or
# "--unsafe-deserialization" (run a Lambda's stored Python code): for a user's file.
export: $(VENV)/.installed
	$(PY) -m pipeline export $(MODEL) $(OUT)$(if $(EXPORT_FLAGS), $(EXPORT_FLAGS))

# PASSES_FLAGS="--check-every-pass": check the graph against Keras after every pass (slower;
# by default once after the last, and pass by pass only to name the pass behind a failure).
passes: $(VENV)/.installed
	$(PY) -m pipeline passes $(OUT)/stage1.onnx $(OUT)/stage2.onnx$(if $(PASSES_FLAGS), $(PASSES_FLAGS))

torch: $(VENV)/.installed
	$(PY) -m pipeline torch $(OUT)/stage2.onnx $(OUT)

check: $(VENV)/.installed
	$(PY) -m pipeline check $(OUT)

# Inference speed of the converted model (converts it first if needed).
bench: $(VENV)/.installed
	test -f $(OUT)/model.py || $(MAKE) convert MODEL=$(MODEL) OUT=$(OUT)
	$(PY) -m pipeline bench $(OUT) --model $(MODEL)

# Convert the whole zoo (slow: tens of minutes) and write docs/zoo.md; ZOO="a b" for some,
# JOBS=N conversions at once (default 1: the seconds in the table are then uncontended).
zoo: $(VENV)/.installed
	$(PY) -m pipeline zoo $(ZOO) --jobs $(if $(filter command line,$(origin JOBS)),$(JOBS),1)

# Fine-tune the converted LeNet4 for an epoch in PyTorch (converts it first if needed).
finetune-demo: $(VENV)/.installed
	test -f build/lenet4/model.py || $(MAKE) convert MODEL=lenet4 OUT=build/lenet4
	$(PY) -m pipeline.torch_stage.finetune_demo build/lenet4

# Random Keras models through every stage (models/fuzz.py): N of them from seed SEED,
# build/fuzz/fuzz.json and a shrunk reproducer spec per bug (about 15 s a model, JOBS at once).
N ?= 50
SEED ?= 0
JOBS ?= 2
fuzz: $(VENV)/.installed
	$(PY) -m pipeline fuzz --count $(N) --seed $(SEED) --jobs $(JOBS)

# Legacy Keras 2 files (tf_keras) of a trained LeNet4, .h5 and SavedModel, to convert:
#   make keras2-files && make convert MODEL=build/keras2/lenet4_keras2.h5
keras2-files: $(VENV)/.installed
	$(PY) -m models.keras2_lenet4 build/keras2

lint: $(VENV)/.installed
	$(PY) -m ruff check pipeline models tests
	$(PY) -m ruff format --check pipeline models tests

# TensorFlow tests and torch tests run in separate pytest processes.
test: lint
	$(PY) -m pytest tests/onnx
	$(PY) -m pytest tests/tf
	$(PY) -m pytest tests/torch
	$(PY) -m pytest tests/e2e

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow tests

lock: $(VENV)/.installed
	$(PY) -m pip freeze --exclude-editable | sed '1i # Full pin set for .venv (pip freeze of a working install). Regenerate with `make lock`.' > requirements.lock

clean:
	rm -rf build

# The report page of LeNet4 as headless Chromium shows it, for the README (docs/).
report-screenshot: $(VENV)/.installed
	REPORT_SCREENSHOT=docs/report-lenet4.png $(PY) -m pytest -q tests/e2e/test_report_page.py -k renders
