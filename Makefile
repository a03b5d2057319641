# Two commands for people: `make run` opens the workbench, `make test` runs the tests.
# Both create .venv and install the pinned requirements first (once; again when they change).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements-installed

.PHONY: run test setup setup-cpu demo demo-data bench lint clean-cache screenshots gpu-check gpu-pack

run: $(STAMP)
	$(PY) workbench.py

test: $(STAMP)
	$(PY) -m pytest

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# PyTorch without the CUDA libraries (3+ GB less), for machines with no NVIDIA GPU: the
# pinned torch trio from PyTorch's CPU-only index first, then the rest as usual.
setup-cpu:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check \
		--index-url https://download.pytorch.org/whl/cpu \
		$$(grep -E '^torch(vision|audio)?==' requirements.txt)
	$(MAKE) setup

demo: $(STAMP)
	$(PY) workbench.py demo

demo-data: $(STAMP)
	$(PY) workbench.py make-demo-data

bench: $(STAMP)
	$(PY) bench/data_loading.py
	$(PY) bench/train_throughput.py
	$(PY) bench/inference_latency.py
	$(PY) bench/gui_responsiveness.py
	$(PY) bench/onnx_parity.py

lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

clean-cache:
	rm -rf data/cache

screenshots: $(STAMP)
	$(PY) -m emotion_gui.screenshots

# The CUDA path in one command, on a GPU machine (bench/gpu_check.py; README "Checking the
# CUDA path"): the project's .venv where there is one, else the machine's python3 (GPU
# machines have no network to make a .venv). BUDGET is in seconds.
GPU_PY := $(if $(wildcard $(PY)),$(PY),python3)
BUDGET ?= 540

gpu-check:
	$(GPU_PY) bench/gpu_check.py --budget $(BUDGET)

# What that machine lacks, into the ignored .gpu-pack/ (wheels, a FER-2013 subset); needs
# network and ../shared/data.
gpu-pack: $(STAMP)
	$(PY) bench/gpu_pack.py
