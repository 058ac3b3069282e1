package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/routes"
)

// FuzzAssetPath: whatever follows /console/, the console answers an asset
// it has, or the 404 envelope, or the redirect of /console/ to the page;
// every answer carries the CSP, and nothing panics.
func FuzzAssetPath(f *testing.F) {
	for _, seed := range []string{"", "console.js", "console.css", "console.0123456789ab.js", "../console.go",
		"%2e%2e%2fconsole.go", "index.html", "assets/console.js", "console.js%00", "\x00", strings.Repeat("a", 4096)} {
		f.Add(seed)
	}
	for name := range embeddedSite().assets {
		f.Add(name)
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, segment string) {
		target := routes.ConsolePath + "/" + url.PathEscape(segment)
		req := httptest.NewRequest(http.MethodGet, "http://localhost"+routes.ConsolePath+"/", nil)
		req.URL.RawPath, req.URL.Path = target, routes.ConsolePath+"/"+segment
		if route, params, _ := routes.Match(http.MethodGet, req.URL.EscapedPath()); route != nil {
			for name, value := range params {
				req.SetPathValue(name, value)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Fatalf("%q: no CSP", segment)
		}
		switch rec.Code {
		case http.StatusOK:
			if _, ok := embeddedSite().assets[segment]; !ok && segment != "" {
				t.Fatalf("%q: 200 for no asset", segment)
			}
		case http.StatusPermanentRedirect:
			if segment != "" {
				t.Fatalf("%q: redirected", segment)
			}
		case http.StatusNotFound:
			var body struct {
				Success bool `json:"success"`
				Error   struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Success || body.Error.Code != "NOT_FOUND" {
				t.Fatalf("%q: 404 body %s", segment, rec.Body)
			}
		default:
			t.Fatalf("%q: status %d", segment, rec.Code)
		}
	})
}
