// Package wire builds the authorizer function: the one constructor that its
// main and the local gateway both call.
package wire

import (
	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// Authorizer resolves a request's key from its hash in the table.
func Authorizer(env *lambdaenv.Env) *authorizer.Authorizer {
	return authorizer.New(keysdb.New(env.DB, env.TableName), nil, env.Logger)
}
