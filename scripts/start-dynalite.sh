#!/usr/bin/env bash
# Starts dynalite in the background and prints its endpoint on stdout.
# Usage: start-dynalite.sh PORT DATA_DIR PIDFILE   (PORT 0 = a free port;
# DATA_DIR empty = in memory). The caller stops it with: kill "$(cat PIDFILE)".
set -euo pipefail
cd "$(dirname "$0")/.."
port=$1 data=$2 pidfile=$3
log=$(mktemp)
[ -n "$data" ] && mkdir -p "$data"
DYNALITE_PORT=$port DYNALITE_PATH=$data node scripts/dynalite.js >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 150); do
  if listening=$(grep -o 'dynalite listening on [0-9]*' "$log"); then
    echo "http://127.0.0.1:${listening##* }"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start-dynalite: dynalite exited:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
echo "start-dynalite: dynalite did not start within 15s" >&2; cat "$log" >&2
kill "$(cat "$pidfile")" 2>/dev/null || true
exit 1
