package httpapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// LambdaHandler is the signature of a route function's Lambda handler.
type LambdaHandler func(ctx context.Context, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

type pathParamsKey struct{}

func pathParams(ctx context.Context) map[string]string {
	p, _ := ctx.Value(pathParamsKey{}).(map[string]string)
	return p
}

// Lambda serves h from API Gateway proxy events through
// aws-lambda-go-api-proxy. The event's path parameters become the request's
// path values (r.PathValue), since one function serves one route and needs no
// router of its own.
func Lambda(h http.Handler) LambdaHandler {
	adapter := httpadapter.New(h)
	return func(ctx context.Context, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		ctx = context.WithValue(ctx, pathParamsKey{}, event.PathParameters)
		return adapter.ProxyWithContext(ctx, event)
	}
}
