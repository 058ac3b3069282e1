// Package console serves the console (docs/console.md): one static page, its
// script and its stylesheet, embedded in the get-console function and served
// as they are. The page calls the API from the browser with a key the person
// pastes; nothing here reads a store or links a feature.
//
// The page names its script and stylesheet relatively (console/console.js),
// so that it works under a stage's prefix (/prod/console). The handler
// rewrites those names, once, to names that carry a hash of the file's
// content (console/console.<hash>.js): an asset can then be cached for a year
// and a new deployment is still seen at once, as the page itself is
// revalidated on every load.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
)

//go:embed assets
var embedded embed.FS

// ContentSecurityPolicy is on every answer: the page runs its own script
// only (no inline script, no eval), styles itself from its own stylesheet,
// talks to its own origin only, and may not be framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders are set on every answer of the handler, the 404 included,
// before anything else is decided.
var securityHeaders = map[string]string{
	"Content-Security-Policy": ContentSecurityPolicy,
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}

// The caching of each kind of answer: the page is revalidated on every load
// (its ETag makes that a 304), so that it always names the current assets;
// an asset's name changes with its content, so it never needs revalidating.
const (
	pageCacheControl  = "no-cache"
	assetCacheControl = "public, max-age=31536000, immutable"
)

// pageFile is the page, in the embedded assets directory.
const pageFile = "index.html"

// linked are the files the page links, as index.html names them: each is
// served under its hashed name only.
var linked = []struct {
	name, attribute, contentType string
}{
	{"console.js", "src", "text/javascript; charset=utf-8"},
	{"console.css", "href", "text/css; charset=utf-8"},
}

// file is one answer's body and headers.
type file struct {
	body         []byte
	contentType  string
	etag         string
	cacheControl string
}

func newFile(body []byte, contentType, cacheControl string) file {
	return file{body: body, contentType: contentType, etag: `"` + contentHash(body)[:32] + `"`, cacheControl: cacheControl}
}

func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashedName is name with the first 12 hex digits of body's SHA-256 before
// its extension: console.js becomes console.3f1c2a9e0d4b.js.
func hashedName(name string, body []byte) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + contentHash(body)[:12] + ext
}

// site is what the handler serves: the page, rewritten to name the hashed
// assets, and the assets by their hashed names.
type site struct {
	page   file
	assets map[string]file
}

// build reads the page and the files it links from dir and rewrites the
// page's references to the hashed names. A page that does not link a file
// the way linked says is an error: it would load without its script or its
// styles.
func build(dir fs.FS) (*site, error) {
	page, err := fs.ReadFile(dir, pageFile)
	if err != nil {
		return nil, err
	}
	s := &site{assets: map[string]file{}}
	for _, l := range linked {
		body, err := fs.ReadFile(dir, l.name)
		if err != nil {
			return nil, err
		}
		reference := []byte(l.attribute + `="console/` + l.name + `"`)
		if !bytes.Contains(page, reference) {
			return nil, fmt.Errorf("%s does not link %s as %s", pageFile, l.name, reference)
		}
		hashed := hashedName(l.name, body)
		page = bytes.ReplaceAll(page, reference, []byte(l.attribute+`="console/`+hashed+`"`))
		s.assets[hashed] = newFile(body, l.contentType, assetCacheControl)
	}
	s.page = newFile(page, "text/html; charset=utf-8", pageCacheControl)
	return s, nil
}

// embeddedSite is built on first use, not at init, so that a cold start pays
// for hashing only when a request comes. The files are fixed at build time
// and the tests build them, so a failure here is a broken build, not a
// condition to handle; the pipeline answers the panic with a 500.
var embeddedSite = sync.OnceValue(func() *site {
	dir, err := fs.Sub(embedded, "assets")
	if err == nil {
		var s *site
		if s, err = build(dir); err == nil {
			return s
		}
	}
	panic(fmt.Sprintf("console: the embedded assets cannot be served: %v", err))
})

// Handler serves the console: GET /console is the page, GET
// /console/{asset} an asset by its hashed name (the route's path value
// "asset"; any other name is 404 in the API's error envelope). HEAD answers
// as GET without the body. The route's Lambda wraps it in the pipeline that
// adds the request id and the rate limit.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { embeddedSite().serveHTTP(w, r) })
}

func (s *site) serveHTTP(w http.ResponseWriter, r *http.Request) {
	for name, value := range securityHeaders {
		w.Header().Set(name, value)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteError(w, r, domain.Errorf(domain.CodeMethodNotAllowed, "The console answers GET and HEAD only"))
		return
	}
	name := r.PathValue("asset")
	if name == "" {
		if trimmed := strings.TrimRight(r.URL.Path, "/"); trimmed != r.URL.Path && trimmed != "" {
			// The gateways serve /console/ as /console, but there the
			// page's relative links would point a level too deep. The
			// Location is relative too, so that a stage's prefix is kept:
			// ../console from /prod/console/ is /prod/console.
			w.Header().Set("Location", strings.Repeat("../", len(r.URL.Path)-len(trimmed))+path.Base(trimmed))
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		serveFile(w, r, s.page)
		return
	}
	asset, ok := s.assets[name]
	if !ok {
		httpapi.WriteError(w, r, domain.ErrNotFound)
		return
	}
	serveFile(w, r, asset)
}

func serveFile(w http.ResponseWriter, r *http.Request, f file) {
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", f.cacheControl)
	if ifNoneMatchNames(r.Header.Values("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}

// ifNoneMatchNames reports whether If-None-Match headers name etag, by the
// weak comparison RFC 9110 (13.1.2) prescribes for it, or hold "*".
func ifNoneMatchNames(headers []string, etag string) bool {
	for _, header := range headers {
		for _, tag := range strings.Split(header, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
