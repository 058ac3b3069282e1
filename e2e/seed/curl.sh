#!/usr/bin/env bash
# The curl examples of the authentication page (shared/seed/authentication.txt),
# one per subcommand, as written there with two kinds of change:
#
# - the base URL: http://localhost:3000 is "$BASE_URL", read from
#   WORKFLOWS_BASE_URL (default http://localhost:3000), so a test can point the
#   examples at its own server;
# - the blanks the page leaves for its reader are filled as its "Environment
#   Variables" section says: the key (wfk_your_api_key_here, YOUR_API_KEY) is
#   "$WORKFLOWS_API_KEY", {KEY_ID} is "$KEY_ID", and the "..." of the
#   environment-variable form is the list-workflows URL.
#
# Usage: WORKFLOWS_API_KEY=wfk_... curl.sh EXAMPLE
#   list-workflows   "Using Your API Key"
#   env-variable     "Environment Variables"
#   list-api-keys    "List API Keys"
#   create-api-key   "Create API Key"
#   revoke-api-key   "Revoke API Key" (needs KEY_ID)
set -eo pipefail

BASE_URL="${WORKFLOWS_BASE_URL:-http://localhost:3000}"

# Not on the page: curl prints what came back as one JSON object, so a test
# can read it: {"status": 200, "headers": {"name": ["value"]}, "body": "..."}.
curl() {
  local body_file meta body
  body_file=$(mktemp)
  meta=$(command curl --silent --show-error --output "$body_file" \
    --write-out '"status":%{http_code},"headers":%{header_json}' "$@")
  body=$(<"$body_file")
  rm -f "$body_file"
  body=${body//\\/\\\\}
  body=${body//\"/\\\"}
  body=${body//$'\t'/\\t}
  body=${body//$'\r'/\\r}
  body=${body//$'\n'/\\n}
  printf '{%s,"body":"%s"}\n' "$meta" "$body"
}

case "${1:-}" in
list-workflows)
  curl "$BASE_URL/api/v1/workflows" \
    -H "x-api-key: $WORKFLOWS_API_KEY"
  ;;
env-variable)
  # The page first sets the key: export WORKFLOWS_API_KEY=wfk_your_api_key_here
  curl -H "x-api-key: $WORKFLOWS_API_KEY" "$BASE_URL/api/v1/workflows"
  ;;
list-api-keys)
  curl "$BASE_URL/api/v1/auth/api-keys" \
    -H "x-api-key: $WORKFLOWS_API_KEY"
  ;;
create-api-key)
  curl -X POST "$BASE_URL/api/v1/auth/api-keys" \
    -H "x-api-key: $WORKFLOWS_API_KEY" \
    -H "Content-Type: application/json" \
    -d '{
      "name": "Production API Key",
      "scopes": ["workflows:read", "workflows:write", "workflows:execute"]
    }'
  ;;
revoke-api-key)
  curl -X DELETE "$BASE_URL/api/v1/auth/api-keys/$KEY_ID" \
    -H "x-api-key: $WORKFLOWS_API_KEY"
  ;;
*)
  echo "usage: $0 list-workflows|env-variable|list-api-keys|create-api-key|revoke-api-key" >&2
  exit 2
  ;;
esac
