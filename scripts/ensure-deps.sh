#!/usr/bin/env bash
# Installs what the project needs and the machine lacks, from the committed
# lock files only: `ensure-deps.sh node` (npm ci from package-lock.json),
# `ensure-deps.sh python` (a .venv from requirements-dev.txt), `ensure-deps.sh go`
# (Go modules from go.sum), `ensure-deps.sh chromium` (Debian's chromium, for
# the console's browser tests; never a downloaded browser build). Each step
# is skipped when its lock file has not changed since it last ran (chromium:
# when /usr/bin/chromium is there), so `make dev` and `make test` stay quick.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "ensure-deps: '$1' is required but not installed ($2)" >&2; exit 1; }
}

# stale STAMP LOCK: true when LOCK's content differs from the copy in STAMP
# made by the last install (content, not time: LOCK may be rewritten as is).
stale() { [ ! -f "$1" ] || ! cmp -s "$2" "$1"; }

for part in "$@"; do
  case "$part" in
    node)
      need node "Node.js 20 or newer"; need npm "npm"
      if stale node_modules/.lock-installed package-lock.json; then
        echo "ensure-deps: npm ci" >&2
        npm ci --no-audit --no-fund --loglevel=error >&2
        cp package-lock.json node_modules/.lock-installed
      fi
      ;;
    python)
      # requirements-dev.txt: the infrastructure checks (cfn-lint, SAM CLI),
      # schemathesis and moto's server;
      # e2e/requirements.txt: what the seed page's Python example imports.
      need python3 "Python 3.10 or newer"
      cat requirements-dev.txt e2e/requirements.txt 2>/dev/null >.requirements.wanted || true
      if stale .venv/.requirements-installed .requirements.wanted; then
        echo "ensure-deps: python venv from requirements-dev.txt and e2e/requirements.txt" >&2
        python3 -m venv .venv
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r .requirements.wanted >&2
        cp .requirements.wanted .venv/.requirements-installed
      fi
      rm -f .requirements.wanted
      ;;
    go)
      need go "Go 1.26 or newer"
      go mod download
      ;;
    chromium)
      # The console's browser tests (internal/console/browser) drive
      # Debian's own package, headless. An install that fails on a stale
      # package index is tried once more after apt-get update.
      if [ ! -x /usr/bin/chromium ]; then
        need apt-get "Debian's package manager, to install chromium"
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        echo "ensure-deps: apt-get install chromium" >&2
        export DEBIAN_FRONTEND=noninteractive
        if ! $sudo apt-get install -y --no-install-recommends chromium >&2; then
          $sudo apt-get update >&2
          $sudo apt-get install -y --no-install-recommends chromium >&2
        fi
        [ -x /usr/bin/chromium ] || { echo "ensure-deps: chromium installed, but /usr/bin/chromium is missing" >&2; exit 1; }
      fi
      ;;
    *) echo "ensure-deps: unknown part $part" >&2; exit 2 ;;
  esac
done
