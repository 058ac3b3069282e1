package gatewayresponse_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
)

// apiGatewayTypes is every gateway response type of API Gateway REST APIs
// (the developer guide's "Gateway response types"), with what answers it
// when the API installs no entry of its own.
var apiGatewayTypes = map[string]string{
	"ACCESS_DENIED": "", "API_CONFIGURATION_ERROR": "DEFAULT_5XX", "AUTHORIZER_CONFIGURATION_ERROR": "",
	"AUTHORIZER_FAILURE": "", "BAD_REQUEST_PARAMETERS": "DEFAULT_4XX", "BAD_REQUEST_BODY": "",
	"DEFAULT_4XX": "", "DEFAULT_5XX": "", "EXPIRED_TOKEN": "DEFAULT_4XX", "INTEGRATION_FAILURE": "DEFAULT_5XX",
	"INTEGRATION_TIMEOUT": "DEFAULT_5XX", "INVALID_API_KEY": "DEFAULT_4XX", "INVALID_SIGNATURE": "DEFAULT_4XX",
	"MISSING_AUTHENTICATION_TOKEN": "", "QUOTA_EXCEEDED": "DEFAULT_4XX", "REQUEST_TOO_LARGE": "",
	"RESOURCE_NOT_FOUND": "", "THROTTLED": "", "UNAUTHORIZED": "", "UNSUPPORTED_MEDIA_TYPE": "DEFAULT_4XX",
	"WAF_FILTERED": "",
}

func TestEveryTypeThatCanHappenHasItsEntryAndTheRestFallToADefault(t *testing.T) {
	installed := map[string]bool{}
	for _, gr := range gatewayresponse.All {
		if _, known := apiGatewayTypes[gr.Type]; !known {
			t.Errorf("%s is not a gateway response type of API Gateway", gr.Type)
		}
		if installed[gr.Type] {
			t.Errorf("%s is listed twice", gr.Type)
		}
		installed[gr.Type] = true
	}
	for typ, fallback := range apiGatewayTypes {
		if fallback == "" && !installed[typ] {
			t.Errorf("%s can happen here but has no entry: API Gateway would answer it with its own body (or a default's)", typ)
		}
		if fallback != "" && installed[typ] {
			t.Errorf("%s has an entry; take it out of the fallbacks in this test (and the comment in gatewayresponse.go)", typ)
		}
	}
}

// Code and status agree, as the contract lists them; every body is the
// envelope.
func TestEachResponseCodeBelongsToItsStatus(t *testing.T) {
	all := append(slices.Clone(gatewayresponse.All), gatewayresponse.MethodNotAllowed, gatewayresponse.FirewallRateLimited(12000))
	for _, gr := range all {
		if gr.StatusCode != 0 && gr.Code.Status() != gr.StatusCode {
			t.Errorf("%s answers %d with %s, whose status is %d", gr.Type, gr.StatusCode, gr.Code, gr.Code.Status())
		}
		var body struct {
			Success *bool
			Error   struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(gr.Body()), &body); err != nil || body.Success == nil || *body.Success || body.Error.Code != string(gr.Code) || body.Error.Message == "" {
			t.Errorf("%s: body %s is not the error envelope (%v)", gr.Type, gr.Body(), err)
		}
	}
}

func TestAnAuthorizerThatErrorsIsTheSame503AsOneThatFails(t *testing.T) {
	got, want := gatewayresponse.AuthorizerConfigurationError, gatewayresponse.AuthorizerFailure
	if got.StatusCode != 503 || got.StatusCode != want.StatusCode || got.Body() != want.Body() {
		t.Errorf("AUTHORIZER_CONFIGURATION_ERROR answers %d %s, want AUTHORIZER_FAILURE's %d %s", got.StatusCode, got.Body(), want.StatusCode, want.Body())
	}
}

func TestDefault4XXIsNotAValidationError(t *testing.T) {
	if gatewayresponse.Default4XX.Code == domain.CodeValidation {
		t.Error("DEFAULT_4XX says VALIDATION_ERROR for refusals that are not one")
	}
}

// The edge's 429s speak the seed page's body and carry Retry-After; no
// X-RateLimit-* headers, which only the function knows.
func TestTheEdgesRateLimitAnswersAreTheSeeds(t *testing.T) {
	for _, gr := range []gatewayresponse.Response{gatewayresponse.Throttled, gatewayresponse.FirewallRateLimited(12000)} {
		if gr.StatusCode != 429 || gr.Code != domain.CodeRateLimited || !strings.HasPrefix(gr.Message, "Rate limit exceeded. ") {
			t.Errorf("%s: %d %s %q, want 429 RATE_LIMITED with the seed's \"Rate limit exceeded.\"", gr.Type, gr.StatusCode, gr.Code, gr.Message)
		}
		if gr.RetryAfter <= 0 {
			t.Errorf("%s: no Retry-After", gr.Type)
		}
	}
	if got, want := gatewayresponse.FirewallRateLimited(12000).Message, "Rate limit exceeded. Limit: 12000 requests per minute per source IP."; got != want {
		t.Errorf("the firewall says %q, want %q", got, want)
	}
	headers := gatewayresponse.Throttled.ResponseHeaders()
	if headers["Retry-After"] != "'1'" || headers["X-Request-Id"] != "context.requestId" {
		t.Errorf("THROTTLED headers %v, want Retry-After '1' and X-Request-Id", headers)
	}
	for name := range headers {
		if strings.HasPrefix(name, "X-RateLimit-") {
			t.Errorf("THROTTLED carries %s", name)
		}
	}
	if _, set := gatewayresponse.Unauthorized.ResponseHeaders()["Retry-After"]; set {
		t.Error("UNAUTHORIZED carries Retry-After")
	}
}
