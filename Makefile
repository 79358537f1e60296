# The README's commands. `make demo` and `make test` install what they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FUNCTIONS := accept-endpoint-connections associate-private-zones audit-availability-zones notify-slack connection-notifications
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test test-rust test-e2e lint bench build deploy venv clean

## demo: run the scenario on the local emulator with the functions' release binaries
demo: $(STAMP)
	cargo build --release $(addprefix -p ,$(FUNCTIONS))
	FUNCTION_PROFILE=release $(PY) tests/demo.py

## test: every test — Rust unit and adapter tests, then end to end on the emulator
test: test-rust test-e2e

test-rust:
	cargo test --workspace

test-e2e: $(STAMP)
	cargo build $(addprefix -p ,$(FUNCTIONS))
	$(PY) -m pytest tests/e2e -n 2 -q

## bench: the Slack notifier's cold start, time per message and peak memory (release binary)
bench: $(STAMP)
	cargo build --release -p notify-slack
	$(PY) tests/bench_notify_slack.py

## lint: formatting, clippy, the template linter
lint: $(STAMP)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml spoke-template.yaml

venv: $(STAMP)
$(STAMP): tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## build / deploy: arm64 Lambda artifacts with cargo-lambda, through SAM
$(VENV)/.deploy: requirements-deploy.txt $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
	rustup target add aarch64-unknown-linux-gnu
	touch $@

build: $(VENV)/.deploy
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --template template.yaml

deploy: build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) .aws-sam
