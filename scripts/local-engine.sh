#!/usr/bin/env bash
# The local DynamoDB engine that `make dev` and `make sam-local` share: one
# dynalite per data directory. Prints "ENDPOINT started" when it started one
# (the caller stops it: kill "$(cat DATA_DIR/dynalite.pid)"), or
# "ENDPOINT shared" when the engine of another `make dev` or `make sam-local`
# on the same data already runs, or any DynamoDB engine already listens on
# PORT (the caller leaves it alone).
# Usage: local-engine.sh DATA_DIR PORT
#
# Two dynalites cannot open one data directory: LevelDB locks it, and the
# second dies on the lock after it has said it listens, which its user then
# sees as a "connection refused" from CreateTable. So a data directory in use
# is either shared or, when the process holding it is not one of ours, named
# in one line.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1 port=$2
mkdir -p "$data"
pidfile=$data/dynalite.pid endpointfile=$data/dynalite.endpoint lock=$data/dynalite/LOCK

if [ -f "$pidfile" ] && [ -f "$endpointfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "$(cat "$endpointfile") shared"
  exit 0
fi

# An engine already listening on the port (one started by hand, or with
# other data) is used as it is: it answers DynamoDB's ListTables.
if [ "$port" != 0 ] && curl -s -m 2 -X POST "http://127.0.0.1:$port/" -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
  -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Date: 20260101T000000Z' \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
  -d '{}' 2>/dev/null | grep -q TableNames; then
  echo "local-engine: a DynamoDB engine already listens on 127.0.0.1:$port; using it" >&2
  echo "http://127.0.0.1:$port shared"
  exit 0
fi

# lock_holder prints the pid of a process that has the data's LOCK open.
lock_holder() {
  [ -e "$lock" ] || return 0
  local want fd
  want=$(readlink -f "$lock")
  for fd in /proc/[0-9]*/fd/*; do
    if [ "$(readlink "$fd" 2>/dev/null)" = "$want" ]; then
      fd=${fd#/proc/}; echo "${fd%%/*}"; return 0
    fi
  done
}
holder=$(lock_holder)
if [ -n "$holder" ]; then
  echo "local-engine: $data/dynalite is in use by process $holder ($(tr '\0' ' ' </proc/"$holder"/cmdline 2>/dev/null | cut -c1-120)); stop it, or set DYNAMODB_ENDPOINT to its engine" >&2
  exit 1
fi

endpoint=$(scripts/start-dynalite.sh "$port" "$data/dynalite" "$pidfile")
echo "$endpoint" >"$endpointfile"
echo "$endpoint started"
