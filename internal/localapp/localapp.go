// Package localapp wires every function of the route table in one process,
// as each function's main wires its own in AWS, and puts them behind the
// local gateway: what `make dev` serves and what the end-to-end tests run.
package localapp

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localgateway"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Deps is what the features need beyond the App: in AWS each function's main
// builds its own from the environment.
type Deps struct {
	// Sealer encrypts connection credentials and webhook secrets: the local
	// key-wrapping key under .data/ for make dev, one in a temporary
	// directory for tests.
	Sealer secrets.Sealer
}

// FeatureHandlers is, for every built route, the handler its function's main
// hands to the pipeline. A route absent here answers 501 NOT_IMPLEMENTED;
// TestEveryBuiltRouteIsWired holds this to routes.Route.Built.
func FeatureHandlers(app *lambdaapp.App, deps Deps) map[*routes.Route]http.Handler {
	keyHandlers := keys.NewHandlers(keys.NewService(keysdb.New(app.DB, app.TableName), nil))
	workflowHandlers := workflows.NewHandlers(workflows.NewService(workflowsdb.New(app.DB, app.TableName), connectionsdb.New(app.DB, app.TableName), webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), deps.Sealer), nil))
	connectionHandlers := connections.NewHandlers(connections.NewService(connectionsdb.New(app.DB, app.TableName), deps.Sealer, nil))
	return map[*routes.Route]http.Handler{
		&routes.ListWorkflows:  http.HandlerFunc(workflowHandlers.List),
		&routes.CreateWorkflow: http.HandlerFunc(workflowHandlers.Create),
		&routes.GetWorkflow:    http.HandlerFunc(workflowHandlers.Get),
		&routes.UpdateWorkflow: http.HandlerFunc(workflowHandlers.Update),
		&routes.DeleteWorkflow: http.HandlerFunc(workflowHandlers.Delete),

		&routes.ListAPIKeys:  http.HandlerFunc(keyHandlers.List),
		&routes.CreateAPIKey: http.HandlerFunc(keyHandlers.Create),
		&routes.RevokeAPIKey: http.HandlerFunc(keyHandlers.Revoke),
		&routes.RollAPIKey:   http.HandlerFunc(keyHandlers.Roll),
		&routes.GetOpenAPI:   openapi.Handler(),

		&routes.ListConnections:  http.HandlerFunc(connectionHandlers.List),
		&routes.GetConnection:    http.HandlerFunc(connectionHandlers.Get),
		&routes.CreateConnection: http.HandlerFunc(connectionHandlers.Create),
		&routes.UpdateConnection: http.HandlerFunc(connectionHandlers.Update),
		&routes.DeleteConnection: http.HandlerFunc(connectionHandlers.Delete),

		&routes.RollWebhookSecret: http.HandlerFunc(webhooks.NewHandlers(webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), deps.Sealer)).Roll),
	}
}

// Functions returns the Lambda handler of every route's function, by
// function name.
func Functions(app *lambdaapp.App, deps Deps) map[string]httpapi.LambdaHandler {
	features := FeatureHandlers(app, deps)
	functions := map[string]httpapi.LambdaHandler{}
	for _, r := range routes.All {
		feature, ok := features[r]
		if !ok {
			feature = httpapi.NotImplemented
		}
		functions[r.Function] = app.Route(r, feature)
	}
	return functions
}

// Authorizer is the authorizer function's handler, as its main wires it.
func Authorizer(app *lambdaapp.App) *authorizer.Authorizer {
	return authorizer.New(keysdb.New(app.DB, app.TableName), nil, app.Logger)
}

// Gateway serves every function of app through the local gateway.
func Gateway(app *lambdaapp.App, deps Deps) (*localgateway.Gateway, error) {
	return localgateway.New(Functions(app, deps), Authorizer(app).Handle, app.Logger)
}
