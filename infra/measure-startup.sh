#!/usr/bin/env bash
# make lambda-startup: every Lambda's bootstrap size and start-up time beside
# its floor and hello-world's, measured in one run (bench/startup, which
# says how). The RIE comes from the Go module proxy.
#
# Usage: infra/measure-startup.sh [cold starts per function, default 7]
# Prints the figures as Markdown on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-7}"
# The RIE's module publishes no release tags the proxy serves; this is the
# pseudo-version the proxy listed as newest when the figures were first made.
rie_version="v0.0.0-20261030222936-bef5c4ba774d"
tools="$PWD/bin/tools"

echo "building the RIE ${rie_version}" >&2
GOBIN="$tools" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${rie_version}"
make --no-print-directory lambdas >&2
exec go run ./bench/startup -runs "$runs" -rie "$tools/aws-lambda-rie"
