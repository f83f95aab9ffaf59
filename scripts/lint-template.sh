#!/usr/bin/env bash
# Lints template.yaml with `sam validate --lint` and `cfn-lint`, failing on any finding.
#
# Both tools live in the project-local virtualenv .local/venv (created here if missing;
# each tool is pip-installed only when it is not there yet). No AWS account is needed:
# SAM's validation runs offline, but the SDK wants a region and credentials to exist, so
# dummy ones are set for this script only.
#
# Usage: scripts/lint-template.sh            (from anywhere inside the repository)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv=".local/venv"
template="template.yaml"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating virtualenv $venv"
    python3 -m venv "$venv"
fi

need_install() { [[ ! -x "$venv/bin/$1" ]]; }

if need_install sam; then
    echo "installing aws-sam-cli into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check aws-sam-cli
fi
if need_install cfn-lint; then
    echo "installing cfn-lint into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check cfn-lint
fi

# Offline validation only: never a real account. Dummy values keep the SDK quiet.
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0

status=0

echo "== sam validate --lint"
if ! "$venv/bin/sam" validate --lint --template "$template" --region us-east-1; then
    status=1
fi

echo "== cfn-lint"
if ! "$venv/bin/cfn-lint" "$template"; then
    status=1
else
    echo "cfn-lint: no findings"
fi

if [[ $status -ne 0 ]]; then
    echo "template lint FAILED" >&2
else
    echo "template lint passed"
fi
exit "$status"
