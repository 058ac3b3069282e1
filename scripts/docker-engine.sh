#!/usr/bin/env bash
# The Docker engine that `make sam-local` and the SAM suite of `make test` run
# the functions' containers in.
#
#   docker-engine.sh ensure   use the engine DOCKER_HOST (or the default
#                             socket) points at; with none, start one (root
#                             only) and drop its bridge's forwarding. Prints
#                             "started" when this call started the daemon
#                             (the caller stops it), "running" otherwise.
#   docker-engine.sh stop     stop a daemon `ensure` started, and remove the
#                             forwarding rules it added.
#   docker-engine.sh owned    exit 0 only if the running daemon is one this
#                             project started (its pid is recorded)
#   docker-engine.sh check-forwarding
#                             exit 0 only if both DROP rules are in place.
#
# A daemon this project starts (on CI and on machines without Docker) must
# not let any container packet leave the machine: the functions may reach the
# host (dynalite, moto) and nothing else. So forwarding from and to its
# bridge is dropped, in FORWARD and in DOCKER-USER (which dockerd keeps first
# in FORWARD when it rewrites its own rules), and `ensure` checks the rules
# with `iptables -C` before it returns, refusing to go on without them. An
# engine the user runs (Docker Desktop, a system dockerd) is theirs: it is
# used as it is.
#
# DOCKER_ENGINE_INSTALL=1 lets `ensure` install Debian's docker.io when
# dockerd is missing (make test sets it); otherwise it says how in one line.
set -euo pipefail
cd "$(dirname "$0")/.."

# DOCKER_ENGINE_STATE moves the pid and log (scripts/test-docker-engine.sh).
state=${DOCKER_ENGINE_STATE:-.data/docker}
pidfile=$state/dockerd.pid
bridge=docker0

log() { echo "docker-engine: $*" >&2; }

engine_answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# started_here: a daemon whose pid this script recorded is still running.
started_here() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

forward_rules() {
  # chain direction: each rule this script owns.
  for chain in DOCKER-USER FORWARD; do
    for dir in -i -o; do echo "$chain $dir"; done
  done
}

check_forwarding() {
  local chain dir missing=0
  while read -r chain dir; do
    if ! iptables -C "$chain" "$dir" "$bridge" -j DROP 2>/dev/null; then
      log "no rule 'iptables -C $chain $dir $bridge -j DROP'"
      missing=1
    fi
  done < <(forward_rules)
  return "$missing"
}

add_forward_rules() {
  local chain dir
  while read -r chain dir; do
    iptables -C "$chain" "$dir" "$bridge" -j DROP 2>/dev/null || iptables -I "$chain" "$dir" "$bridge" -j DROP || true
  done < <(forward_rules)
}

remove_forward_rules() {
  local chain dir
  while read -r chain dir; do
    while iptables -D "$chain" "$dir" "$bridge" -j DROP 2>/dev/null; do :; done
  done < <(forward_rules)
}

refuse_without_rules() {
  if ! check_forwarding; then
    log "refusing to run containers: the Docker daemon this project started could forward packets off the machine (see docs/infrastructure.md, 'Network safety')"
    stop_daemon
    exit 1
  fi
}

stop_daemon() {
  if started_here; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  remove_forward_rules
}

install_docker() {
  if [ "${DOCKER_ENGINE_INSTALL:-0}" != 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "no Docker engine: install Docker Desktop, or on Debian/Ubuntu 'sudo apt-get install docker.io' and start 'sudo dockerd'"
    exit 1
  fi
  log "installing docker.io (Debian)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
}

ensure() {
  if started_here; then
    refuse_without_rules
    echo running
    return
  fi
  if engine_answers; then
    echo running
    return
  fi
  if ! command -v dockerd >/dev/null; then
    install_docker
  fi
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers, and starting dockerd needs root: start Docker (or 'sudo dockerd'), then try again"
    exit 1
  fi
  mkdir -p "$state"
  log "starting dockerd (log in $state/dockerd.log)"
  # --userland-proxy=false: with docker-proxy, a published port accepts a
  # connection before the container listens, and SAM then reads the reset as
  # "No response from invoke container" on every cold start under emulation.
  # Without it the port refuses until the emulator listens, which SAM waits
  # for.
  dockerd --pidfile "$pidfile" --userland-proxy=false >"$state/dockerd.log" 2>&1 &
  for _ in $(seq 1 300); do
    engine_answers && break
    if ! kill -0 $! 2>/dev/null; then
      log "dockerd exited:"; tail -5 "$state/dockerd.log" >&2; exit 1
    fi
    sleep 0.1
  done
  engine_answers || { log "dockerd did not answer within 30 s"; stop_daemon; exit 1; }
  add_forward_rules
  refuse_without_rules
  echo started
}

case "${1:-}" in
  ensure) ensure ;;
  stop) stop_daemon ;;
  owned) started_here ;;
  check-forwarding) check_forwarding ;;
  *) echo "usage: docker-engine.sh ensure|stop|owned|check-forwarding" >&2; exit 2 ;;
esac
