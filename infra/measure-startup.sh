#!/usr/bin/env bash
# Measures every Lambda's bootstrap for docs/performance.md: its size,
# and its start-up time under the Lambda Runtime Interface Emulator (RIE),
# built from the Go module proxy.
#
# Start-up time is the RIE's INIT REPORT: from the moment it starts the
# bootstrap process (INIT START) to the moment the process asks the Runtime
# API for its first invocation (GET /runtime/invocation/next, INIT RTDONE),
# which is when it has read its environment, built its clients and is ready.
# (The "Init Duration" of this RIE's REPORT line is not that: it times an
# asynchronous call and reads a fraction of a millisecond.) The RIE runs the amd64 build of each
# function (this machine is amd64); the arm64 build is what deploys, and both
# come from the same flags as `make lambdas`.
#
# Usage: infra/measure-startup.sh [runs per function, default 7]
# Prints a Markdown table on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-7}"
# The RIE's module publishes no release tags the proxy serves; this is the
# pseudo-version the proxy listed as newest when the figures were made.
rie_version="v0.0.0-20261030222936-bef5c4ba774d"
tools="$PWD/bin/tools"
amd64="$PWD/bin/amd64"
# Loopback ports of our own, away from the RIE's defaults (8080, 9001).
port=18080
runtime_api_port=19001

log() { echo "$@" >&2; }

log "building the RIE ${rie_version}"
GOBIN="$tools" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${rie_version}"

log "building the amd64 bootstraps"
rm -rf "$amd64" && mkdir -p "$amd64/.build"
GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o "$amd64/.build/" ./functions/...
make --no-print-directory lambdas >&2

# Every folder with a main.go: functions/ also holds tests of its own.
functions=$(for f in functions/*/main.go; do basename "$(dirname "$f")"; done)
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# init_ms FUNCTION: one cold start of FUNCTION under the RIE; prints its
# INIT REPORT duration in milliseconds.
init_ms() {
  local fn="$1" out="$workdir/rie.log" pid
  mkdir -p "$workdir/$fn" && cp "$amd64/.build/$fn" "$workdir/$fn/bootstrap"
  # Its own session, so the RIE and the bootstrap it starts end together.
  # The table and endpoint are never reached: start-up makes no calls.
  (cd "$workdir/$fn" && TABLE_NAME=workflows-startup DYNAMODB_ENDPOINT=http://127.0.0.1:9 \
    AWS_LAMBDA_FUNCTION_TIMEOUT=5 exec setsid "$tools/aws-lambda-rie" \
    --runtime-interface-emulator-address "127.0.0.1:$port" \
    --runtime-api-address "127.0.0.1:$runtime_api_port" ./bootstrap) >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.05
  done
  # The RIE starts the bootstrap on the first invocation. This payload is
  # answered without touching DynamoDB (an authorizer request without a key,
  # a proxy request without authorizer context); only the INIT is read.
  curl -s -o /dev/null --max-time 10 -d '{"type":"REQUEST","headers":{}}' \
    "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" || true
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sed -n 's/.*INIT REPORT(durationMs: \([0-9.]*\)).*/\1/p' "$out" | head -1
}

# zipped_size FILE: the size of FILE as a deployment zip holds it (deflate).
zipped_size() {
  python3 -c 'import sys, zipfile, io
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))' "$1"
}

echo "| function | arm64 bootstrap (deployed) | zipped | amd64 bootstrap (measured) | start-up min | median | max |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for fn in $functions; do
  samples=()
  for _ in $(seq 1 "$runs"); do
    ms=$(init_ms "$fn")
    [ -n "$ms" ] || { log "$fn: the RIE reported no INIT REPORT"; cat "$workdir/rie.log" >&2; exit 1; }
    samples+=("$ms")
  done
  log "$fn: ${samples[*]} ms"
  printf '%s\n' "${samples[@]}" | sort -g | awk -v fn="$fn" \
    -v arm="$(stat -c %s "bin/$fn/bootstrap")" -v zip="$(zipped_size "bin/$fn/bootstrap")" \
    -v amd="$(stat -c %s "$amd64/.build/$fn")" '
    { v[NR] = $1 }
    END {
      mid = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "| %s | %.2f MiB | %.2f MiB | %.2f MiB | %.1f ms | %.1f ms | %.1f ms |\n", fn, arm / 1048576, zip / 1048576, amd / 1048576, v[1], mid, v[NR]
    }'
done
