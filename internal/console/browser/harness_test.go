// Package browser drives the console (GET /console, docs/console.md) in
// Debian's chromium, headless, against the local gateway that make dev
// serves (gatewaytest, runs driven in-process, dynalite). The tests find the
// page's elements only by the ids, classes and data attributes that
// docs/console.md's "The page's structure" lists, and hold what the page
// shows to what the API itself answers with the same key.
//
// Nothing here may reach a non-loopback address: the browser resolves no
// name but localhost (--host-resolver-rules), takes no proxy, and runs with
// every background service off; every request a tab sends is checked to go
// to the gateway's own origin.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// chromium is Debian's package (scripts/ensure-deps.sh chromium); no test
// ever downloads a browser.
const chromium = "/usr/bin/chromium"

// keyStorage is where the page keeps the pasted key (docs/console.md).
const keyStorage = "workflowsApiKey"

// browserFlags keep the browser on loopback and quiet: no name is resolved
// but localhost and 127.0.0.1 (so no DNS query leaves the machine), no QUIC,
// no proxy, and the background services (updates, sync, network time,
// metrics, safe browsing, translation, media router) off. What Debian's
// build still tries at start (its Google API keys turn on the account and
// update checks) fails at name resolution, inside the browser. Its network
// service does connect() a UDP socket to a public IPv6 address to learn
// whether IPv6 is routable (Chromium's reachability check, even for
// loopback requests): that sends no packet, and no flag turns it off.
func browserFlags(userDataDir string, output *lockedBuffer) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(userDataDir),
		chromedp.Headless,
		chromedp.NoSandbox, // the suite runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater,AutofillServerCommunication,NetworkTimeServiceQuerying"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// The live refresh runs on timers: keep them at full speed in a
		// headless tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// Screenshots that look the same from one run to the next.
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.Flag("lang", "en-US"),
		chromedp.Env("TZ=UTC", "LANG=en_US.UTF-8"),
		chromedp.CombinedOutput(output),
	}
}

// startBrowser starts chromium for one test function, with a fresh profile
// in the test's temporary directory, and stops it when the test ends. Its
// output is logged if the test fails.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no browser at %s (%v): run scripts/ensure-deps.sh chromium", chromium, err)
	}
	output := &lockedBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserFlags(t.TempDir(), output)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output (D-Bus complaints left out):\n%s", quiet(output.String()))
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromium, err, output.String())
	}
	return ctx
}

// site is one gateway (its API and its console) and one browser.
type site struct {
	env     *gatewaytest.Env
	api     string // the API's root, .../api/v1
	console string // the page, .../console
	logs    *gatewaytest.LockedBuffer
	browser context.Context
}

// startSite serves the API as make dev does, runs driven, http steps to
// loopback only (gatewaytest's own policy, whatever HTTP_STEP_TARGETS
// says), and starts a browser.
func startSite(t *testing.T) *site {
	t.Helper()
	logs := &gatewaytest.LockedBuffer{}
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true, Logs: logs})
	return &site{env: env, api: env.URL + "/api/v1", console: env.URL + "/console", logs: logs, browser: startBrowser(t)}
}

// key makes a key in account (every scope unless scopes are given).
func (s *site) key(t *testing.T, account string, scopes ...domain.Scope) string {
	t.Helper()
	k, _ := s.env.MustKey(t, account, scopes...)
	return k
}

// call is one API request with key; body is JSON or "".
func (s *site) call(t *testing.T, key, method, path, body string) gatewaytest.Response {
	t.Helper()
	var b []byte
	contentType := ""
	if body != "" {
		b, contentType = []byte(body), "application/json"
	}
	return gatewaytest.Call(t, method, s.api+path, key, contentType, b)
}

