#!/usr/bin/env bash
# make test: the whole suite on a fresh machine. Installs what it needs,
# checks formatting and lints, runs the infrastructure checks (cdk synth,
# cfn-lint, sam validate and sam build), then starts its own dynalite on a free
# port and runs every Go test against it.
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

echo "== Go tests against dynalite"
pidfile=$(mktemp)
trap 'kill "$(cat "$pidfile")" 2>/dev/null || true' EXIT
DYNAMODB_ENDPOINT=$(scripts/start-dynalite.sh 0 "" "$pidfile")
export DYNAMODB_ENDPOINT
export PYTHON="$PWD/.venv/bin/python"
go test -count=1 ./...

