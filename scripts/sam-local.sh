#!/usr/bin/env bash
# make sam-local: the whole API under `sam local start-api` on
# localhost:$PORT (3000), every function the binary `cdk deploy` ships,
# running in Docker against the same local engine as `make dev`
# (DYNAMODB_PORT, 8000; data in .data/), with Step Functions, Scheduler and
# KMS answered by moto's server. Ctrl-C (or SIGTERM) stops all it started:
# SAM, every container SAM started (by id), moto, the forwarders, and the
# engine and Docker daemon if it started them.
#
#   PORT=3000 DYNAMODB_PORT=8000        where it serves, and the engine's port
#   LAMBDA_GOARCH=arm64|amd64           amd64 runs natively on an x86-64
#                                       machine, about 6x faster cold starts
#                                       than arm64 under QEMU; arm64 is what
#                                       is deployed
#   SAM_WARM_CONTAINERS=LAZY|EAGER      SAM's --warm-containers
#   SAM_LOCAL_BASE_IMAGE=auto|local|pull  local builds the base image from
#                                       Debian packages (scripts/sam-base-image.sh);
#                                       auto does so on a Docker daemon this
#                                       project started, and leaves other
#                                       engines to pull SAM's own image
#   SAM_LOCAL_DATA=.data                the data directory
#
# docs/infrastructure.md ("Running with sam local") explains each step and
# where SAM's answers differ from API Gateway's.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-3000}
dynamodb_port=${DYNAMODB_PORT:-8000}
data=${SAM_LOCAL_DATA:-.data}
goarch=${LAMBDA_GOARCH:-arm64}
warm=${SAM_WARM_CONTAINERS:-LAZY}
base_image_mode=${SAM_LOCAL_BASE_IMAGE:-auto}
table=${TABLE_NAME:-workflows-local}
case "$goarch" in
  arm64) sam_arch=arm64 ;;
  amd64) sam_arch=x86_64 ;;
  *) echo "sam-local: LAMBDA_GOARCH must be arm64 or amd64, not $goarch" >&2; exit 2 ;;
esac
state=$data/sam
mkdir -p "$state"

log() { echo "sam-local: $*" >&2; }

# Local credentials, forwarders, moto, and stopping SAM (shared with
# scripts/test-state-machine.sh).
. scripts/sam-lib.sh

# Everything started here is stopped in reverse order by cleanup.
started_engine=0 started_daemon=0 sam_pid=
cleanup() {
  trap - EXIT INT TERM
  stop_sam "$sam_pid" "$state/sam.log" "$state/containers"
  rm -f "$state/containers"
  if [ "$started_engine" = 1 ]; then
    kill "$(cat "$data/dynalite.pid")" 2>/dev/null || true
    rm -f "$data/dynalite.endpoint" "$data/dynalite.pid"
  fi
  [ "$started_daemon" = 0 ] || scripts/docker-engine.sh stop
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/ensure-deps.sh node python go

# 1. A Docker engine (with forwarding off its bridge dropped, if ours).
engine=$(scripts/docker-engine.sh ensure)
[ "$engine" != started ] || started_daemon=1
if [ "$base_image_mode" = auto ]; then
  # A daemon this project started is on a machine that cannot pull (it had
  # no Docker of its own): it gets the local image and never tries a pull.
  base_image_mode=pull
  scripts/docker-engine.sh owned && base_image_mode=local
fi
image_flags=()
if [ "$base_image_mode" = local ]; then
  image=$(scripts/sam-base-image.sh "$sam_arch")
  image_flags=(--invoke-image "$image" --skip-pull-image)
  log "base image $image (built from Debian packages)"
fi

# 2. The engine, shared with `make dev` on the same data.
read -r endpoint engine_state < <(scripts/local-engine.sh "$data" "$dynamodb_port" || echo failed)
[ "$endpoint" != failed ] || exit 1
[ "$engine_state" != started ] || started_engine=1
engine_port=${endpoint##*:}
DYNAMODB_ENDPOINT=$endpoint TABLE_NAME=$table go run ./cmd/wfctl setup >&2

# 3. The functions reach the host as host.docker.internal, the bridge's
# gateway address. The engine and moto listen on loopback only, so a
# forwarder on the bridge address carries the containers' connections to
# them, and nothing listens on the machine's other interfaces.
bridge_ip=$(bridge_gateway)
forward "$bridge_ip" "$engine_port" "$state"

# 4. moto's server for Step Functions, Scheduler and KMS.
start_moto "$state/moto.log"
forward "$bridge_ip" "$moto_port" "$state"
aws_env=$(.venv/bin/python scripts/sam-local-aws.py "http://127.0.0.1:$moto_port" "http://host.docker.internal:$moto_port")

# 5. The functions' environment: every variable the template declares that
# SAM may set (sam local overrides only declared ones).
{
  echo "TABLE_NAME=$table"
  echo "DYNAMODB_ENDPOINT=http://host.docker.internal:$engine_port"
  echo "$aws_env"
} | .venv/bin/python -c 'import json,sys; print(json.dumps({"Parameters": dict(l.strip().split("=",1) for l in sys.stdin if l.strip())}, indent=2))' >"$state/env.json"

# 6. sam build: the bootstraps `make lambdas` builds (go build decides what
# is stale). amd64 builds a copy of the template with x86_64 functions, into
# a build directory of its own, so the arm64 binaries cdk deploys are left
# alone.
template=template.yaml build_dir=.aws-sam/build
if [ "$sam_arch" != arm64 ]; then
  template=.sam-local-$sam_arch.template.yaml build_dir=.aws-sam/build-$sam_arch
  sed -E 's/^( +)- arm64$/\1- '"$sam_arch"'/' template.yaml >"$template"
fi
log "sam build ($sam_arch)"
# One go build for every function first (go builds them in parallel and
# relinks only what changed); sam build's per-function make then only copies.
make --no-print-directory lambdas LAMBDA_GOARCH="$goarch" >"$state/lambdas.log" 2>&1 || { cat "$state/lambdas.log" >&2; exit 1; }
LAMBDA_GOARCH=$goarch .venv/bin/sam build --template "$template" --build-dir "$build_dir" \
  --config-file "$PWD/samconfig.toml" >"$state/build.log" 2>&1 || { cat "$state/build.log" >&2; exit 1; }

# 7. Every container SAM creates is recorded by id, to be removed at stop.
: >"$state/sam.log"
record_sam_containers "$state/containers"

# 8. SAM, in a process group of its own (setsid) so that stopping it stops
# all it runs.
log "sam local start-api on http://127.0.0.1:$port (logs in $state/sam.log)"
setsid .venv/bin/sam local start-api --template "$build_dir/template.yaml" --config-file "$PWD/samconfig.toml" \
  --host 127.0.0.1 --port "$port" --env-vars "$state/env.json" \
  --add-host host.docker.internal:host-gateway --warm-containers "$warm" \
  --container-host 127.0.0.1 "${image_flags[@]}" >"$state/sam.log" 2>&1 &
sam_pid=$!
for _ in $(seq 1 600); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/openapi.json"; then break; fi
  kill -0 "$sam_pid" 2>/dev/null || { log "sam exited:"; tail -20 "$state/sam.log" >&2; exit 1; }
  sleep 0.5
done
echo "sam-local: serving http://localhost:$port (DynamoDB $endpoint, moto http://127.0.0.1:$moto_port); Ctrl-C stops it" >&2
echo "sam-local: make a key with: go run ./cmd/wfctl keys create --account acct_demo --name dev --scopes all" >&2
wait "$sam_pid"