// data is a request that must answer want; it returns the body's data.
func (s *site) data(t *testing.T, key string, want int, method, path, body string) map[string]any {
	t.Helper()
	r := s.call(t, key, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r.Data(t)
}

// list is a GET of a list route; it returns the items and meta.nextCursor.
func (s *site) list(t *testing.T, key, path string) ([]map[string]any, string) {
	t.Helper()
	r := s.call(t, key, "GET", path, "")
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var body struct {
		Data []map[string]any `json:"data"`
		Meta struct {
			NextCursor *string `json:"nextCursor"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, r.Body)
	}
	next := ""
	if body.Meta.NextCursor != nil {
		next = *body.Meta.NextCursor
	}
	return body.Data, next
}

// run is GET /runs/{id}.
func (s *site) run(t *testing.T, key, id string) map[string]any {
	t.Helper()
	return s.data(t, key, 200, "GET", "/runs/"+id, "")
}

// settled polls GET /runs/{id} until ready says the run is where the test
// wants it (its status, a step's), for up to 30 s.
func (s *site) settled(t *testing.T, key, id string, ready func(run map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		run := s.run(t, key, id)
		if ready(run) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never got where the test waits for it: %s", id, jsonText(run))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func finished(run map[string]any) bool {
	switch run["status"] {
	case "succeeded", "failed", "cancelled", "timed_out":
		return true
	}
	return false
}

// stepStatus is a func for settled: the run's step is in status.
func stepStatus(stepID, status string) func(map[string]any) bool {
	return func(run map[string]any) bool {
		s, ok := stepsOf(run)[stepID]
		return ok && s["status"] == status
	}
}

func stepsOf(run map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	steps, _ := run["steps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		id, _ := step["id"].(string)
		out[id] = step
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// bar is one attempt on a run's timeline: what the page draws as
// .bar[data-step-id][data-attempt] with class status-<status>, and what the
// API's attemptHistory says it should.
type bar struct {
	Step    string `json:"step"`
	Attempt string `json:"attempt"`
	Status  string `json:"status"`
}

// wantBars is the timeline docs/console.md asks for a run as the API gives
// it: a bar per entry of each step's attemptHistory; a step without one that
// has begun gets one bar, attempt 0, in the step's status.
func wantBars(run map[string]any) []bar {
	var bars []bar
	steps, _ := run["steps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		id, _ := step["id"].(string)
		history, _ := step["attemptHistory"].([]any)
		for _, h := range history {
			a, _ := h.(map[string]any)
			n, _ := a["attempt"].(float64)
			status, _ := a["status"].(string)
			bars = append(bars, bar{Step: id, Attempt: strconv.Itoa(int(n)), Status: status})
		}
		if len(history) == 0 && step["startedAt"] != nil {
			status, _ := step["status"].(string)
			bars = append(bars, bar{Step: id, Attempt: "0", Status: status})
		}
	}
	sortBars(bars)
	return bars
}

func sortBars(bars []bar) {
	slices.SortFunc(bars, func(a, b bar) int {
		if c := strings.Compare(a.Step, b.Step); c != 0 {
			return c
		}
		x, _ := strconv.Atoi(a.Attempt)
		y, _ := strconv.Atoi(b.Attempt)
		return x - y
	})
}

// tab is one browser tab in a browser context of its own (its own cookies
// and storage). Its recorder keeps every request it sends, every document
// it loads, its console and its exceptions.
type tab struct {
	t    *testing.T
	site *site
	ctx  context.Context
	rec  *recorder
}

type recorder struct {
	mu          sync.Mutex
	requests    []sentRequest
	documents   int      // main-frame documents loaded (a reload or a navigation)
	urls        []string // every URL the main frame showed, fragments included
	consoleText []string
	exceptions  []string
	dialogs     []string
}

type sentRequest struct {
	method, url string
	headers     map[string]string
}

// in is the same tab reporting to t (a subtest).
func (tb *tab) in(t *testing.T) *tab { return &tab{t: t, site: tb.site, ctx: tb.ctx, rec: tb.rec} }

// newTab opens a tab. When the test ends it checks that every request the
// tab sent went to the gateway's own origin: the page has no third-party
// origin, and nothing leaves loopback.
func (s *site) newTab(t *testing.T) *tab {
	t.Helper()
	rec := &recorder{}
	tb := &tab{t: t, site: s, rec: rec}
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) { rec.listen(tb.ctx, ev) }))
	tb.ctx = ctx
	t.Cleanup(func() {
		rec.mu.Lock()
		for _, r := range rec.requests {
			if !strings.HasPrefix(r.url, s.env.URL+"/") && !strings.HasPrefix(r.url, "data:") && r.url != "about:blank" {
				t.Errorf("the page sent a request outside its own origin %s: %s %s", s.env.URL, r.method, r.url)
			}
		}
		if len(rec.exceptions) > 0 {
			t.Logf("the page's uncaught exceptions:\n  %s", strings.Join(rec.exceptions, "\n  "))
		}
		rec.mu.Unlock()
		cancel()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tb
}

// listen runs in the tab's event loop: it records and returns at once.
func (rec *recorder) listen(ctx context.Context, ev any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		headers := map[string]string{}
		for name, v := range ev.Request.Headers {
			headers[strings.ToLower(name)] = fmt.Sprint(v)
		}
		rec.requests = append(rec.requests, sentRequest{method: ev.Request.Method, url: ev.Request.URL + ev.Request.URLFragment, headers: headers})
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			rec.documents++
			rec.urls = append(rec.urls, ev.Frame.URL+ev.Frame.URLFragment)
		}
	case *page.EventNavigatedWithinDocument:
		rec.urls = append(rec.urls, ev.URL)
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		rec.consoleText = append(rec.consoleText, string(ev.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		text := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			text += " " + ev.ExceptionDetails.Exception.Description
		}
		rec.exceptions = append(rec.exceptions, text)
	case *page.EventJavascriptDialogOpening:
		// A confirm() before an action: accept it, as a person would. The
		// command cannot run in this loop.
		rec.dialogs = append(rec.dialogs, ev.Message)
		go func() {
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	}
}

// sent returns the requests recorded so far.
func (tb *tab) sent() []sentRequest {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	return slices.Clone(tb.rec.requests)
}

func (tb *tab) documentsLoaded() int {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	return tb.rec.documents
}

// shownURLs is every URL the tab's main frame showed.
func (tb *tab) shownURLs() []string {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	return slices.Clone(tb.rec.urls)
}

// consoleLines is what the page wrote to its console.
func (tb *tab) consoleLines() []string {
	tb.rec.mu.Lock()
	defer tb.rec.mu.Unlock()
	return slices.Clone(tb.rec.consoleText)
}

// do runs actions with a deadline; a failure ends the test with the page's
// state.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fatalf("%v", err)
	}
}

// eval evaluates js in the page and decodes its value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// poll waits up to timeout for js to be truthy and returns its value.
func poll[T any](tb *tab, js string, timeout time.Duration) (T, bool) {
	tb.t.Helper()
	v, err := pollErr[T](tb, js, timeout)
	return v, err == nil
}

// pollErr evaluates js every 40 ms until its value is truthy or timeout
// passes. It polls from Go, with a fresh evaluation each time, so that a
// document replaced meanwhile (a navigation) is only a try that failed.
func pollErr[T any](tb *tab, js string, timeout time.Duration) (T, error) {
	type result struct {
		OK bool `json:"ok"`
		V  T    `json:"v"`
	}
	wrapped := `(() => { const v = (` + js + `); return v ? {ok: true, v} : {ok: false}; })()`
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		r, err := chromedp.Run(ctx, chromedp.Evaluate[result](wrapped))
		cancel()
		if err == nil && r.OK {
			return r.V, nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			var zero T
			if last == nil {
				last = fmt.Errorf("still false after %v", timeout)
			}
			return zero, last
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// state is what the page shows now, for failure messages.
func (tb *tab) state() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		href: location.href,
		view: document.querySelector('main#view')?.dataset.state ?? null,
		error: document.querySelector('#error')?.textContent ?? null,
		body: (document.body?.innerText ?? '').slice(0, 600)})`))
	if err != nil {
		return "(the page's state could not be read: " + err.Error() + ")"
	}
	return s
}

// fatalf ends the test with the page's state and a screenshot of it, kept
// in the system's temporary directory for a look.
func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	tb.t.Fatalf("%s\n  page: %s%s", msg, tb.state(), tb.failureShot())
}

