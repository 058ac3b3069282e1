// Package writes builds the functions of the workflows feature that write a
// definition (create and update): the one constructor that each main and
// the local gateway both call. It gives the service the definition's rules
// (internal/workflows/definition): parsing, validation and the compilers
// they use, which only these two routes link.
package writes

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	"github.com/workflowsapi/workflows/internal/workflows/wire"
)

func handlers(env *lambdaenv.Env, w wire.Writes) *workflows.Handlers {
	return workflows.NewHandlers(wire.Service(env, w).WithRules(definition.Rules{}))
}

// CreateWorkflow is the handler of routes.CreateWorkflow.
func CreateWorkflow(env *lambdaenv.Env, w wire.Writes) http.Handler {
	return http.HandlerFunc(handlers(env, w).Create)
}

// UpdateWorkflow is the handler of routes.UpdateWorkflow.
func UpdateWorkflow(env *lambdaenv.Env, w wire.Writes) http.Handler {
	return http.HandlerFunc(handlers(env, w).Update)
}
