# The two commands: `make demo` and `make test` (see README.md). Both install what is missing
# first (scripts/install-deps.sh) and are safe to re-run.
SHELL := /bin/bash
CARGO ?= cargo
DATA_DIR ?= .bando
LISTEN ?= 127.0.0.1:8080
BANDO := ./target/debug/bando

.PHONY: demo test deps build web-deps lint fmt clean stop

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --locked

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web-deps: deps web/node_modules/.package-lock.json

## demo: the platform on the sample data at http://localhost:8080 (Ctrl-C stops it cleanly).
demo: build web-deps
	$(BANDO) --data-dir $(DATA_DIR) sample --out $(DATA_DIR)/sample --import
	@echo "bando: open http://localhost:$(lastword $(subst :, ,$(LISTEN)))/ — Ctrl-C stops it"
	# The IOC display (/ioc) is fed by the sensor simulator once serve has started its private
	# MQTT broker (its configuration is written anew, with the port, at every start). A
	# background job of a script ignores Ctrl-C, so the simulator is stopped (SIGTERM) when
	# serve ends, however it ends. The demo signs in through the development issuer (/dev-auth).
	rm -f $(DATA_DIR)/mosquitto/mosquitto.conf
	( until [ -f $(DATA_DIR)/mosquitto/mosquitto.conf ]; do sleep 1; done; sleep 2; \
	  exec $(BANDO) --data-dir $(DATA_DIR) simulate-sensors ) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	env BANDO_AUTH_DEV_ISSUER=true $(BANDO) --data-dir $(DATA_DIR) serve --listen $(LISTEN)

## test: every test (Rust against real PostGIS, browser tests in headless Chromium) and lints.
test: build web-deps
	scripts/test.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## stop: stop the demo's private cluster if a killed bando left it running.
stop:
	$(BANDO) --data-dir $(DATA_DIR) db stop

clean: stop
	rm -rf $(DATA_DIR) web/test-results
