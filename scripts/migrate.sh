#!/usr/bin/env bash
# make migrate STACK=<stack name>: the deploy-time step of a deployed stack. Invokes its
# MigrateFunction (the stack output MigrateFunctionName) once and prints its report:
# the indexes it made sure of and the organizations it migrated. Run it after every
# `sam deploy`: the other functions refuse to start while an index is missing (their
# cold start checks them). Needs the AWS CLI with credentials for the stack's account.
set -euo pipefail
stack="${STACK:?STACK=<stack name>, e.g. organization-service-dev}"
function=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='MigrateFunctionName'].OutputValue" --output text)
[ -n "$function" ] && [ "$function" != None ] || { echo "$stack has no MigrateFunctionName output" >&2; exit 1; }
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
error=$(aws lambda invoke --function-name "$function" --payload '{}' \
  --cli-binary-format raw-in-base64-out --query FunctionError --output text "$out")
cat "$out"; echo
if [ -n "$error" ] && [ "$error" != None ]; then
  echo "migrate failed ($error); see the function's log group" >&2
  exit 1
fi
