#!/usr/bin/env bash
# make test: the whole suite on a fresh machine. Installs what it needs,
# checks formatting and lints, runs the infrastructure checks (cdk synth,
# cfn-lint, sam validate, sam build, cdk-nag), fuzzes the API with schemathesis
# through the local gateway, runs the SAM suite through `sam local start-api`
# (starting a Docker engine if the machine has none), then starts its own dynalite on a free port, runs
# each parser's fuzz target briefly, and runs every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every workflow http step any test, fuzzer or benchmark runs may reach
# loopback only, and no other host is looked up (docs/security.md). The test
# harness sets this mode itself too; this covers every binary the suite
# starts.
export HTTP_STEP_TARGETS=loopback
unset ALLOW_PRIVATE_TARGETS
scripts/ensure-deps.sh node python go chromium

echo "== $(date +%T) gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^infra/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
go tool staticcheck ./...

echo "== $(date +%T) infrastructure"
make --no-print-directory infra-test
scripts/fuzz-api.sh  # schemathesis against the local gateway (docs/fuzzing.md)

echo "== $(date +%T) the engine make dev and make sam-local share (scripts/local-engine.sh)"
scripts/test-local-engine.sh

echo "== $(date +%T) the API under sam local start-api (Docker; docs/infrastructure.md, 'Running with sam local')"
scripts/test-sam-local.sh

echo "== $(date +%T) the run state machine executed: moto's interpreter, the runner in Lambda's container (sam local start-lambda)"
scripts/test-state-machine.sh

echo "== $(date +%T) dynalite for the Go tests"
pidfile=$(mktemp)
trap 'kill "$(cat "$pidfile")" 2>/dev/null || true' EXIT
DYNAMODB_ENDPOINT=$(scripts/start-dynalite.sh 0 "" "$pidfile")
export DYNAMODB_ENDPOINT
export PYTHON="$PWD/.venv/bin/python"

echo "== $(date +%T) a brief run of each parser's fuzz target (their seeds also run in go test below)"
# FUZZ_TIME=0 skips these; CI keeps them short so the whole run stays well
# under its budget.
fuzz_time=${FUZZ_TIME:-6s}
# fuzz_target PACKAGE TARGET fuzzes one target for $fuzz_time. Go 1.26's fuzz
# coordinator can fail a run at the -fuzztime boundary with a bare "context
# deadline exceeded" and no failing input (golang/go#75804, fixed in Go 1.27):
# that one outcome is retried once; a failing input (written under
# testdata/fuzz/TARGET) or any other failure fails the suite.
fuzz_target() {
  local pkg=$1 target=$2 log attempt
  log=$(mktemp)
  for attempt in 1 2; do
    if go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzz_time" "./$pkg/" >"$log" 2>&1; then
      cat "$log"; rm -f "$log"; return 0
    fi
    cat "$log"
    if ! grep -q '^    context deadline exceeded$' "$log" || grep -q 'Failing input written' "$log"; then
      rm -f "$log"; return 1
    fi
    echo "fuzz: $target stopped on Go's fuzztime race (golang/go#75804), no failing input; running it again (try $attempt)" >&2
  done
  rm -f "$log"; return 1
}
fuzz_targets=(internal/workflows:FuzzParseAndValidate internal/workflows:FuzzFieldValues
              internal/keys:FuzzCreateKeyBody internal/keys:FuzzRollKeyBody
              internal/workflows:FuzzVersionParam internal/workflows:FuzzIfMatch internal/connections:FuzzConnectionBody
              internal/webhooks:FuzzRollSecretBody internal/webhooks:FuzzParseSignatureHeader
              internal/httpapi:FuzzPathID internal/httpapi:FuzzListParams internal/secrets:FuzzOpen
              internal/runs:FuzzStartBody internal/runs:FuzzListFilter internal/runs:FuzzRetryBody internal/runs:FuzzSignalBody
              internal/signaltoken:FuzzToken
              internal/engine:FuzzTemplate internal/engine:FuzzAddressRules internal/engine:FuzzRetryAfter
              internal/engine:FuzzRenderURL internal/jsondepth:FuzzDepth internal/jsonbody:FuzzIntegers internal/idempotency:FuzzDigest
              internal/webhooks/receive:FuzzReceive internal/schedules/local:FuzzParseExpression
              internal/console:FuzzAssetPath internal/awskms:FuzzRefusal)
# fuzz_lane N runs every second target from the Nth, one after another: two
# lanes run side by side, so each target's compile and baseline overlap
# another's fuzzing (about half the wall time; each target still fuzzes for
# $fuzz_time, with half the machine). Each lane's output is printed whole
# when it ends, and a failing target fails the suite.
fuzz_lane() {
  local i rc=0
  for ((i = $1; i < ${#fuzz_targets[@]}; i += 2)); do
    fuzz_target "${fuzz_targets[i]%%:*}" "${fuzz_targets[i]#*:}" || { rc=1; echo "fuzz: ${fuzz_targets[i]} FAILED" >&2; }
  done
  return "$rc"
}
if [ "$fuzz_time" != 0 ]; then
  lanes=$(mktemp -d)
  fuzz_lane 0 >"$lanes/0" 2>&1 & lane0=$!
  fuzz_lane 1 >"$lanes/1" 2>&1 & lane1=$!
  lanes_rc=0
  wait "$lane0" || lanes_rc=1
  wait "$lane1" || lanes_rc=1
  cat "$lanes/0" "$lanes/1"
  rm -rf "$lanes"
  [ "$lanes_rc" = 0 ] || { echo "fuzz: a target failed (above)" >&2; exit 1; }
fi

echo "== $(date +%T) Go tests"
go test -count=1 ./...

echo "== $(date +%T) done"
