# overdue-relief: `make help` lists the targets. Scheduled runs use these too.
# Extras (pyproject.toml): core = the library and scheduled report runs; [lab] JupyterLab
# and live tables; [dask] the distributed engine; [sql] SQL sources in import specs; [dev]
# tests, lint, hooks (and every other extra). requirements.lock pins core + [dask] for
# scheduled hosts (`make lock` refreshes it; docs/operations.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= data/synthetic
LOANS  ?= 20000
SEED   ?= 1
OUT    ?= reports
# the Python the lock is resolved for: the scheduled hosts' (and CI's) version
LOCK_PYTHON ?= 3.11.7

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo "extras: pip install 'overdue-relief'        core: library + scheduled report runs"
	@echo "        pip install 'overdue-relief[lab]'   + JupyterLab, live tables"
	@echo "        pip install 'overdue-relief[dask]'  + the Dask engine (client and workers)"
	@echo "        pip install 'overdue-relief[sql]'   + SQL sources in import specs"
	@echo "        pip install 'overdue-relief[dev]'   + tests, lint, hooks and all the above (make venv)"
	@echo "lock:   pip install -r requirements.lock && pip install --no-deps overdue_relief-*.whl"
	@echo "        (scheduled hosts; docs/operations.md)"

$(STAMP): pyproject.toml
	@# A CJK font for Chinese figures, where this machine lets us install one (else English labels).
	@fc-list 2>/dev/null | grep -qiE 'wenquanyi|noto sans cjk' || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null 2>&1; } || true
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name overdue-relief --display-name "overdue-relief" >/dev/null
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the package with its dependencies

$(DATA)/loans.parquet: | $(STAMP)
	$(PY) -m analysis synth --loans $(LOANS) --seed $(SEED) --out $(DATA)

synth: $(STAMP) ## (re)generate the synthetic book into $(DATA)
	$(PY) -m analysis synth --loans $(LOANS) --seed $(SEED) --out $(DATA)

demo: $(STAMP) $(DATA)/loans.parquet ## generate the synthetic book and publish the whole report for it
	$(PY) -m analysis validate --data $(DATA)
	$(PY) -m analysis kpis --data $(DATA)
	$(PY) -m analysis refresh --data $(DATA) --out $(OUT)
	@echo "open $(OUT)/index.html"

report: $(STAMP) ## publish the report for AS_OF (YYYY-MM) from $(DATA) into $(OUT)
	$(PY) -m analysis report --data $(DATA) --as-of $(AS_OF) --out $(OUT)

refresh: $(STAMP) ## scheduled job: publish the latest complete month if new or changed
	$(PY) -m analysis refresh --data $(DATA) --out $(OUT)

# pytest-xdist workers for the test targets (each test module runs in one worker: tests/conftest.py)
TEST_JOBS ?= 2

test: $(STAMP) ## run the test suite (slow statistical checks and the stress corpus excluded)
	$(PY) -m pytest -m "not slow and not stress" -q -n $(TEST_JOBS) --dist loadgroup

test-slow: $(STAMP) ## run the slow statistical checks (coverage over many seeds)
	$(PY) -m pytest -m slow -q

test-stress: $(STAMP) ## publish a report on every awkward book of the stress corpus and check its tables (~15 min)
	$(PY) -m pytest -m stress -q -n $(TEST_JOBS) --dist loadgroup

test-ops: $(STAMP) ## install and operations checks: wheel on a fresh venv, PostgreSQL source, refresh after a version bump (~3 min)
	$(PY) -m pytest -m slow -q tests/test_packaging.py tests/report/test_ops_execute.py \
	  tests/report/test_ops_run.py tests/importers/test_ops_sql.py

lock: $(STAMP) ## pin core + [dask] at the versions tested in .venv into requirements.lock (uv)
	$(PY) -m pip freeze --exclude-editable | grep -iv '^overdue.relief' > $(VENV)/lock-constraints.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dask --python-version $(LOCK_PYTHON) \
	  --python-platform linux --constraint $(VENV)/lock-constraints.txt --annotation-style line \
	  --custom-compile-command "make lock" -o requirements.lock -q

wheel: $(STAMP) ## build build/dist/overdue_relief-<version>-py3-none-any.whl (notebooks included)
	$(PY) -m pip wheel --no-deps --no-build-isolation -w build/dist .

hooks: $(STAMP) ## install the pre-commit hooks (ruff, stripped notebooks, whitespace) in this clone
	$(VENV)/bin/pre-commit install

lint: $(STAMP) ## ruff on the package, tests, benchmarks and notebooks (CI runs it first)
	$(PY) -m ruff check analysis tests benchmarks notebooks

lab: $(STAMP) ## start JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab notebooks

bench: $(STAMP) ## run the benchmarks (minutes; writes benchmarks/results/)
	$(PY) benchmarks/run.py

clean: ## remove the venv and generated data
	rm -rf $(VENV) data/synthetic

.PHONY: help venv synth demo report refresh test test-slow test-stress test-ops lock wheel hooks \
	lint lab bench clean
