# The project's two everyday commands, plus a few conveniences.
.PHONY: run test fuzz lint fmt

## run: the whole API locally at http://127.0.0.1:9000 (Ctrl-C stops it)
run:
	scripts/run.sh

## test: every test (starts what it needs); .ci/run runs exactly this
test:
	scripts/test.sh

## fuzz: schemathesis against /openapi.json (FUZZ_EXAMPLES, FUZZ_SECONDS set the budget)
fuzz:
	scripts/fuzz.sh

## lint: formatting, clippy and ruff (the scripts' Python) only
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	.local/venv/bin/ruff check scripts tests

## fmt: format the code
fmt:
	cargo fmt --all

.PHONY: package
## package: cross-build every function for Lambda (arm64, release) and zip each bootstrap
package:
	scripts/package.sh

.PHONY: migrate
## migrate: after a deploy, run the stack's migrate function once (STACK=organization-service-dev)
migrate:
	scripts/migrate.sh

.PHONY: import
## import: move a Python (Croupier) deployment in: DATABASE=croupier_master [URI=...] [DRY_RUN=1] [STACK=...]; locally through make run's stack
import:
	scripts/import.sh

.PHONY: scale
## scale: each route's CPU, bytes read, round trips, p50 and RSS against the size of the data (up to 100,000 organizations, 10,000 members, 1,000,000 audit events and items) -> docs/scale/*.png and BENCHMARKS.md
scale:
	scripts/scale.sh

.PHONY: chaos
## chaos: a storm (8 clients, a function process SIGKILLed every ~2 s, the database restarted every ~20 s), then the invariants; CHAOS_SECONDS=60 -> BENCHMARKS.md Reliability
chaos:
	CHAOS_WRITE=1 scripts/chaos.sh

.PHONY: bench
## bench: release build, then cold starts, warm latency/throughput, round trips, RSS, zip sizes -> BENCHMARKS.md
bench:
	scripts/bench.sh

.PHONY: sam-build check-sam-build
## sam-build: the deployment build: installs what is missing (arm64 target, cargo-lambda, Zig, SAM CLI), `sam build` one function after another over one target/, then check-sam-build
sam-build:
	scripts/sam-build.sh

## check-sam-build: every function's .aws-sam/build/<Function>/bootstrap is an aarch64 ELF executable, as cargo built it, without test hooks
check-sam-build:
	python3 scripts/check_sam_build.py
