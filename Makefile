# The project's two everyday commands, plus a few conveniences.
.PHONY: run test lint fmt

## run: the whole API locally at http://127.0.0.1:9000 (Ctrl-C stops it)
run:
	scripts/run.sh

## test: every test (starts what it needs); .ci/run runs exactly this
test:
	scripts/test.sh

## lint: formatting and clippy only
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## fmt: format the code
fmt:
	cargo fmt --all
