// Package routes is the one table of the API's Lambda functions: every route
// (method, path, function, scope, rate-limit category, the feature that
// serves it) and the functions that are not routes (the authorizer now; the
// runner and scheduler later), with the AWS actions each may call and the
// links between features each may make. The local gateway routes from it, the
// CDK stack and the generated template.yaml (infra/samtemplate) are built
// from it, and tests hold the OpenAPI document and every function's imports
// to it. Nothing else lists routes or
// permissions by hand.
package routes

import (
	"net/url"
	"strings"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/ratelimit"
)

// BasePath prefixes every route of the API; the console's pages sit beside
// it, at the root (ConsolePath).
const BasePath = "/api/v1"

// ConsolePath is the console's page (docs/console.md). It is not under
// BasePath: the page is for people, not a resource of the API, and it names
// its assets relative to itself (console/console.<hash>.js), so that it works
// under a stage's prefix too.
const ConsolePath = "/console"

// Route is one method on one path, served by one Lambda function. A function
// may serve more than one route (the console's page and its assets); those
// routes differ in their path only, so that one pipeline, built on the first
// of them, serves them all (TestRoutesSharingAFunctionDifferInPathOnly).
type Route struct {
	Method string
	// Path is the API Gateway resource path, with {name} path parameters.
	Path string
	// Function names the route's Lambda: its folder under functions/.
	Function string
	// Scope is the scope a key needs; empty for routes that take no key.
	Scope domain.Scope
	// Category is the rate-limit category.
	Category ratelimit.Category
	// Feature is the feature package that serves the route (see Features).
	Feature Feature
	// PathIDs gives, for each path parameter that holds one of our ids, the
	// id's prefix: the pipeline answers 404 for a value that cannot be such
	// an id, before the feature reads anything.
	PathIDs map[string]string
	// Built is false while the route's feature is not built: its function
	// answers 501 NOT_IMPLEMENTED after authentication, the limiter and the
	// scope check, and the OpenAPI document marks its operation so.
	Built bool
}

// Authenticated reports whether the route sits behind the key authorizer.
// The webhook route checks the workflow's signature itself, and the OpenAPI
// document is public.
func (r Route) Authenticated() bool { return r.Scope != "" }

