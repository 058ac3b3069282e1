package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// PublicURL is the absolute URL a client uses for path (a route's path, e.g.
// /api/v1/webhooks/wf_…), on the host and stage the request came in on: the
// API Gateway domain and stage (https://{api}.execute-api.{region}.amazonaws.com/prod),
// a custom domain and its base path, or the local gateway
// (http://localhost:3000). It is what links in responses (a webhook's URL)
// are made of, so they work wherever the API is served.
func PublicURL(r *http.Request, path string) string {
	scheme := "https"
	if proto := r.Header.Get("X-Forwarded-Proto"); proto == "http" {
		scheme = "http"
	}
	host, prefix := r.Host, ""
	if gw, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok && gw.DomainName != "" {
		host = gw.DomainName
		// The gateway's path is the client's: the stage or base path, then
		// the resource path the function sees. What comes before is the
		// prefix of every URL of this API.
		if resourcePath, err := url.PathUnescape(r.URL.EscapedPath()); err == nil {
			prefix = strings.TrimSuffix(gw.Path, resourcePath)
		}
	}
	return scheme + "://" + host + strings.TrimSuffix(prefix, "/") + path
}
