package openapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/openapi/contract"
)

// fromYAML decodes the YAML file on disk independently of the package's
// converter, into the values encoding/json would give.
func fromYAML(t *testing.T) any {
	t.Helper()
	src, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	// A round trip through encoding/json gives numbers and maps the shapes
	// json.Unmarshal gives.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("the YAML has a value JSON cannot hold: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	body := rec.Body.Bytes()

	t.Run("it answers 200 with application/json", func(t *testing.T) {
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
		}
	})
	t.Run("it serves JSON equal to the YAML document", func(t *testing.T) {
		var served any
		if err := json.Unmarshal(body, &served); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if !reflect.DeepEqual(served, fromYAML(t)) {
			t.Fatal("the served JSON differs from openapi.yaml")
		}
	})
	t.Run("it serves what JSON returns", func(t *testing.T) {
		if !bytes.Equal(body, openapi.JSON()) {
			t.Fatal("Handler and JSON disagree")
		}
	})
	t.Run("it keeps the YAML's key order", func(t *testing.T) {
		if !bytes.HasPrefix(body, []byte(`{"openapi":"3.1.0","info":{"title":"Workflows API"`)) {
			t.Fatalf("starts %s", body[:60])
		}
	})
	t.Run("it leaves text such as <version> unescaped", func(t *testing.T) {
		if bytes.Contains(body, []byte(`\u003c`)) {
			t.Fatal("HTML-escaped text in the document")
		}
	})
	t.Run("JSON returns a copy the caller may change", func(t *testing.T) {
		b := openapi.JSON()
		b[0] = 'x'
		if openapi.JSON()[0] != '{' {
			t.Fatal("changing the result of JSON changed the document")
		}
	})
	t.Run("with the pipeline's headers, its answer is within the contract", func(t *testing.T) {
		v, err := contract.New()
		if err != nil {
			t.Fatal(err)
		}
		header := rec.Header().Clone()
		header.Set("X-Request-Id", "r-1")
		header.Set("X-RateLimit-Limit", "1000")
		header.Set("X-RateLimit-Remaining", "999")
		header.Set("X-RateLimit-Reset", "1795800060")
		req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil)
		resp := &http.Response{StatusCode: rec.Code, Header: header, Body: io.NopCloser(bytes.NewReader(body))}
		if err := v.Check(req, nil, resp, body); err != nil {
			t.Fatal(err)
		}
	})
}
