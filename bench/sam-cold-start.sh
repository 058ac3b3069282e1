#!/usr/bin/env bash
# Cold starts under `sam local invoke`, arm64 (QEMU on an x86-64 host) and
# x86-64 side by side in one run: each invoke makes a new container, so each
# is a cold start. Prints each architecture's median wall time and SAM's
# "Init Duration" plus "Duration", and the ratio. Usage (after make
# sam-local has built both, or scripts/sam-base-image.sh and sam build):
#   bench/sam-cold-start.sh [RUNS] [FUNCTION]      # 5, GetOpenapiFunction
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5} fn=${2:-GetOpenapiFunction}
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
event=$(mktemp)
echo '{"resource":"/api/v1/openapi.json","path":"/api/v1/openapi.json","httpMethod":"GET","headers":{},"requestContext":{"requestId":"bench","identity":{"sourceIp":"127.0.0.1"}}}' >"$event"
# No AWS endpoint may be dialled: DynamoDB is the container's own loopback,
# which refuses at once (the limiter then fails open), so nothing is looked up.
envfile=$(mktemp)
echo '{"Parameters": {"DYNAMODB_ENDPOINT": "http://127.0.0.1:1", "TABLE_NAME": "bench"}}' >"$envfile"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A wall fnms
for arch in arm64 x86_64; do
  dir=.aws-sam/build; [ "$arch" = arm64 ] || dir=.aws-sam/build-$arch
  image=$(scripts/sam-base-image.sh "$arch")
  times=() inits=()
  for _ in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    report=$(.venv/bin/sam local invoke "$fn" -t "$dir/template.yaml" -e "$event" --env-vars "$envfile" --invoke-image "$image" --skip-pull-image 2>&1 >/dev/null | grep -o 'REPORT.*' || true)
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
    # The function's own cold start as the emulator reports it: its
    # runtime's init plus the invocation.
    inits+=($(echo "$report" | awk '{for (i=1;i<=NF;i++) {if ($i=="Init" && $(i+1)=="Duration:") s+=$(i+2); if ($i=="Duration:" && $(i-1)!="Init" && $(i-1)!="Billed") s+=$(i+1)}} END {printf "%.0f", s}'))
  done
  wall[$arch]=$(printf '%s\n' "${times[@]}" | median)
  fnms[$arch]=$(printf '%s\n' "${inits[@]}" | median)
  echo "$arch: $fn cold, init + invocation ms: ${inits[*]} (median ${fnms[$arch]}); whole sam local invoke ms: ${times[*]} (median ${wall[$arch]})"
done
awk -v a="${fnms[arm64]}" -v x="${fnms[x86_64]}" -v wa="${wall[arm64]}" -v wx="${wall[x86_64]}" 'BEGIN {
  printf "arm64 / x86_64, median init + invocation: %.1fx; whole sam local invoke: %.1fx\n", a / x, wa / wx }'
rm -f "$event" "$envfile"