func (tb *tab) errorf(format string, args ...any) {
	tb.t.Helper()
	tb.t.Errorf("%s\n  page: %s", fmt.Sprintf(format, args...), tb.state())
}

func (tb *tab) failureShot() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return ""
	}
	name := filepath.Join(os.TempDir(), "console-failure-"+strings.NewReplacer("/", "_", " ", "_").Replace(tb.t.Name())+".png")
	if os.WriteFile(name, png, 0o644) != nil {
		return ""
	}
	return "\n  screenshot: " + name
}

// open loads the console afresh at hash (#/runs/…): a new document each
// time, so what is waited for next is this view's, not the last one's.
func (tb *tab) open(hash string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate("about:blank"), chromedp.Navigate(tb.site.console+hash))
}

// viewState is a JS expression: "ready" once main#view is ready and sel
// matches, "error" if the view failed, "" until then.
func viewState(sel string) string {
	return fmt.Sprintf(`(() => {
		const v = document.querySelector('main#view');
		if (!v) return '';
		if (v.dataset.state === 'error') return 'error';
		return v.dataset.state === 'ready' && document.querySelector(%q) ? 'ready' : '';
	})()`, sel)
}

// ready waits for the view to be ready with sel in it; an error instead
// ends the test with the page's #error.
func (tb *tab) ready(sel string) {
	tb.t.Helper()
	got, err := pollErr[string](tb, viewState(sel), 25*time.Second)
	if err != nil {
		tb.fatalf("the view never got ready with %s: %v", sel, err)
	}
	if got == "error" {
		tb.fatalf("the view failed instead of showing %s", sel)
	}
}

