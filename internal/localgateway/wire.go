package localgateway

import (
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

// FromServices builds a Gateway whose functions and authorizer are the same
// Lambda handlers the deployed functions run, on services.
func FromServices(services *lambdaapp.Services) (*Gateway, error) {
	functions := map[string]httpapi.LambdaHandler{}
	for _, r := range routes.All {
		h, err := services.RouteHandler(r.Function)
		if err != nil {
			return nil, err
		}
		functions[r.Function] = h
	}
	return New(functions, services.Authorizer().Handle, services.Logger)
}
