// Package wire builds each function of the keys feature: the one
// constructor that its main and the local gateway both call.
package wire

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func handlers(env *lambdaenv.Env) *keys.Handlers {
	return keys.NewHandlers(keys.NewService(keysdb.New(env.DB, env.TableName), nil))
}

// ListAPIKeys is the handler of routes.ListAPIKeys.
func ListAPIKeys(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(handlers(env).List) }

// CreateAPIKey is the handler of routes.CreateAPIKey.
func CreateAPIKey(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(handlers(env).Create) }

// RevokeAPIKey is the handler of routes.RevokeAPIKey.
func RevokeAPIKey(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(handlers(env).Revoke) }

// RollAPIKey is the handler of routes.RollAPIKey.
func RollAPIKey(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(handlers(env).Roll) }
