#!/usr/bin/env bash
# make import DATABASE=<source database> [URI=<source MongoDB URI>] [DRY_RUN=1] [STACK=<stack>]
# Moves the organizations, admins (bcrypt hashes kept) and tenant documents of a Python
# (Croupier) deployment into this service: the `migrate` function invoked with the event
# {"import": {"uri", "database", "layout": "croupier", "dry_run"}}, and its report printed.
# Without STACK, through `make run`'s stack (it must be running; PORT, default 9000);
# with STACK, the deployed stack's MigrateFunction (AWS CLI with credentials). URI
# defaults to the service's own MONGODB_URI. Run it with DRY_RUN=1 first: that changes
# nothing and prints the same report.
set -euo pipefail
cd "$(dirname "$0")/.."
database="${DATABASE:?DATABASE=<the Python service database, e.g. croupier_master>}"
payload=$(DATABASE="$database" URI="${URI:-}" DRY_RUN="${DRY_RUN:-}" python3 -c '
import json, os
spec = {"database": os.environ["DATABASE"], "layout": "croupier",
        "dry_run": os.environ["DRY_RUN"] not in ("", "0", "false")}
if os.environ["URI"]:
    spec["uri"] = os.environ["URI"]
print(json.dumps({"import": spec}))')
if [ -n "${STACK:-}" ]; then
  function=$(aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='MigrateFunctionName'].OutputValue" --output text)
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
  error=$(aws lambda invoke --function-name "$function" --payload "$payload" \
    --cli-binary-format raw-in-base64-out --query FunctionError --output text "$out")
  python3 -m json.tool "$out" || cat "$out"
  if [ -n "$error" ] && [ "$error" != None ]; then
    echo "import failed ($error); see the function's log group" >&2
    exit 1
  fi
  exit 0
fi
PAYLOAD="$payload" PORT="${PORT:-9000}" python3 -c '
import json, os, sys, urllib.request
port = os.environ["PORT"]
url = f"http://127.0.0.1:{port}/2015-03-31/functions/migrate/invocations"
request = urllib.request.Request(url, data=os.environ["PAYLOAD"].encode(), method="POST")
try:
    with urllib.request.urlopen(request, timeout=3600) as reply:
        body = reply.read().decode()
except OSError as err:
    sys.exit(f"import: no stack answers on {url} ({err}); start it with make run")
try:
    report = json.loads(body)
except ValueError:
    sys.exit(f"import failed: {body}")
print(json.dumps(report, indent=2))
if isinstance(report, dict) and "errorMessage" in report:
    sys.exit(1)
'
