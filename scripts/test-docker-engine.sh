#!/usr/bin/env bash
# Checks scripts/docker-engine.sh's refusal: a Docker daemon this project
# starts must not run containers unless both DROP rules on its bridge are in
# place (`iptables -C`). Everything it calls (dockerd, docker, iptables, id)
# is a stand-in on PATH that records what it was asked, so the check runs on
# any machine, touches no real firewall or daemon, and sends no packet.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill $(cat "$work"/state/dockerd.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/state"

# dockerd: writes its pid file, marks itself up, runs until killed.
cat >"$work/bin/dockerd" <<'SH'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do [ "$1" = --pidfile ] && pidfile=$2; shift; done
echo $$ >"$pidfile"; touch "$FAKE/up"; echo "dockerd" >>"$FAKE/calls"
trap 'rm -f "$FAKE/up"; exit 0' TERM; while :; do sleep 0.1; done
SH
# docker: `info` answers only while the stand-in daemon is up; anything
# else (run, create, build) is recorded, and must never be asked for.
cat >"$work/bin/docker" <<'SH'
#!/usr/bin/env bash
[ "$1" = info ] && { [ -e "$FAKE/up" ]; exit; }
echo "docker $*" >>"$FAKE/calls"
SH
# iptables: keeps its rules in a file; with FAKE_IPTABLES_BROKEN=1 it takes
# them (-I succeeds) but -C never finds one, as when another tool or a
# restarted dockerd rewrote the chains.
cat >"$work/bin/iptables" <<'SH'
#!/usr/bin/env bash
op=$1; shift; rule="$*"
case "$op" in
  -I) echo "$rule" >>"$FAKE/rules" ;;
  -C) [ "${FAKE_IPTABLES_BROKEN:-0}" != 1 ] && grep -qxF -- "$rule" "$FAKE/rules" 2>/dev/null ;;
  -D) grep -qxF -- "$rule" "$FAKE/rules" 2>/dev/null || exit 1; grep -vxF -- "$rule" "$FAKE/rules" >"$FAKE/rules.new" || true; mv "$FAKE/rules.new" "$FAKE/rules" ;;
esac
SH
printf '#!/bin/sh\necho 0\n' >"$work/bin/id"
chmod +x "$work/bin/"*

run_ensure() {
  FAKE=$work DOCKER_ENGINE_STATE=$work/state PATH="$work/bin:$PATH" scripts/docker-engine.sh ensure
}
fail() { echo "test-docker-engine: FAIL: $*" >&2; exit 1; }

echo "== docker-engine.sh refuses a daemon it started whose bridge may forward"
export FAKE_IPTABLES_BROKEN=1
if out=$(run_ensure 2>"$work/err"); then fail "ensure went on without the rules (printed '$out')"; fi
grep -q 'refusing to run containers' "$work/err" || fail "no refusal said: $(cat "$work/err")"
grep -q 'no rule .iptables -C FORWARD -i docker0 -j DROP' "$work/err" || fail "the missing rule is not named: $(cat "$work/err")"
[ ! -e "$work/up" ] || fail "the daemon it started was left running"
if grep -q '^docker ' "$work/calls"; then fail "a container command ran: $(grep '^docker ' "$work/calls")"; fi
grep -q -- '-i docker0 -j DROP' "$work/rules" 2>/dev/null && fail "rules were left behind after the refusal"
echo "refused, stopped its daemon, ran no container: ok"

echo "== and goes on once both rules hold"
export FAKE_IPTABLES_BROKEN=0
rm -f "$work/calls" "$work/rules"
[ "$(run_ensure 2>/dev/null)" = started ] || fail "ensure did not start with the rules in place"
for rule in 'DOCKER-USER -i docker0 -j DROP' 'DOCKER-USER -o docker0 -j DROP' 'FORWARD -i docker0 -j DROP' 'FORWARD -o docker0 -j DROP'; do
  grep -qxF "$rule" "$work/rules" || fail "rule '$rule' was not added"
done
echo "== a later ensure on the same daemon checks again, and refuses once a rule is gone"
export FAKE_IPTABLES_BROKEN=1
if run_ensure >/dev/null 2>"$work/err"; then fail "the second ensure went on without the rules"; fi
[ ! -e "$work/up" ] || fail "the daemon was left running after the second refusal"
echo "3 passed, 0 failed"