// The routes. Each is a variable so that a function's main names its route
// in code, not by a string.
var (
	ListWorkflows  = Route{"GET", BasePath + "/workflows", "list-workflows", domain.ScopeWorkflowsRead, ratelimit.CategoryRead, FeatureWorkflows, nil, true}
	CreateWorkflow = Route{"POST", BasePath + "/workflows", "create-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite, FeatureWorkflows, nil, true}
	GetWorkflow    = Route{"GET", BasePath + "/workflows/{id}", "get-workflow", domain.ScopeWorkflowsRead, ratelimit.CategoryRead, FeatureWorkflows, workflowID, true}
	UpdateWorkflow = Route{"PUT", BasePath + "/workflows/{id}", "update-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite, FeatureWorkflows, workflowID, true}
	DeleteWorkflow = Route{"DELETE", BasePath + "/workflows/{id}", "delete-workflow", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite, FeatureWorkflows, workflowID, true}
	RunWorkflow    = Route{"POST", BasePath + "/workflows/{id}/run", "run-workflow", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute, FeatureRuns, workflowID, true}

	RollWebhookSecret = Route{"POST", BasePath + "/workflows/{id}/webhook/roll", "roll-webhook-secret", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite, FeatureWebhooks, workflowID, true}
	// RollNotifySecret rolls a workflow's notification secret, which signs
	// the events its runs send (notify); internal/webhooks keeps both
	// kinds of secret.
	RollNotifySecret = Route{"POST", BasePath + "/workflows/{id}/notify/roll", "roll-notify-secret", domain.ScopeWorkflowsWrite, ratelimit.CategoryWrite, FeatureWebhooks, workflowID, true}

	ListRuns = Route{"GET", BasePath + "/runs", "list-runs", domain.ScopeRunsRead, ratelimit.CategoryRead, FeatureRuns, nil, true}
	GetRun   = Route{"GET", BasePath + "/runs/{id}", "get-run", domain.ScopeRunsRead, ratelimit.CategoryRead, FeatureRuns, runID, true}
	// GetRunStep gives one step of a run whole: GET /runs/{id} cuts outputs
	// over 16 KiB. stepId is the workflow's own step id, not one of ours.
	GetRunStep = Route{"GET", BasePath + "/runs/{id}/steps/{stepId}", "get-run-step", domain.ScopeRunsRead, ratelimit.CategoryRead, FeatureRuns, runID, true}
	CancelRun  = Route{"POST", BasePath + "/runs/{id}/cancel", "cancel-run", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute, FeatureRuns, runID, true}
	RetryRun   = Route{"POST", BasePath + "/runs/{id}/retry", "retry-run", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute, FeatureRuns, runID, true}
	// SignalRun completes a run's wait_for_signal step with the caller's
	// data. stepId is the workflow's own step id.
	SignalRun = Route{"POST", BasePath + "/runs/{id}/signals/{stepId}", "signal-run", domain.ScopeWorkflowsExecute, ratelimit.CategoryExecute, FeatureRuns, runID, true}
	// ReceiveSignal is a wait_for_signal step's signalUrl: the token in the
	// path is the capability, so it takes no key and is limited per IP as
	// the webhook route is.
	ReceiveSignal = Route{"POST", BasePath + "/signals/{token}", "receive-signal", "", ratelimit.CategoryWebhooks, FeatureRuns, nil, true}

	ListConnections  = Route{"GET", BasePath + "/connections", "list-connections", domain.ScopeConnectionsRead, ratelimit.CategoryRead, FeatureConnections, nil, true}
	GetConnection    = Route{"GET", BasePath + "/connections/{id}", "get-connection", domain.ScopeConnectionsRead, ratelimit.CategoryRead, FeatureConnections, connectionID, true}
	CreateConnection = Route{"POST", BasePath + "/connections", "create-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite, FeatureConnections, nil, true}
	UpdateConnection = Route{"PUT", BasePath + "/connections/{id}", "update-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite, FeatureConnections, connectionID, true}
	DeleteConnection = Route{"DELETE", BasePath + "/connections/{id}", "delete-connection", domain.ScopeConnectionsWrite, ratelimit.CategoryWrite, FeatureConnections, connectionID, true}

	ListAPIKeys  = Route{"GET", BasePath + "/auth/api-keys", "list-api-keys", domain.ScopeKeysRead, ratelimit.CategoryRead, FeatureKeys, nil, true}
	CreateAPIKey = Route{"POST", BasePath + "/auth/api-keys", "create-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite, FeatureKeys, nil, true}
	RevokeAPIKey = Route{"DELETE", BasePath + "/auth/api-keys/{id}", "revoke-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite, FeatureKeys, keyID, true}
	RollAPIKey   = Route{"POST", BasePath + "/auth/api-keys/{id}/roll", "roll-api-key", domain.ScopeKeysWrite, ratelimit.CategoryWrite, FeatureKeys, keyID, true}

	ReceiveWebhook = Route{"POST", BasePath + "/webhooks/{workflowId}", "receive-webhook", "", ratelimit.CategoryWebhooks, FeatureWebhookReceive, map[string]string{"workflowId": ids.PrefixWorkflow}, true}

	GetOpenAPI = Route{"GET", BasePath + "/openapi.json", "get-openapi", "", ratelimit.CategoryPublic, FeatureOpenAPI, nil, true}

	// GetConsole and GetConsoleAsset are the console: the page, and the
	// script and stylesheet it names by their content's hash. One function
	// serves both, so the assets are embedded and hashed once, and a page's
	// three requests meet one warm function instead of waking two. Public
	// like the document: the page holds no data; the key is pasted into it.
	GetConsole      = Route{"GET", ConsolePath, "get-console", "", ratelimit.CategoryPublic, FeatureConsole, nil, true}
	GetConsoleAsset = Route{"GET", ConsolePath + "/{asset}", "get-console", "", ratelimit.CategoryPublic, FeatureConsole, nil, true}
)

var (
	workflowID   = map[string]string{"id": ids.PrefixWorkflow}
	runID        = map[string]string{"id": ids.PrefixRun}
	connectionID = map[string]string{"id": ids.PrefixConnection}
	keyID        = map[string]string{"id": ids.PrefixKey}
)

// All is every route of the API, in the order the contract lists them.
var All = []*Route{
	&ListWorkflows, &CreateWorkflow, &GetWorkflow, &UpdateWorkflow, &DeleteWorkflow, &RunWorkflow, &RollWebhookSecret, &RollNotifySecret,
	&ListRuns, &GetRun, &GetRunStep, &CancelRun, &RetryRun, &SignalRun,
	&ListConnections, &GetConnection, &CreateConnection, &UpdateConnection, &DeleteConnection,
	&ListAPIKeys, &CreateAPIKey, &RevokeAPIKey, &RollAPIKey,
	&ReceiveWebhook, &ReceiveSignal,
	&GetOpenAPI,
	&GetConsole, &GetConsoleAsset,
}

// ByFunction returns the route served by the named function: the first of
// them in All when it serves more than one, the one its main starts.
func ByFunction(name string) (*Route, bool) {
	for _, r := range All {
		if r.Function == name {
			return r, true
		}
	}
	return nil, false
}

// RoutesOf returns every route the named function serves, in All's order;
// nil for a function that is not a route's.
func RoutesOf(name string) []*Route {
	var out []*Route
	for _, r := range All {
		if r.Function == name {
			out = append(out, r)
		}
	}
	return out
}

// Match finds the route for a method and an escaped request path (as
// url.URL.EscapedPath gives it). It returns the route (nil if none), its
// path parameters, decoded, and pathKnown=true if some route has this path
// (so a wrong method can be told from an unknown path). Segments are split
// before they are decoded, as API Gateway does: an id holding %2F is one
// segment, not two.
func Match(method, path string) (route *Route, params map[string]string, pathKnown bool) {
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
	return nil, nil, pathKnown
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
	for i, p := range ps {
		decoded, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		ps[i] = decoded
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
