#!/usr/bin/env bash
# The run state machine executed for real (issue 14): moto's Step Functions
# interpreter runs sfn.Definition, whose Tasks invoke the runner binary in
# Lambda's container under `sam local start-lambda`, against dynalite; the
# Go tests of internal/orchestrator/sfn/sfnexec (build tag samlocal) take one
# run of each kind through it and through the local driver, and compare;
# then a workflow step's parent and child, a wait_for_signal run signalled
# as signal-run signals it, and one never signalled (its step's 60 s, spent
# while the other runs go through).
# Prints the ASL path of each run and the runner's cold and warm times, and
# stops all it started (SAM's containers by id).
#
#   LAMBDA_GOARCH=arm64|amd64   the runner's architecture (arm64, as
#                               deployed, runs under QEMU here; amd64 needs
#                               the x86_64 base image)
#
# How the Task reaches the runner: moto's interpreter calls Lambda through
# boto3 at http://localhost:$MOTO_PORT (moto.settings.moto_server_port), so
# moto is started with MOTO_PORT set to the port of the test's Lambda shim,
# which passes each Invoke on to `sam local start-lambda` (the shim times the
# invocations, and turns the emulator's answer for a timed-out invocation,
# a plain 200 "Task timed out after N seconds", into Lambda's: an Unhandled
# error of type Sandbox.Timedout). Containers reach dynalite and moto (KMS)
# through forwarders on the Docker bridge's address.
set -euo pipefail
cd "$(dirname "$0")/.."

goarch=${LAMBDA_GOARCH:-arm64}
case "$goarch" in
  arm64) sam_arch=arm64 ;;
  amd64) sam_arch=x86_64 ;;
  *) echo "test-state-machine: LAMBDA_GOARCH must be arm64 or amd64" >&2; exit 2 ;;
esac
table=workflows-sfnexec

log() { echo "test-state-machine: $*" >&2; }

# Local credentials, forwarders, moto, and stopping SAM (shared with
# scripts/sam-local.sh).
. scripts/sam-lib.sh

work=$(mktemp -d /tmp/test-state-machine.XXXXXX)
started_daemon=0 engine_started=0 sam_sid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_sam "$sam_sid" "$work/sam.log" "$work/containers"
  if [ "$engine_started" = 1 ]; then kill "$(cat "$work/data/dynalite.pid")" 2>/dev/null || true; fi
  [ "$started_daemon" = 0 ] || scripts/docker-engine.sh stop
  if [ "$rc" = 0 ]; then rm -rf "$work"; else log "logs kept in $work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Docker, and the base image built from local packages (SAM never pulls).
engine=$(scripts/docker-engine.sh ensure)
[ "$engine" != started ] || started_daemon=1
image=$(scripts/sam-base-image.sh "$sam_arch")
bridge_ip=$(bridge_gateway)

