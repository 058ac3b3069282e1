package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/workflowsapi/workflows/internal/routes"
)

// serve sends one request to the handler as the pipeline hands it over: the
// route's path parameters (routes.Match's) set as path values.
func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for name, values := range header {
		req.Header[name] = values
	}
	route, params, _ := routes.Match(http.MethodGet, req.URL.EscapedPath())
	if route == nil || route.Feature != routes.FeatureConsole {
		t.Fatalf("%s is no route of the console", target)
	}
	for name, value := range params {
		req.SetPathValue(name, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// documentedCSP is the policy docs/console.md states, read from it.
func documentedCSP(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "console.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)Content-Security-Policy \\(`([^`]+)`\\)").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/console.md states no Content-Security-Policy (`...`)")
	}
	return strings.Join(strings.Fields(string(m[1])), " ")
}

func requireSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder, csp string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for name, value := range want {
		if got := rec.Header().Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("%s: %q, want %q", name, got, value)
		}
	}
}

func requireStrongETag(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	etag := rec.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not a strong entity tag of a content hash", etag)
	}
	return etag
}

// references are the src and href values of the page that name a file: not
// a fragment (#/runs), not a data: URI.
func references(page []byte) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']([^"']*)["']`).FindAllSubmatch(page, -1) {
		ref := string(m[1])
		if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "data:") {
			continue
		}
		out = append(out, ref)
	}
	return out
}

func TestThePage(t *testing.T) {
	h := Handler()
	csp := documentedCSP(t)
	page := serve(t, h, "GET", "/console", nil)

	t.Run("is the HTML with no-cache, a strong ETag and every security header", func(t *testing.T) {
		if page.Code != 200 {
			t.Fatalf("status %d: %s", page.Code, page.Body)
		}
		if ct := page.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := page.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("Cache-Control %q, want no-cache", cc)
		}
		requireStrongETag(t, page)
		requireSecurityHeaders(t, page, csp)
		if !bytes.Contains(page.Body.Bytes(), []byte("<html")) {
			t.Errorf("the body is not the page: %.200s", page.Body)
		}
	})

	t.Run("its CSP is exactly the one docs/console.md states", func(t *testing.T) {
		if ContentSecurityPolicy != csp {
			t.Errorf("ContentSecurityPolicy is\n%s\ndocs/console.md says\n%s", ContentSecurityPolicy, csp)
		}
	})

	t.Run("its ETag is the hash of the page as served", func(t *testing.T) {
		sum := sha256.Sum256(page.Body.Bytes())
		if want := `"` + hex.EncodeToString(sum[:])[:32] + `"`; page.Header().Get("ETag") != want {
			t.Errorf("ETag %s, want %s", page.Header().Get("ETag"), want)
		}
	})

	t.Run("a repeat with its ETag is 304 without a body, with the same headers", func(t *testing.T) {
		etag := page.Header().Get("ETag")
		for _, ifNoneMatch := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			rec := serve(t, h, "GET", "/console", http.Header{"If-None-Match": {ifNoneMatch}})
			if rec.Code != 304 || rec.Body.Len() != 0 {
				t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", ifNoneMatch, rec.Code, rec.Body.Len())
			}
			if rec.Header().Get("ETag") != etag || rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("If-None-Match %s: ETag %q, Cache-Control %q", ifNoneMatch, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
			}
			requireSecurityHeaders(t, rec, csp)
		}
		if rec := serve(t, h, "GET", "/console", http.Header{"If-None-Match": {`"stale"`}}); rec.Code != 200 {
			t.Errorf("another ETag: %d, want 200", rec.Code)
		}
	})

	t.Run("it names only hashed assets, and the handler serves each", func(t *testing.T) {
		refs := references(page.Body.Bytes())
		var kinds []string
		for _, ref := range refs {
			m := regexp.MustCompile(`^console/(console\.([0-9a-f]{12})\.(js|css))$`).FindStringSubmatch(ref)
			if m == nil {
				t.Errorf("the page names %q, which is not console/console.<12 hex>.js or .css", ref)
				continue
			}
			kinds = append(kinds, m[3])
			rec := serve(t, h, "GET", "/"+ref, nil)
			if rec.Code != 200 {
				t.Errorf("%s: %d %s", ref, rec.Code, rec.Body)
				continue
			}
			sum := sha256.Sum256(rec.Body.Bytes())
			if hex.EncodeToString(sum[:])[:12] != m[2] {
				t.Errorf("%s serves content whose hash begins %x", ref, sum[:6])
			}
		}
		if strings.Join(kinds, ",") != "css,js" && strings.Join(kinds, ",") != "js,css" {
			t.Errorf("the page names %v; want its one stylesheet and its one script", refs)
		}
	})

	t.Run("HEAD is GET without the body", func(t *testing.T) {
		rec := serve(t, h, "HEAD", "/console", nil)
		if rec.Code != 200 || rec.Body.Len() != 0 {
			t.Fatalf("%d with %d bytes", rec.Code, rec.Body.Len())
		}
		if rec.Header().Get("ETag") != page.Header().Get("ETag") || rec.Header().Get("Content-Length") != page.Header().Get("Content-Length") {
			t.Errorf("ETag %q, Content-Length %q; GET gave %q, %q", rec.Header().Get("ETag"), rec.Header().Get("Content-Length"),
				page.Header().Get("ETag"), page.Header().Get("Content-Length"))
		}
		requireSecurityHeaders(t, rec, csp)
	})

	t.Run("a trailing slash is sent to the page by a relative Location", func(t *testing.T) {
		for target, want := range map[string]string{"/console/": "../console", "/console//": "../../console"} {
			rec := serve(t, h, "GET", target, nil)
			if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != want {
				t.Errorf("%s: %d, Location %q; want 308 and %s", target, rec.Code, rec.Header().Get("Location"), want)
			}
			requireSecurityHeaders(t, rec, csp)
		}
	})
}

