# `make run` and `make test` are what a new user types on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.jackstop-installed

.PHONY: install run test bench demo lock browser clean

install: $(STAMP)

# uv itself is bootstrapped from a hash-pinned requirement, then installs the
# locked dependency set (uv.lock, hashes included) into .venv.
$(STAMP): pyproject.toml uv.lock .ci/uv-bootstrap.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r .ci/uv-bootstrap.txt
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --all-groups --python $(BIN)/python
	@touch $(STAMP)

run: install
	$(BIN)/jackstop serve

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run_all.py $(BENCH)

demo: install
	$(BIN)/jackstop demo

# Regenerate the lock file after editing dependencies in pyproject.toml.
lock:
	@test -x $(BIN)/uv || $(MAKE) install
	$(BIN)/uv lock --python $(BIN)/python
	$(BIN)/python tools/uv_bootstrap.py

# Browser tests use Debian's Chromium, the alert-rule tests Debian's promtool; install them where apt is available.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	  || echo "note: chromium not installed; browser tests will be skipped"; }
	@# promtool (Debian package prometheus) checks and unit-tests docs/prometheus/alerts.yml.
	@command -v promtool >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || (apt-get update -q >/dev/null && \
	  apt-get install -y -q --no-install-recommends prometheus >/dev/null)) \
	  || echo "note: promtool not installed; the alert-rule tests will be skipped"; }

clean:
	rm -rf $(VENV)