# 2. dynalite on a free port, data in the temporary directory.
read -r endpoint engine_state < <(scripts/local-engine.sh "$work/data" "$(free_port)" || echo failed)
[ "$endpoint" != failed ] || exit 1
[ "$engine_state" != started ] || engine_started=1
dynamo_port=${endpoint##*:}
DYNAMODB_ENDPOINT=$endpoint TABLE_NAME=$table go run ./cmd/wfctl setup >&2

# 3. moto, calling "Lambda" at the shim's port.
shim_port=$(free_port)
MOTO_PORT=$shim_port start_moto "$work/moto.log"
kms_key=$(.venv/bin/python -c 'import sys, boto3
print(boto3.client("kms", endpoint_url=sys.argv[1]).create_key(Description="sfnexec")["KeyMetadata"]["Arn"])' "http://127.0.0.1:$moto_port")
# The runner's signal key (SIGNAL_KEY_ID), an HMAC key as the stack's.
signal_key=$(.venv/bin/python -c 'import sys, boto3
print(boto3.client("kms", endpoint_url=sys.argv[1]).create_key(Description="sfnexec signals", KeySpec="HMAC_256",
    KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"])' "http://127.0.0.1:$moto_port")

# 4. The containers reach dynalite and moto through the bridge's address.
forward "$bridge_ip" "$dynamo_port" "$work"
forward "$bridge_ip" "$moto_port" "$work"
stall_port=$(free_port)

# 5. The runner binary, built as `make lambdas` builds it, and a template of
# its own: template.yaml's RunnerFunction (its timeout and memory) plus the
# same code with a 5 s timeout and its DynamoDB behind the test's proxy
# (RunnerBriefFunction: retry back-offs through Wait, timeouts). HTTP_STEP_TARGETS is declared so
# that SAM passes it: template.yaml does not declare it for the runner.
mkdir -p "$work/runner"
GOOS=linux GOARCH=$goarch CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" \
  -o "$work/runner/bootstrap" ./functions/runner
.venv/bin/python - "$work" "$sam_arch" <<'EOF'
import sys
from samcli.yamlhelper import yaml_parse, yaml_dump
work, arch = sys.argv[1], sys.argv[2]
source = yaml_parse(open("template.yaml").read())
runner = source["Resources"]["RunnerFunction"]["Properties"]
memory = runner.get("MemorySize", source["Globals"]["Function"].get("MemorySize", 128))
def function(timeout):
    return {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": f"{work}/runner", "Handler": "bootstrap", "Runtime": "provided.al2023",
        "Architectures": [arch], "MemorySize": memory, "Timeout": timeout,
        "Environment": {"Variables": {name: "" for name in
            ["TABLE_NAME", "DYNAMODB_ENDPOINT", "LOG_LEVEL", "KMS_KEY_ID", "KMS_ENDPOINT", "SIGNAL_KEY_ID", "HTTP_STEP_TARGETS",
             "STATE_MACHINE_ARN", "SFN_ENDPOINT"]}}}}
template = {"AWSTemplateFormatVersion": "2010-09-09", "Transform": "AWS::Serverless-2016-10-31", "Resources": {
    "RunnerFunction": function(runner["Timeout"]),
    "RunnerBriefFunction": function(5)}}
open(f"{work}/template.yaml", "w").write(yaml_dump(template))
EOF
# Each function runs under its own state machine, which the tests create in
# moto under these names (sfnexec's machineName): the runner starts a
# workflow step's child there and completes its parent's task token.
machine_suffix=$(date +%H%M%S)-$$
machine_arn() { echo "arn:aws:states:us-east-1:123456789012:stateMachine:runs-$1-$machine_suffix"; }
cat >"$work/env.json" <<EOF
{"Parameters": {"TABLE_NAME": "$table", "DYNAMODB_ENDPOINT": "http://host.docker.internal:$dynamo_port",
  "LOG_LEVEL": "INFO", "KMS_KEY_ID": "$kms_key", "KMS_ENDPOINT": "http://host.docker.internal:$moto_port",
  "SIGNAL_KEY_ID": "$signal_key",
  "HTTP_STEP_TARGETS": "loopback", "SFN_ENDPOINT": "http://host.docker.internal:$moto_port"},
 "RunnerFunction": {"STATE_MACHINE_ARN": "$(machine_arn RunnerFunction)"},
 "RunnerBriefFunction": {"DYNAMODB_ENDPOINT": "http://host.docker.internal:$stall_port", "STATE_MACHINE_ARN": "$(machine_arn RunnerBriefFunction)"}}
EOF

# 6. sam local start-lambda, in a session of its own, every Lambda container
# created meanwhile recorded.
record_sam_containers "$work/containers"
sam_port=$(free_port)
(cd "$work" && exec setsid "$OLDPWD/.venv/bin/sam" local start-lambda --template "$work/template.yaml" \
  --host 127.0.0.1 --port "$sam_port" --env-vars "$work/env.json" --add-host host.docker.internal:host-gateway \
  --warm-containers LAZY --container-host 127.0.0.1 --invoke-image "$image" --skip-pull-image) >"$work/sam.log" 2>&1 &
sam_sid=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$sam_port/" && break
  kill -0 "$sam_sid" 2>/dev/null || { log "sam exited:"; tail -20 "$work/sam.log" >&2; exit 1; }
  sleep 0.2
done
log "moto :$moto_port (Lambda at :$shim_port), sam local start-lambda :$sam_port, dynalite :$dynamo_port ($goarch runner)"

# 7. The tests.
rc=0
SFNEXEC_MOTO=http://127.0.0.1:$moto_port SFNEXEC_SAM=http://127.0.0.1:$sam_port \
  SFNEXEC_SHIM_LISTEN=127.0.0.1:$shim_port SFNEXEC_STALL_LISTEN=$bridge_ip:$stall_port \
  DYNAMODB_ENDPOINT=$endpoint TABLE_NAME=$table SFNEXEC_REPORT=$work/report.txt SFNEXEC_MACHINE_SUFFIX=$machine_suffix \
  go test -tags samlocal -count=1 -v -timeout 5m ./internal/orchestrator/sfn/sfnexec/ >"$work/test.log" 2>&1 || rc=$?
grep -E '^(=== RUN|--- |\s+statemachine_test|PASS|FAIL|ok)' "$work/test.log" >&2 || cat "$work/test.log" >&2
echo
echo "ASL paths and runner invocations ($goarch runner):"
cat "$work/report.txt" 2>/dev/null || true
echo "SAM's reports (Init Duration = the runtime's own start, container creation apart):"
grep -o 'REPORT RequestId.*' "$work/sam.log" | sed -E 's/RequestId: [0-9a-f-]+\s*//; s/\s+Memory Size.*//' | sort | uniq -c | sort -rn | head -5 || true
[ "$rc" = 0 ] || cp "$work/test.log" "$work/test.failed.log"
exit "$rc"
