# `make demo` and `make test` work on a fresh clone: both create .venv and install the project first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-slow lint bench fuzz oracle-goldens clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# The Redis source's tests need a real redis-server (Debian's package); install it when we can.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null; \
	  else echo "note: redis-server not found and cannot be installed here; Redis tests will be skipped"; fi; }
	@# Debian starts the packaged server; the tests start their own on a free port.
	@if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server >/dev/null 2>&1 || true; fi

test: $(STAMP) system-deps
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/wordcount.py

# The PySpark oracle's goldens, from real PySpark in its own venv (tests/oracle/README.md).
oracle-goldens:
	$(PYTHON) tests/oracle/regenerate.py

# Long differential fuzzing of whole pipelines, compiled vs Python (tests/fuzz/run.py); failing
# cases are written as ready-to-paste tests into tests/fuzz/found/. FUZZ_EXAMPLES=n sets the budget.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} $(PY) tests/fuzz/run.py

clean:
	rm -rf $(VENV) build *.egg-info
