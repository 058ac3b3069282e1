package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

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
		event.Path = escapePath(event.Path)
		return adapter.ProxyWithContext(ctx, event)
	}
}

// escapePath percent-encodes each segment of the decoded path API Gateway
// sends. The proxy adapter parses the path as a URL, and a path parameter
// holding a control character (…/api-keys/abc%0Adef arrives as "abc\ndef")
// would otherwise fail that parse and the function would answer 502; escaped,
// the request is built, r.URL.Path decodes back to the path as sent, and the
// pipeline answers the id 404 like any id that cannot be ours.
func escapePath(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}