// show opens hash and waits for sel.
func (tb *tab) show(hash, sel string) {
	tb.t.Helper()
	tb.open(hash)
	tb.ready(sel)
}

// pasteKey enters key as a person does: the key form, typed, submitted.
// The form clears its input and keeps the key in sessionStorage.
func (tb *tab) pasteKey(key string) {
	tb.t.Helper()
	tb.open("#/workflows")
	tb.do(chromedp.WaitVisible(chromedp.CSS("form#key-form input#key-input")))
	if typ := eval[string](tb, `document.querySelector('input#key-input').type`); typ != "password" {
		tb.errorf("input#key-input is type %q, want password", typ)
	}
	tb.do(
		chromedp.Click(chromedp.CSS("input#key-input")),
		chromedp.SendKeys(chromedp.CSS("input#key-input"), key),
		chromedp.Click(chromedp.CSS(`form#key-form button:not([type="button"]):not([type="reset"]), form#key-form input[type="submit"]`)),
	)
	stored, ok := poll[bool](tb, fmt.Sprintf(`sessionStorage.getItem(%q) === %q`, keyStorage, key), 5*time.Second)
	if !ok || !stored {
		tb.fatalf("after the key form was submitted, sessionStorage[%q] does not hold the key", keyStorage)
	}
	if left := eval[string](tb, `document.querySelector('input#key-input')?.value ?? ''`); left != "" {
		tb.errorf("input#key-input still holds %d characters after submit, want it cleared", len(left))
	}
}

// domBars reads the timeline: each .bar's step, attempt and status class.
func (tb *tab) domBars() []bar {
	tb.t.Helper()
	bars := eval[[]bar](tb, `[...document.querySelectorAll('#timeline .bar')].map(b => ({
		step: b.dataset.stepId ?? '',
		attempt: b.dataset.attempt ?? '',
		status: [...b.classList].filter(c => c.startsWith('status-')).map(c => c.slice(7)).join(' '),
	}))`)
	sortBars(bars)
	return bars
}

// checkTimeline holds the page's timeline to the API's run.
func (tb *tab) checkTimeline(run map[string]any) {
	tb.t.Helper()
	want, got := wantBars(run), tb.domBars()
	if !slices.Equal(got, want) {
		tb.errorf("run %s (%s): the timeline's bars are\n  %v\nthe API's attemptHistory asks for\n  %v", run["id"], run["status"], got, want)
	}
}

// runStatus is #run-status's data-status.
func (tb *tab) runStatus() string {
	tb.t.Helper()
	return eval[string](tb, `document.querySelector('#run-status')?.dataset.status ?? ''`)
}

// exists says whether sel matches an element.
func (tb *tab) exists(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
}

// screenshots writes full-page PNGs to CONSOLE_SCREENSHOTS_DIR when set
// (make console-screenshots: docs/console/), else to the test's temporary
// directory.
type screenshots struct {
	dir string
}

func newScreenshots(t *testing.T) screenshots {
	dir := os.Getenv("CONSOLE_SCREENSHOTS_DIR")
	if dir == "" {
		return screenshots{dir: t.TempDir()}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return screenshots{dir: dir}
}

func (s screenshots) write(tb *tab, name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		tb.fatalf("screenshot %s is not a PNG", name)
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s (%d KiB)", path, len(png)/1024)
}

// quiet is the browser's output without the lines a machine with no D-Bus
// makes it print, the last 40 of them.
func quiet(output string) string {
	var kept []string
	for _, l := range strings.Split(output, "\n") {
		if !strings.Contains(l, "dbus/") && !strings.Contains(l, "unexpected operator") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept[max(0, len(kept)-40):], "\n")
}

// lockedBuffer collects the browser's output from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
