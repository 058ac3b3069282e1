# The infrastructure targets (issue 3). The root Makefile includes this file;
# every path here is relative to the repository root, where make runs.
#
#   make lambdas     build every function's bootstrap into bin/<function>/
#   make synth       write the CDK stack's template to infra/cdk.out/ (cdk-nag's
#                    AwsSolutions and Serverless packs run in it; an
#                    unsuppressed error fails it)
#   make infra-test  gofmt, vet, staticcheck and the tests of the infra module
#                    (which run cdk-nag on every stage they synthesize), cdk
#                    synth, cfn-lint on both templates, sam validate --lint and
#                    sam build
#   make lambda-startup  each bootstrap's size and start-up time under the
#                    Lambda Runtime Interface Emulator (docs/performance.md)
#   make samtemplate write template.yaml, the SAM twin, from the tables the
#                    stack is built from (infra/samtemplate); the infra
#                    module's tests fail when the committed one is stale
#
# Nothing here needs an AWS account, credentials or Docker. The tools come
# from the lock files through scripts/ensure-deps.sh: aws-cdk from
# package-lock.json (npm ci), cfn-lint and the SAM CLI from
# requirements-dev.txt (into .venv).

INFRA_STAGE ?= dev

# LAMBDA_GOARCH=amd64 builds x86-64 bootstraps for `make sam-local` on an
# x86-64 machine (no emulation), into bin/linux-amd64/ so the arm64 ones cdk
# deploys are left as they are.
LAMBDA_GOARCH ?= arm64
INFRA_BIN := $(if $(filter arm64,$(LAMBDA_GOARCH)),bin,bin/linux-$(LAMBDA_GOARCH))
INFRA_FUNCTIONS = $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
# One set of flags for every bootstrap: the binaries cdk deploys, sam build
# builds and docs/performance.md measures are the same.
INFRA_GO_LAMBDA_ENV := GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0
INFRA_GO_LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"

INFRA_VENV := .venv
INFRA_CDK := node_modules/.bin/cdk

# Keep the tools off the network and quiet: no version checks, no telemetry,
# no EC2 metadata lookups for credentials. Node 20, which this machine has,
# works with jsii but is past jsii's support date; the warning says so on
# every run, which buries the output (see docs/infrastructure.md).
INFRA_TOOL_ENV := CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true \
	SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true \
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=20
# cfn-lint and sam validate need a region to check against, not an account.
INFRA_LINT_REGION := us-east-1

.PHONY: lambdas synth infra-test lambda-startup samtemplate infra-node-tools infra-python-tools sam-local

# The whole API under `sam local start-api` on localhost:$${PORT:-3000}
# (scripts/sam-local.sh; docs/infrastructure.md, "Running with sam local").
sam-local:
	@scripts/sam-local.sh

# One go build for every function, into bin/.build/<function>, which is kept:
# go build relinks only the binaries whose code changed since they were
# written, so a second `make lambdas` costs well under a second. Each is
# then hard-linked as bin/<function>/bootstrap, the asset cdk deploys.
lambdas:
	$(INFRA_GO_LAMBDA_ENV) go build $(INFRA_GO_LAMBDA_FLAGS) -o $(INFRA_BIN)/.build/ ./functions/...
	@for fn in $(INFRA_FUNCTIONS); do \
		mkdir -p $(INFRA_BIN)/$$fn && ln -f $(INFRA_BIN)/.build/$$fn $(INFRA_BIN)/$$fn/bootstrap || exit 1; \
	done

# template.yaml is generated, never edited: routes.Functions(),
# infra/blueprint, internal/gatewayresponse, store.TableDefinition and
# sfn.Definition say what it holds.
samtemplate:
	cd infra && go run ./cmd/samtemplate -o ../template.yaml

# sam build's builder for template.yaml (Metadata: BuildMethod: makefile,
# ContextPath and WorkingDirectory the repository root). sam build runs
# `make build-<LogicalId>` here once per function, with ARTIFACTS_DIR set; the
# function of ListApiKeysFunction is list-api-keys. It is the go build of
# `make lambdas` for that one function: after `make lambdas` go finds the
# binary up to date and it is only copied, and without it the function is
# built. Either way sam build compiles nothing `make lambdas` compiled.
build-%Function: INFRA_SAM_FUNCTION = $(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]')
build-%Function:
	@test -n "$(ARTIFACTS_DIR)" || { echo "$@: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	@test -f functions/$(INFRA_SAM_FUNCTION)/main.go || { echo "$@: no functions/$(INFRA_SAM_FUNCTION)/main.go" >&2; exit 1; }
	$(INFRA_GO_LAMBDA_ENV) go build $(INFRA_GO_LAMBDA_FLAGS) -o $(INFRA_BIN)/.build/$(INFRA_SAM_FUNCTION) ./functions/$(INFRA_SAM_FUNCTION)
	@mkdir -p $(INFRA_BIN)/$(INFRA_SAM_FUNCTION) && ln -f $(INFRA_BIN)/.build/$(INFRA_SAM_FUNCTION) $(INFRA_BIN)/$(INFRA_SAM_FUNCTION)/bootstrap
	cp $(INFRA_BIN)/$(INFRA_SAM_FUNCTION)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"

synth: lambdas infra-node-tools
	rm -rf infra/cdk.out
	cd infra && $(INFRA_TOOL_ENV) ../$(INFRA_CDK) synth --quiet --no-notices --output cdk.out -c stage=$(INFRA_STAGE)

infra-test: synth infra-python-tools
	@test -z "$$(gofmt -l infra)" || (gofmt -l infra; exit 1)
	cd infra && go vet ./... && go tool staticcheck ./... && $(INFRA_TOOL_ENV) go test -count=1 ./...
	$(INFRA_VENV)/bin/cfn-lint --config-file infra/cfn-lint-synthesized.yaml --regions $(INFRA_LINT_REGION) -- infra/cdk.out/*.template.json
	$(INFRA_VENV)/bin/cfn-lint --regions $(INFRA_LINT_REGION) -- template.yaml
	$(INFRA_TOOL_ENV) $(INFRA_VENV)/bin/sam validate --lint --template template.yaml --region $(INFRA_LINT_REGION)
	$(INFRA_TOOL_ENV) $(INFRA_VENV)/bin/sam build --template template.yaml

# Runs per function; the table is written to stdout.
LAMBDA_STARTUP_RUNS ?= 7

lambda-startup:
	@infra/measure-startup.sh $(LAMBDA_STARTUP_RUNS)

infra-node-tools:
	@scripts/ensure-deps.sh node

infra-python-tools:
	@scripts/ensure-deps.sh python
