# The two commands: `make dev` serves the API on localhost:3000 (PORT
# overrides), `make test` runs the whole suite. Both install what they need.
.PHONY: dev test lint bench help console-screenshots

help:
	@echo "make dev    serve the API on localhost:\$${PORT:-3000} with dynalite, data in .data/"
	@echo "make test   the whole test suite (starts its own servers)"
	@echo "make sam-local  the same API under sam local start-api (Docker), on localhost:\$${PORT:-3000}"
	@echo "make lint   gofmt, go vet, staticcheck"
	@echo "make console-screenshots  the console's browser tests (Debian's chromium), writing each view at 1280 and 360 px to docs/console/"
	@echo "make bench  the authorizer benchmark, DynamoDB calls per route, the gateway's own time, runs/s beside dynalite's ceiling with calls, transitions and cost per run, the two runs' cost on the machine each goes on, and every function's size and start-up beside its floor"

dev:
	@scripts/dev.sh

test:
	@scripts/test.sh

lint:
	@scripts/ensure-deps.sh go
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	go tool staticcheck ./...

bench:
	@scripts/ensure-deps.sh node go
	go test -run '^$$' -bench . -benchmem ./internal/authorizer/
	go test -count=1 -run TestDynamoDBCallsPerRoute -v ./internal/localapp/
	go test -run '^$$' -bench GatewayOwnTime -benchtime 3000x -benchmem ./internal/localapp/
	go test -run '^$$' -bench RunThroughput -benchtime 200x ./internal/runner/runnerit/
	go test -run '^$$' -bench RunCost -benchtime 100x ./internal/runner/runnerit/
	@$(MAKE) --no-print-directory lambda-startup

# The console's browser tests (internal/console/browser), which also write
# the screenshots of each view committed under docs/console/. Their own
# dynalite, as scripts/test.sh starts one for the Go tests.
console-screenshots:
	@scripts/ensure-deps.sh node go chromium
	@pidfile=$$(mktemp); trap 'kill "$$(cat "$$pidfile")" 2>/dev/null || true; rm -f "$$pidfile"' EXIT; \
	endpoint=$$(scripts/start-dynalite.sh 0 "" "$$pidfile") && \
	DYNAMODB_ENDPOINT=$$endpoint HTTP_STEP_TARGETS=loopback CONSOLE_SCREENSHOTS_DIR=$(CURDIR)/docs/console \
	  go test -count=1 -v ./internal/console/browser/

-include infra/infra.mk
