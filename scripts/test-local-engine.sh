#!/usr/bin/env bash
# Checks scripts/local-engine.sh, the engine `make dev` and `make sam-local`
# share: a second start on the same data shares the running dynalite, and a
# data directory locked by a process that is not ours is named in one line
# (instead of a dynalite that says it listens and then dies on the lock).
set -euo pipefail
cd "$(dirname "$0")/.."

data=$(mktemp -d)
holder_pid=
cleanup() {
  kill "$(cat "$data/dynalite.pid" 2>/dev/null)" 2>/dev/null || true
  [ -z "$holder_pid" ] || kill "$holder_pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
fail() { echo "test-local-engine: FAIL: $*" >&2; exit 1; }

echo "== a first start starts the engine, a second on the same data shares it"
read -r first state1 < <(scripts/local-engine.sh "$data" 0)
[ "$state1" = started ] || fail "first start said '$state1'"
read -r second state2 < <(scripts/local-engine.sh "$data" 0)
[ "$state2" = shared ] && [ "$second" = "$first" ] || fail "second start said '$second $state2', want '$first shared'"
# The shared engine answers: a ListTables through it.
curl -sf -X POST "$first" -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
  -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Date: 20260101T000000Z' -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
  -d '{}' | grep -q TableNames || fail "the shared engine does not answer"
echo "ok"

echo "== a data directory locked by another process is named, in one line"
kill "$(cat "$data/dynalite.pid")"
for _ in $(seq 1 50); do kill -0 "$(cat "$data/dynalite.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$data/dynalite.pid"
# A process that holds the LOCK open, as a dynalite started by hand would.
(exec 3<"$data/dynalite/LOCK"; sleep 60) &
holder_pid=$!
sleep 0.2
if scripts/local-engine.sh "$data" 0 >"$data/out" 2>"$data/err"; then fail "started on a locked data directory: $(cat "$data/out")"; fi
[ "$(wc -l <"$data/err")" = 1 ] || fail "want one line, got: $(cat "$data/err")"
grep -q "in use by process $holder_pid" "$data/err" || fail "the holder is not named: $(cat "$data/err")"
echo "ok: $(cat "$data/err")"

echo "== an engine already listening on the port is used as it is"
kill "$holder_pid"; holder_pid=
other=$(mktemp -d)
other_endpoint=$(scripts/start-dynalite.sh 0 "" "$other/pid")
other_port=${other_endpoint##*:}
read -r got state3 < <(scripts/local-engine.sh "$data" "$other_port" 2>/dev/null)
kill "$(cat "$other/pid")"; rm -rf "$other"
[ "$state3" = shared ] && [ "$got" = "http://127.0.0.1:$other_port" ] || fail "with an engine on :$other_port it said '$got $state3'"
[ ! -e "$data/dynalite.pid" ] || fail "it started an engine of its own beside the one listening"
echo "ok"
echo "3 passed, 0 failed"