func TestTheAssets(t *testing.T) {
	h := Handler()
	csp := documentedCSP(t)
	page := serve(t, h, "GET", "/console", nil)
	types := map[string]string{"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
	for _, ref := range references(page.Body.Bytes()) {
		t.Run(ref, func(t *testing.T) {
			rec := serve(t, h, "GET", "/"+ref, nil)
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if want := types[ref[strings.LastIndex(ref, ".")+1:]]; rec.Header().Get("Content-Type") != want {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), want)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", cc)
			}
			etag := requireStrongETag(t, rec)
			requireSecurityHeaders(t, rec, csp)
			again := serve(t, h, "GET", "/"+ref, http.Header{"If-None-Match": {etag}})
			if again.Code != 304 || again.Body.Len() != 0 || again.Header().Get("ETag") != etag {
				t.Errorf("a repeat with its ETag: %d, %d bytes, ETag %q", again.Code, again.Body.Len(), again.Header().Get("ETag"))
			}
			requireSecurityHeaders(t, again, csp)
			head := serve(t, h, "HEAD", "/"+ref, nil)
			if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Type") != rec.Header().Get("Content-Type") {
				t.Errorf("HEAD: %d, %d bytes, Content-Type %q", head.Code, head.Body.Len(), head.Header().Get("Content-Type"))
			}
		})
	}

	t.Run("any other name is 404 in the error envelope, with the security headers", func(t *testing.T) {
		for _, name := range []string{"console.js", "console.css", "index.html", "console.000000000000.js", "..%2Findex.html", "%00"} {
			rec := serve(t, h, "GET", "/console/"+name, nil)
			if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: %d %q", name, rec.Code, rec.Header().Get("Content-Type"))
				continue
			}
			var body struct {
				Success bool
				Error   struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Success || body.Error.Code != "NOT_FOUND" || body.Error.Message == "" {
				t.Errorf("%s: body %s", name, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "" || rec.Header().Get("ETag") != "" {
				t.Errorf("%s: a 404 with Cache-Control %q, ETag %q", name, rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"))
			}
			requireSecurityHeaders(t, rec, csp)
		}
	})
}

func TestOnlyGETAndHEADAreAnswered(t *testing.T) {
	req := httptest.NewRequest("POST", "/console", nil)
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("%d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	requireSecurityHeaders(t, rec, documentedCSP(t))
}

func TestBuild(t *testing.T) {
	page := `<link rel="stylesheet" href="console/console.css"><script src="console/console.js" defer></script>` +
		`<script src="console/console.js"></script>`
	files := fstest.MapFS{
		"index.html":  {Data: []byte(page)},
		"console.js":  {Data: []byte("console.log(1)")},
		"console.css": {Data: []byte("body{}")},
	}

	t.Run("every reference is rewritten to the hashed name", func(t *testing.T) {
		s, err := build(files)
		if err != nil {
			t.Fatal(err)
		}
		js, css := hashedName("console.js", []byte("console.log(1)")), hashedName("console.css", []byte("body{}"))
		if !regexp.MustCompile(`^console\.[0-9a-f]{12}\.js$`).MatchString(js) {
			t.Fatalf("hashed name %q", js)
		}
		want := `<link rel="stylesheet" href="console/` + css + `"><script src="console/` + js + `" defer></script>` +
			`<script src="console/` + js + `"></script>`
		if string(s.page.body) != want {
			t.Errorf("page\n%s\nwant\n%s", s.page.body, want)
		}
		if len(s.assets) != 2 || string(s.assets[js].body) != "console.log(1)" || string(s.assets[css].body) != "body{}" {
			t.Errorf("assets %v", s.assets)
		}
	})

	t.Run("a page that does not link a file, or a missing file, is an error", func(t *testing.T) {
		for name, fsys := range map[string]fs.FS{
			"no script reference":  with(files, "index.html", `<link rel="stylesheet" href="console/console.css">`),
			"an absolute script":   with(files, "index.html", `<link rel="stylesheet" href="console/console.css"><script src="/console/console.js">`),
			"no stylesheet":        without(files, "console.css"),
			"no page":              without(files, "index.html"),
			"no script to hash in": without(files, "console.js"),
		} {
			if _, err := build(fsys); err == nil {
				t.Errorf("%s: built", name)
			}
		}
	})
}

func with(files fstest.MapFS, name, content string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range files {
		out[k] = v
	}
	out[name] = &fstest.MapFile{Data: []byte(content)}
	return out
}

func without(files fstest.MapFS, name string) fstest.MapFS {
	out := with(files, name, "")
	delete(out, name)
	return out
}
