# Sourced by scripts/sam-local.sh and scripts/test-state-machine.sh: what
# both need to run SAM beside moto and the engine, and to stop all of it.
# The caller defines log() and holds the pids in the variables named here.

# No tool may look for credentials or a region off the machine: SAM hands
# these to every container, and boto3 in SAM and moto reads them too.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
unset AWS_SESSION_TOKEN AWS_PROFILE

forward_pids=() moto_pid= moto_port= events_pid=

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# bridge_gateway: the address of Docker's default bridge on this machine, which
# containers reach as host.docker.internal. dockerd 20.10 leaves Gateway out
# of the bridge's IPAM config when docker0 was already there as it started
# (a second start on one machine), so the bridge device's own address, which
# is the gateway, stands in.
bridge_gateway() {
  local ip
  ip=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
  if [ -z "$ip" ]; then
    local device
    device=$(docker network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || true)
    ip=$(ip -4 -o addr show "${device:-docker0}" 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
  fi
  [ -n "$ip" ] || { log "cannot tell the Docker bridge's address"; exit 1; }
  echo "$ip"
}

# forward HOST PORT LOGDIR: HOST:PORT -> 127.0.0.1:PORT, for containers to
# reach a server that listens on loopback only (scripts/bridge-forward.js).
forward() {
  local out=$3/forward-$2.log
  node scripts/bridge-forward.js "$1" "$2" "$2" >"$out" 2>&1 &
  forward_pids+=($!)
  for _ in $(seq 1 50); do grep -q '^forwarding' "$out" && return 0; sleep 0.1; done
  log "cannot forward $1:$2:"; cat "$out" >&2; exit 1
}

# start_moto LOGFILE: moto's server on a free loopback port; sets moto_pid
# and moto_port. The caller's environment passes on (MOTO_PORT, for one).
start_moto() {
  .venv/bin/python -c 'from moto.server import main; main()' -H 127.0.0.1 -p 0 >"$1" 2>&1 &
  moto_pid=$!
  for _ in $(seq 1 200); do
    moto_port=$(grep -o 'Running on http://127.0.0.1:[0-9]*' "$1" | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$moto_port" ] && return 0
    kill -0 "$moto_pid" 2>/dev/null || { log "moto exited:"; cat "$1" >&2; exit 1; }
    sleep 0.1
  done
  log "moto did not start"; exit 1
}

# record_sam_containers FILE: every Lambda container created from now on,
# by id, into FILE (sets events_pid).
record_sam_containers() {
  : >"$1"
  docker events --filter type=container --filter event=create --filter label=sam.cli.container.type=lambda \
    --format '{{.ID}}' >>"$1" &
  events_pid=$!
}

# stop_sam PGID SAMLOG CONTAINERS: SAM ignores SIGINT while it serves and
# leaves containers behind on SIGTERM, so its process group (it runs under
# setsid) gets TERM, then KILL; then the containers it started are removed
# by id: those created while it ran that its own log names
# (SAM_CONTAINER_ID), so that another SAM's on the same engine are left
# alone. Then the forwarders and moto stop.
stop_sam() {
  local pgid=$1 samlog=$2 containers=$3 ids pid
  if [ -n "$pgid" ]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  [ -z "$events_pid" ] || kill "$events_pid" 2>/dev/null || true
  ids=$( { grep -ho 'SAM_CONTAINER_ID: [0-9a-f]*' "$samlog" 2>/dev/null | cut -d' ' -f2 | sort -u; sort -u "$containers" 2>/dev/null; } | sort | uniq -d)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null 2>&1 || true
    log "removed $(echo "$ids" | wc -l) container(s) SAM started"
  fi
  for pid in "${forward_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true
}
