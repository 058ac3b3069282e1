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
  # One engine per data directory, shared with a `make sam-local` (or another
  # `make dev`) already running on it; stopped at exit only if started here.
  read -r DYNAMODB_ENDPOINT engine < <(scripts/local-engine.sh .data "${DYNAMODB_PORT:-8000}" || echo "failed")
  [ "$DYNAMODB_ENDPOINT" != failed ] || exit 1
  export DYNAMODB_ENDPOINT
  if [ "$engine" = started ]; then
    # wfctl, run with no settings from this checkout, reads where the engine
    # is from .data/dynalite.endpoint (written by local-engine.sh).
    trap 'kill "$(cat .data/dynalite.pid)" 2>/dev/null || true; rm -f .data/dynalite.endpoint .data/dynalite.pid' EXIT
  else
    echo "dev: sharing the engine already running on .data/ (pid $(cat .data/dynalite.pid))" >&2
  fi
fi
echo "dev: DynamoDB (dynalite) at $DYNAMODB_ENDPOINT, table $TABLE_NAME, data in .data/" >&2
echo "dev: make a key with: go run ./cmd/wfctl keys create --account acct_demo --name dev --scopes all" >&2
go build -o bin/local-gateway ./cmd/local-gateway
bin/local-gateway
