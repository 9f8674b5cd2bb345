# Two commands do everything on a fresh Linux x86_64 machine with Python 3.11:
#   make demo   runs the example DAG against an embedded Milvus
#   make test   runs the test matrix (noxfile.py; every session starts its own Milvus)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# nox and uv, which build the matrix's virtualenvs
NOX_VENV ?= .nox-venv
NOX := $(NOX_VENV)/bin/nox

.PHONY: demo test venv browser bench bench-dag chaos

# The UI tests drive Debian's Chromium; Playwright never downloads a browser here.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/airflow: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

venv: $(BIN)/airflow

$(NOX):
	$(PYTHON) -m venv $(NOX_VENV)
	$(NOX_VENV)/bin/pip install --quiet "nox>=2024.10" "uv>=0.5"

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)

bench: $(BIN)/airflow
	$(BIN)/python -m benchmarks.triggerer_scale $(BENCH_ARGS)

bench-dag: $(BIN)/airflow
	$(BIN)/python -m benchmarks.dag_waits $(BENCH_ARGS)

# The fault campaign (benchmarks/chaos.py): about 15 minutes, 100+ faults; CHAOS_ARGS="--seed 7".
chaos: $(BIN)/airflow
	$(BIN)/python -m benchmarks.chaos $(CHAOS_ARGS)

demo: $(BIN)/airflow
	$(BIN)/python -m demo $(DEMO_ARGS)

# Every session of the matrix: the end-to-end tests on Airflow 3.3 alone (some time a flush against
# Milvus's own checkpoints, or a triggerer's heartbeat, which a loaded machine makes them miss), then
# the rest side by side (their waits mostly sleep; each starts its own Milvus), each session's output
# printed whole when it ends.
# `make test NOX_ARGS="-s full"` runs the sessions named instead (`$(NOX) -l` lists them).
COMPAT_LEGS := airflow2.11-pymilvus2.5 airflow3.1-pymilvus2.6 airflow3.2-pymilvus3.0
SIDE_BY_SIDE := full form coinstall next own_stack $(addprefix compat-,$(COMPAT_LEGS))

ifdef NOX_ARGS
test: $(NOX) $(CHROMIUM)
	$(NOX) $(NOX_ARGS)
else
test: $(NOX) $(CHROMIUM)
	e2e=0; $(NOX) -s e2e || e2e=$$?; \
	$(MAKE) --no-print-directory -k -j$(words $(SIDE_BY_SIDE)) --output-sync=target $(SIDE_BY_SIDE) \
	&& exit $$e2e
endif

.PHONY: full form coinstall next own_stack
full form coinstall next own_stack: $(NOX)
	$(NOX) -s $@

compat-%: $(NOX)
	$(NOX) -s "compat($*)"
