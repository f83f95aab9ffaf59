# Shared shell helpers for the project's scripts (sourced, not run).
# Everything installed lives in the gitignored project-local folder .local/.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
export PATH="$VENV/bin:$PATH"

# Pinned tool versions (PyPI).
CARGO_LAMBDA_VERSION="1.9.2"
NX_27017_VERSION="0.8.1"
RUFF_VERSION="0.17.6"
# The receivers' library of Standard Webhooks: the tests verify deliveries with it.
STANDARDWEBHOOKS_VERSION="1.3.0"
ZIGLANG_VERSION="0.17.1"
SAM_CLI_VERSION="1.170.0"
MATPLOTLIB_VERSION="3.11.2"
MOTO_VERSION="5.2.5"
SCHEMATHESIS_VERSION="4.32.5"
# The Rust target of the Lambda functions (arm64, glibc).
LAMBDA_TARGET="aarch64-unknown-linux-gnu"

log() { printf '==> %s\n' "$*" >&2; }

# Installs the project-local Python tools that are missing.
bootstrap() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  local want=()
  [ -x "$VENV/bin/cargo-lambda" ] || want+=("cargo-lambda==$CARGO_LAMBDA_VERSION")
  [ -x "$VENV/bin/nx-27017" ] || want+=("nx-27017==$NX_27017_VERSION")
  [ -x "$VENV/bin/ruff" ] || want+=("ruff==$RUFF_VERSION")
  "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null \
    || want+=("standardwebhooks==$STANDARDWEBHOOKS_VERSION")
  if [ ${#want[@]} -gt 0 ]; then
    log "installing ${want[*]} into .local/venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
  fi
}

# Installs what the arm64 cross-build needs, when missing: cargo-lambda and Zig (its
# linker) into .local/venv, with `cross_bootstrap sam` also the AWS SAM CLI, and the Rust
# target $LAMBDA_TARGET. The target is added here, before any build starts: cargo-lambda
# would add it itself, but SAM's parallel builds each try at once and the losers compile
# without the target's standard library (issue 16).
cross_bootstrap() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  local want=()
  [ -x "$VENV/bin/cargo-lambda" ] || want+=("cargo-lambda==$CARGO_LAMBDA_VERSION")
  "$VENV/bin/python" -c 'import ziglang' 2>/dev/null || want+=("ziglang==$ZIGLANG_VERSION")
  if [ "${1:-}" = sam ] && [ ! -x "$VENV/bin/sam" ]; then
    want+=("aws-sam-cli==$SAM_CLI_VERSION")
  fi
  if [ ${#want[@]} -gt 0 ]; then
    log "installing ${want[*]} into .local/venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
  fi
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$LAMBDA_TARGET/lib" ]; then
    command -v rustup >/dev/null ||
      { echo "the Rust target $LAMBDA_TARGET is missing and there is no rustup to add it" >&2; exit 1; }
    log "rustup target add $LAMBDA_TARGET"
    rustup target add "$LAMBDA_TARGET"
  fi
}

# Prints a free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something listens on 127.0.0.1:$1 (at most $2 seconds).
wait_port() {
  local port=$1 limit=${2:-30} i=0
  until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -le $((limit * 5)) ] || { echo "nothing listens on port $port after ${limit}s" >&2; return 1; }
    sleep 0.2
  done
}

# Starts the MongoDB wire-compatible server in single-file mode in the background,
# through scripts/local_mongo.py (nx-27017 with our fix of its renameCollection).
# Usage: start_mongo DB_FILE PORT; sets MONGO_PID.
start_mongo() {
  local file=$1 port=$2
  mkdir -p "$(dirname "$file")"
  log "starting nx-27017 on 127.0.0.1:$port (data: ${file#"$ROOT"/})"
  "$VENV/bin/python" "$ROOT/scripts/local_mongo.py" --db "$file" -p "$port" --log-file "$file.log" --pid-file "$file.pid" >/dev/null 2>&1 &
  MONGO_PID=$!
  wait_port "$port" 30
}

# Waits until GET $1 answers 200 (at most $2 seconds) while process $3 lives.
wait_http() {
  local url=$1 limit=${2:-120} pid=${3:-} i=0
  until [ "$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$url")" = "200" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "the server process exited before $url answered" >&2; return 1
    fi
    i=$((i + 1)); [ $i -le "$limit" ] || { echo "$url did not answer 200 within ${limit}s" >&2; return 1; }
    sleep 1
  done
}

# Writes KEY=VALUE arguments as a dotenv file that cargo-lambda reads (values quoted).
write_env() {
  local file=$1; shift
  ( umask 077; : > "$file" )
  local pair
  for pair in "$@"; do
    printf '%s="%s"\n' "${pair%%=*}" "${pair#*=}" >> "$file"
  done
}

# Kills a process and its children, if running.
stop_pid() {
  local pid=${1:-}
  [ -n "$pid" ] || return 0
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Starts a local API stack of its own in the background (scripts/stack.py: its own
# MongoDB-compatible server unless MONGODB_URI is set, the emulator, one process per
# function by default, throw-away databases, a random JWT secret) with its files under
# $1, and loads its stack.env (API_URL, API_PORT, API_LOG, MONGODB_URI, MASTER_DB,
# TENANT_DB, JWT_SECRET). Further arguments go to stack.py. stop_stack stops them all.
# Every stack gets the caller's MONGODB_URI (or none), never the one a previous stack's
# stack.env loaded: that server is gone with its stack. Test and bench clients write
# far more than a person from one address (the emulator reports one client IP for
# all), so these stacks lift the write limits (`make run` keeps the defaults); a
# caller's own `--env` for them comes later and wins.
STACK_PIDS=()
CALLER_MONGODB_URI="${MONGODB_URI-}"
start_stack() {
  local dir=$1; shift
  mkdir -p "$dir"
  # A stack.env left by an earlier stack in this folder would be taken for this one's.
  rm -f "$dir/stack.env"
  MONGODB_URI="$CALLER_MONGODB_URI" python3 "$ROOT/scripts/stack.py" --dir "$dir" \
    --env WRITE_LIMIT_PER_MINUTE=1000000 --env ANON_WRITE_LIMIT_PER_MINUTE=1000000 \
    "$@" 2>>"$dir/stack.err" &
  STACK_PIDS+=("$!")
  local pid=$! i=0
  until [ -s "$dir/stack.env" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$dir/stack.err" >&2; tail -n 40 "$dir/api.log" >&2 2>/dev/null; return 1
    fi
    i=$((i + 1)); [ $i -le 1800 ] || { echo "the stack in $dir did not start in 180 s" >&2; return 1; }
    sleep 0.1
  done
  # shellcheck disable=SC1091
  source "$dir/stack.env"
}

stop_stack() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STACK_PIDS=()
}

# Prints every line of the API logs under $1 that reports an error or a 500.
api_errors() {
  local file
  for file in $(find "$1" -name api.log 2>/dev/null | sort); do
    grep -hE '"level":"ERROR"|"status":500|panicked' "$file" | sed "s|^|${file#"$1"/}: |" || true
  done
}
