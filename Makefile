# OpenZone: `make run` serves the demo, `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
export UV_LINK_MODE := copy

.PHONY: run test test-suite test-postgres install assets uv lint bench clean

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user "uv==$(UV_VERSION)"

install: uv
	@scripts/system-deps.sh run
	@$(UV) sync --frozen --quiet
	@$(MAKE) --no-print-directory assets

VENDORED := src/openzone/web/static/vendor/.vendored

# Vendored again whenever the lock file or the copy script changes (a new browser library arrives with a pull).
assets: $(VENDORED)

$(VENDORED): assets/package-lock.json scripts/vendor_assets.py
	@npm ci --ignore-scripts --no-audit --no-fund --prefix assets --silent
	@$(PY) scripts/vendor_assets.py
	@touch $@

# The demo's travel-licensing approvals issue e-licenses over the issuer API of this same server (issue 6).
DEMO_ENV := OPENZONE_DEMO_MODE=true OPENZONE_TRAVEL_E_LICENSE_URL=http://127.0.0.1:8000 \
	OPENZONE_TRAVEL_E_LICENSE_TOKEN_FILE=var/secrets/travel-e-license.token

run: install
	@$(PY) -m openzone.cli init
	@$(DEMO_ENV) $(PY) -m openzone.cli demo load
	@echo "OpenZone: http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/api/docs)"
	@$(DEMO_ENV) $(PY) -m openzone.cli worker & worker=$$!; \
	  trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
	  $(DEMO_ENV) $(PY) -m openzone.cli serve --host 127.0.0.1 --port 8000

test: install
	@scripts/system-deps.sh test
	@$(MAKE) --no-print-directory test-suite

test-suite:
	$(PY) -m pytest -q -p no:cacheprovider

test-postgres: install
	@scripts/system-deps.sh ci
	scripts/with-postgres.sh $(MAKE) --no-print-directory test-suite

lint:
	.venv/bin/ruff check src tests migrations scripts benchmarks
	.venv/bin/lint-imports

clean:
	rm -rf .venv assets/node_modules src/openzone/web/static/vendor
