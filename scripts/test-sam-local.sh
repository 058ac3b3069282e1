#!/usr/bin/env bash
# The SAM suite of `make test`: `make sam-local` on free ports with a data
# directory of its own, then e2e/samlocal_test.go (go test -tags samlocal)
# through it, then everything stopped. On a machine without Docker it
# installs Debian's docker.io and starts dockerd (scripts/docker-engine.sh),
# and never pulls an image: the base image is built from Debian packages.
# Before that, it checks that a Docker daemon this project starts refuses to
# run containers without its forwarding rules (scripts/test-docker-engine.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
dynamodb_port=$(free_port)
data=$(mktemp -d)
log=$data/sam-local.log
sam_local_pid=

stop() {
  local rc=$?
  if [ -n "$sam_local_pid" ] && kill -0 "$sam_local_pid" 2>/dev/null; then
    kill -TERM "$sam_local_pid" 2>/dev/null || true
    # sam-local.sh stops SAM, its containers, moto and the engine itself.
    for _ in $(seq 1 300); do kill -0 "$sam_local_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  grep '^sam-local: removed' "$log" 2>/dev/null || true
  if [ "$rc" = 0 ]; then rm -rf "$data"; else
    echo "test-sam-local: logs kept in $data" >&2
    for f in "$data"/sam/*.log; do [ -s "$f" ] && { echo "--- $f"; tail -30 "$f"; } >&2; done
  fi
}
trap stop EXIT

scripts/test-docker-engine.sh

echo "== sam local start-api (arm64, as deployed) on 127.0.0.1:$port"
start=$(date +%s)
PORT=$port DYNAMODB_PORT=$dynamodb_port SAM_LOCAL_DATA=$data SAM_LOCAL_BASE_IMAGE=local \
  DOCKER_ENGINE_INSTALL=1 LAMBDA_GOARCH=arm64 SAM_WARM_CONTAINERS=LAZY \
  scripts/sam-local.sh >"$log" 2>&1 &
sam_local_pid=$!
for _ in $(seq 1 600); do
  grep -q '^sam-local: serving' "$log" && break
  kill -0 "$sam_local_pid" 2>/dev/null || { cat "$log"; echo "test-sam-local: make sam-local exited" >&2; exit 1; }
  sleep 0.5
done
grep -q '^sam-local: serving' "$log" || { cat "$log"; echo "test-sam-local: SAM did not serve within 5 minutes" >&2; exit 1; }
echo "sam local served after $(( $(date +%s) - start )) s"

# The console under SAM: the page, with the Content-Security-Policy
# docs/console.md states, and the script it names by its hash, each through
# get-console's container (internal/console's tests hold the handler to the
# same policy).
echo "== the console: GET /console and its script, each with its CSP"
csp=$(.venv/bin/python -c '
import re, sys
m = re.search(r"Content-Security-Policy \(`([^`]+)`\)", open("docs/console.md").read(), re.S)
print(" ".join(m.group(1).split()) if m else sys.exit("docs/console.md states no Content-Security-Policy"))')
# check_console PATH TYPE: a 200 of TYPE with exactly the policy, its body
# left in $data/console.body.
check_console() {
  local headers=$data/console.headers code policy
  code=$(curl -sS -o "$data/console.body" -D "$headers" -w '%{http_code}' "http://127.0.0.1:$port$1")
  policy=$(tr -d '\r' <"$headers" | grep -i '^content-security-policy:' | cut -d: -f2- | sed 's/^ *//' || true)
  if [ "$code" != 200 ] || ! grep -qi "^content-type: $2" "$headers" || [ "$policy" != "$csp" ]; then
    echo "test-sam-local: GET $1 answered $code, want 200 of $2 with the CSP $csp; its headers:" >&2
    cat "$headers" >&2
    exit 1
  fi
}
check_console /console text/html
script=$(grep -o 'src="console/console\.[0-9a-f]\{12\}\.js"' "$data/console.body" | head -n 1 | cut -d'"' -f2 || true)
[ -n "$script" ] || { echo "test-sam-local: the console's page names no hashed script" >&2; exit 1; }
check_console "/$script" text/javascript
echo "the console and its $script are served with their CSP"

(cd e2e && SAM_LOCAL_URL=http://127.0.0.1:$port DYNAMODB_ENDPOINT=http://127.0.0.1:$dynamodb_port \
  TABLE_NAME=workflows-local PYTHON="$PWD/../.venv/bin/python" \
  go test -tags samlocal -count=1 -run '^TestSAMLocal' -v . ) | grep -v '^=== ' || {
  echo "test-sam-local: the SAM suite failed; SAM's log:" >&2
  tail -60 "$data/sam/sam.log" >&2 || true
  exit 1
}
