#!/usr/bin/env bash
# make dev: installs what is missing, starts dynalite with its data under
# .data/, and serves the API on localhost:$PORT (3000) through the local
# gateway. Ctrl-C stops both. DYNAMODB_PORT (8000) moves the local engine;
# a DYNAMODB_ENDPOINT already set is used instead of starting one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh node go

export PORT=${PORT:-3000}
export TABLE_NAME=${TABLE_NAME:-workflows-local}
if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
  mkdir -p .data
  pidfile=.data/dynalite.pid
  trap 'kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f .data/dynalite.endpoint' EXIT
  DYNAMODB_ENDPOINT=$(scripts/start-dynalite.sh "${DYNAMODB_PORT:-8000}" .data/dynalite "$pidfile")
  export DYNAMODB_ENDPOINT
  # wfctl, run with no settings from this checkout, reads where the engine is.
  echo "$DYNAMODB_ENDPOINT" >.data/dynalite.endpoint
fi
echo "dev: DynamoDB (dynalite) at $DYNAMODB_ENDPOINT, table $TABLE_NAME, data in .data/" >&2
echo "dev: make a key with: go run ./cmd/wfctl keys create --account acct_demo --name dev --scopes all" >&2
go build -o bin/local-gateway ./cmd/local-gateway
bin/local-gateway
