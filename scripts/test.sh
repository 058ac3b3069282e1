#!/usr/bin/env bash
# make test: the whole suite on a fresh machine. Installs what it needs,
# checks formatting and lints, runs the infrastructure checks (cdk synth,
# cfn-lint, sam validate, sam build, cdk-nag), fuzzes the API with schemathesis
# through the local gateway, then starts its own dynalite on a free port, runs
# each parser's fuzz target briefly, and runs every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh node python go

echo "== gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^infra/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
go tool staticcheck ./...

echo "== infrastructure"
make --no-print-directory infra-test
scripts/fuzz-api.sh  # schemathesis against the local gateway (docs/fuzzing.md)

echo "== dynalite for the Go tests"
pidfile=$(mktemp)
trap 'kill "$(cat "$pidfile")" 2>/dev/null || true' EXIT
DYNAMODB_ENDPOINT=$(scripts/start-dynalite.sh 0 "" "$pidfile")
export DYNAMODB_ENDPOINT
export PYTHON="$PWD/.venv/bin/python"

echo "== a brief run of each parser's fuzz target (their seeds also run in go test below)"
# FUZZ_TIME=0 skips these; CI keeps them short so the whole run stays well
# under its budget.
fuzz_time=${FUZZ_TIME:-8s}
if [ "$fuzz_time" != 0 ]; then
  for target in internal/workflows:FuzzParseAndValidate internal/workflows:FuzzFieldValues \
                internal/keys:FuzzCreateKeyBody internal/keys:FuzzRollKeyBody \
                internal/workflows:FuzzVersionParam internal/workflows:FuzzIfMatch internal/connections:FuzzConnectionBody \
                internal/webhooks:FuzzRollWebhookBody internal/webhooks:FuzzParseSignatureHeader \
                internal/httpapi:FuzzPathID internal/httpapi:FuzzListParams internal/secrets:FuzzOpen; do
    go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "$fuzz_time" "./${target%%:*}/"
  done
fi

echo "== Go tests"
go test -count=1 ./...

