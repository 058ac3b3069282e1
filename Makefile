# The two commands: `make dev` serves the API on localhost:3000 (PORT
# overrides), `make test` runs the whole suite. Both install what they need.
.PHONY: dev test lint bench help

help:
	@echo "make dev    serve the API on localhost:\$${PORT:-3000} with dynalite, data in .data/"
	@echo "make test   the whole test suite (starts its own servers)"
	@echo "make sam-local  the same API under sam local start-api (Docker), on localhost:\$${PORT:-3000}"
	@echo "make lint   gofmt, go vet, staticcheck"
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

-include infra/infra.mk
