// Package wire builds each function of the connections feature: the one
// constructor that its main and the local gateway both call. Only the
// functions that seal credentials take the sealer (KMS in Lambda, a local
// key file in the local gateway); the others have no KMS grant.
package wire

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
)

func handlers(env *lambdaenv.Env, sealer secrets.Sealer) *connections.Handlers {
	return connections.NewHandlers(connections.NewService(connectionsdb.New(env.DB, env.TableName), sealer, nil))
}

// ListConnections is the handler of routes.ListConnections.
func ListConnections(env *lambdaenv.Env) http.Handler {
	return http.HandlerFunc(handlers(env, nil).List)
}

// GetConnection is the handler of routes.GetConnection.
func GetConnection(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(handlers(env, nil).Get) }

// DeleteConnection is the handler of routes.DeleteConnection.
func DeleteConnection(env *lambdaenv.Env) http.Handler {
	return http.HandlerFunc(handlers(env, nil).Delete)
}

// CreateConnection is the handler of routes.CreateConnection: sealer seals
// the credentials.
func CreateConnection(env *lambdaenv.Env, sealer secrets.Sealer) http.Handler {
	return http.HandlerFunc(handlers(env, sealer).Create)
}

// UpdateConnection is the handler of routes.UpdateConnection: sealer seals
// the new credentials.
func UpdateConnection(env *lambdaenv.Env, sealer secrets.Sealer) http.Handler {
	return http.HandlerFunc(handlers(env, sealer).Update)
}
