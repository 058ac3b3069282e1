// Package routes is the one route table of the API: method, path, Lambda
// function, scope and rate-limit category of every route. The local gateway
// routes from it, the CDK stack builds from it, and a test holds template.yaml
// to it. Nothing else lists routes by hand.
package routes

import (
	"strings"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ratelimit"
)

// BasePath prefixes every route.
const BasePath = "/api/v1"

// Route is one method on one path.
type Route struct {
	Method string
	// Path is the API Gateway resource path, with {name} path parameters.
	Path string
	// Function names the route's Lambda: its folder under functions/ and its
	// handler in package httpapi.
	Function string
	// Scope is the scope a key needs; empty for routes that do not take a key.
	Scope domain.Scope
	// Category is the rate-limit category.
	Category ratelimit.Category
}

// Authenticated reports whether the route sits behind the key authorizer.
// The webhook route instead checks the workflow's signature itself.
func (r Route) Authenticated() bool { return r.Scope != "" }

// All is every route of the API.
var All = []Route{
	{"GET", BasePath + "/workflows", "list-workflows", domain.ScopeWorkflowsRead, ratelimit.CategoryRead},
	{"POST", BasePath + "/workflows", "create-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite},
	{"GET", BasePath + "/workflows/{id}", "get-workflow", domain.ScopeWorkflowsRead, ratelimit.CategoryRead},
	{"PUT", BasePath + "/workflows/{id}", "update-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite},
	{"DELETE", BasePath + "/workflows/{id}", "delete-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite},
	{"POST", BasePath + "/workflows/{id}/run", "run-workflow", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute},
	{"GET", BasePath + "/runs", "list-runs", domain.ScopeRunsRead, ratelimit.CategoryRead},
	{"GET", BasePath + "/runs/{id}", "get-run", domain.ScopeRunsRead, ratelimit.CategoryRead},
	{"POST", BasePath + "/runs/{id}/cancel", "cancel-run", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute},
	{"POST", BasePath + "/runs/{id}/retry", "retry-run", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute},
	{"GET", BasePath + "/connections", "list-connections", domain.ScopeConnectionsRead, ratelimit.CategoryRead},
	{"GET", BasePath + "/connections/{id}", "get-connection", domain.ScopeConnectionsRead, ratelimit.CategoryRead},
	{"POST", BasePath + "/connections", "create-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite},
	{"PUT", BasePath + "/connections/{id}", "update-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite},
	{"DELETE", BasePath + "/connections/{id}", "delete-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite},
	{"GET", BasePath + "/auth/api-keys", "list-api-keys", domain.ScopeKeysRead, ratelimit.CategoryRead},
	{"POST", BasePath + "/auth/api-keys", "create-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite},
	{"DELETE", BasePath + "/auth/api-keys/{id}", "revoke-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite},
	{"POST", BasePath + "/auth/api-keys/{id}/roll", "roll-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite},
	{"POST", BasePath + "/webhooks/{workflowId}", "receive-webhook", "", ratelimit.CategoryWebhooks},
}

// AuthorizerFunction names the REQUEST authorizer's Lambda.
const AuthorizerFunction = "authorizer"

// ByFunction returns the route served by the named function.
func ByFunction(name string) (Route, bool) {
	for _, r := range All {
		if r.Function == name {
			return r, true
		}
	}
	return Route{}, false
}

// Match finds the route for a method and a request path. It returns the
// route, its path parameters, and pathKnown=true if some route has this path
// (so a wrong method can be told from an unknown path).
func Match(method, path string) (route Route, params map[string]string, pathKnown bool) {
	for _, r := range All {
		p, ok := matchPath(r.Path, path)
		if !ok {
			continue
		}
		pathKnown = true
		if r.Method == method {
			return r, p, true
		}
	}
	return Route{}, nil, pathKnown
}

// AllowedMethods lists the methods that routes on path accept.
func AllowedMethods(path string) []string {
	var out []string
	for _, r := range All {
		if _, ok := matchPath(r.Path, path); ok {
			out = append(out, r.Method)
		}
	}
	return out
}

func matchPath(template, path string) (map[string]string, bool) {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = ps[i]
			continue
		}
		if t != ps[i] {
			return nil, false
		}
	}
	return params, true
}
