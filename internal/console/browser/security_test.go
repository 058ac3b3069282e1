package browser

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

// markup is what a hostile (or careless) workflow author puts where the
// page shows text: a script, and an image whose error handler would run.
const (
	scriptMarkup = `<script>window.__xssScript = 1</script>`
	imgMarkup    = `<img src=x onerror=window.__xssImg=1>`
	nameMarkup   = `Close the books <img src=x onerror=window.__xssName=1>`
	errorMarkup  = `<img src=x onerror=window.__xssError=1>`
)

// TestConsoleKeepsTheKeyAndThePageSafe: the key pasted stays in
// sessionStorage only; the CSP stops a script injected into the page; markup
// in outputs, names and errors is shown as text; a truncated output is
// fetched whole.
func TestConsoleKeepsTheKeyAndThePageSafe(t *testing.T) {
	t.Parallel()
	s := startSite(t)
	key := s.key(t, "acct_safe")
	plain, _ := s.workflow(t, key, `{"name": "Tag new leads", "trigger": {"type": "manual"}, "steps": [{"id": "tag", "type": "transform", "with": {"jq": "{lead: .input.email, tag: \"inbound\"}"}}]}`)
	plainRun := s.start(t, key, plain, `{"email": "ada@analytical.example"}`)

	hostile, _ := s.workflow(t, key, fmt.Sprintf(`{"name": %q, "trigger": {"type": "manual"}, "steps": [
	  {"id": "render", "type": "transform", "with": {"jq": %q}},
	  {"id": "note", "type": "transform", "with": {"jq": %q}},
	  {"id": "ledger", "type": "transform", "with": {"jq": "[range(0; 2500)] | map(\"ledger line \\(.)\")"}},
	  {"id": "explode", "type": "transform", "with": {"jq": %q}}]}`,
		nameMarkup, jqString(scriptMarkup+imgMarkup), `{note: `+jqString(`<b>bold</b> & "quoted"`)+`}`, `error(`+jqString(errorMarkup)+`)`))
	hostileRun := s.start(t, key, hostile, `{}`)
	for _, id := range []string{plainRun, hostileRun} {
		s.settled(t, key, id, finished)
	}

	t.Run("the pasted key is in sessionStorage only", func(t *testing.T) {
		tb := s.newTab(t)
		tb.pasteKey(key)
		tb.ready("table#workflows tr.workflow")
		for _, v := range []struct{ hash, sel string }{
			{"#/runs", "table#runs tr.run"}, {"#/runs/" + plainRun, "#run-status[data-status]"},
			{"#/workflows/" + plain, "svg#workflow-graph g.node"}, {"#/keys", "table#keys tr.key"},
		} {
			tb.show(v.hash, v.sel)
		}

		withKey := 0
		for _, r := range tb.sent() {
			if strings.Contains(r.url, key) || strings.Contains(r.url, url.QueryEscape(key)) {
				t.Errorf("a request's URL holds the key: %s %s", r.method, r.url)
			}
			for name, v := range r.headers {
				if strings.Contains(v, key) && name != "x-api-key" {
					t.Errorf("the key went in the %s header of %s %s", name, r.method, r.url)
				}
			}
			if r.headers["x-api-key"] == key {
				withKey++
				if u, _ := url.Parse(r.url); !strings.HasPrefix(u.Path, "/api/v1/") {
					t.Errorf("the key was sent to %s, outside the API", r.url)
				}
			}
		}
		if withKey == 0 {
			t.Errorf("no request carried the key in x-api-key: the views above were not read with it")
		}
		for _, u := range append(tb.shownURLs(), eval[string](tb, `location.href`)) {
			if strings.Contains(u, key) {
				t.Errorf("the page's URL held the key: %s", u)
			}
		}
		if c := eval[string](tb, `document.cookie`); c != "" {
			t.Errorf("the page has cookies: %q", c)
		}
		cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.env.URL + "/", s.console, s.api + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies.Cookies {
			t.Errorf("the browser holds a cookie for the gateway: %s (holds the key: %v)", c.Name, strings.Contains(c.Value, key))
		}
		local := eval[map[string]string](tb, `Object.fromEntries(Object.keys(localStorage).map(k => [k, localStorage.getItem(k)]))`)
		for k, v := range local {
			if strings.Contains(k, key) || strings.Contains(v, key) {
				t.Errorf("localStorage[%q] holds the key", k)
			}
		}
		if got := eval[string](tb, fmt.Sprintf(`sessionStorage.getItem(%q) ?? ''`, keyStorage)); got != key {
			t.Errorf("sessionStorage[%q] does not hold the key", keyStorage)
		}
		for _, line := range tb.consoleLines() {
			if strings.Contains(line, key) {
				t.Errorf("the page logged the key to its console: %s", line)
			}
		}
		if strings.Contains(s.logs.String(), key) {
			t.Errorf("the gateway's logs hold the key")
		}

		// Forget key: gone from the tab, and the views ask for a key again.
		tb.do(chromedp.Click(chromedp.CSS("button#forget-key")))
		if _, ok := poll[bool](tb, fmt.Sprintf(`sessionStorage.getItem(%q) === null`, keyStorage), 5*time.Second); !ok {
			tb.fatalf("button#forget-key left the key in sessionStorage")
		}
		tb.open("#/runs")
		tb.do(chromedp.WaitVisible(chromedp.CSS("form#key-form input#key-input")))
		time.Sleep(300 * time.Millisecond)
		if tb.exists("table#runs") {
			t.Errorf("without a key the runs view still shows table#runs")
		}
	})

	t.Run("the CSP blocks an injected inline script", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", s.console, "", "", nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /console: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("the page's CSP %q lacks %s", csp, want)
			}
		}
		for _, never := range []string{"unsafe-inline", "unsafe-eval", "*"} {
			if strings.Contains(csp, never) {
				t.Errorf("the page's CSP %q allows %s", csp, never)
			}
		}

		tb := s.newTab(t)
		tb.pasteKey(key)
		tb.ready("table#workflows tr.workflow")
		eval[bool](tb, `(() => {
			window.__violations = [];
			document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.effectiveDirective || e.violatedDirective));
			const s = document.createElement('script');
			s.textContent = 'window.__injected = "ran"';
			document.body.appendChild(s);
			const d = document.createElement('div');
			d.setAttribute('onclick', 'window.__handler = "ran"');
			document.body.appendChild(d);
			d.click();
			return true;
		})()`)
		violations, ok := poll[[]string](tb, `window.__violations.length >= 2 ? window.__violations : null`, 3*time.Second)
		if !ok {
			violations = eval[[]string](tb, `window.__violations`)
		}
		if ran := eval[string](tb, `[window.__injected, window.__handler].filter(Boolean).join(',')`); ran != "" {
			t.Errorf("an injected inline script ran (%s): the CSP did not block it", ran)
		}
		if !strings.Contains(strings.Join(violations, " "), "script-src") {
			t.Errorf("no securitypolicyviolation for script-src; the page reported %v", violations)
		}
	})

	t.Run("markup in outputs, names and errors is text", func(t *testing.T) {
		tb := s.newTab(t)
		tb.pasteKey(key)
		tb.ready("table#workflows tr.workflow")
		checkNoMarkup := func(where string) {
			t.Helper()
			time.Sleep(200 * time.Millisecond) // an image's error would have fired by now
			if found := eval[string](tb, `(() => {
				const f = [];
				if (document.querySelector('img[src="x"], [onerror]')) f.push('an <img onerror> element');
				if ([...document.querySelectorAll('script')].some(s => s.textContent.includes('__xss'))) f.push('a <script> element');
				if (document.querySelector('#view b, #view script')) f.push('a <b> or <script> in the view');
				for (const k of ['__xssScript', '__xssImg', '__xssName', '__xssError']) if (window[k] !== undefined) f.push(k + ' was set');
				return f.join('; ');
			})()`); found != "" {
				t.Errorf("%s: the page made markup into elements: %s", where, found)
			}
		}
		name := eval[string](tb, fmt.Sprintf(`document.querySelector('tr.workflow[data-workflow-id=%q] .name')?.textContent.trim() ?? ''`, hostile))
		if !strings.Contains(name, nameMarkup) {
			t.Errorf("the workflows list shows the name as %q, want the text %q", name, nameMarkup)
		}
		checkNoMarkup("the workflows list")

		tb.show("#/workflows/"+hostile, "svg#workflow-graph g.node")
		if h1 := eval[string](tb, `document.querySelector('h1#workflow-name')?.textContent.trim() ?? ''`); h1 != nameMarkup {
			t.Errorf("h1#workflow-name reads %q, want the text %q", h1, nameMarkup)
		}
		checkNoMarkup("the workflow's graph")

		tb.show("#/runs/"+hostileRun, "#run-status[data-status]")
		output := eval[string](tb, `document.querySelector('details.step[data-step-id="render"] pre.output')?.textContent ?? ''`)
		if !strings.Contains(output, scriptMarkup) || !strings.Contains(output, imgMarkup) {
			t.Errorf("the render step's pre.output reads %q, want the output's text with %s and %s", output, scriptMarkup, imgMarkup)
		}
		note := eval[string](tb, `document.querySelector('details.step[data-step-id="note"] pre.output')?.textContent ?? ''`)
		if !strings.Contains(note, `<b>bold</b> &`) {
			t.Errorf("the note step's pre.output reads %q, want <b>bold</b> as text", note)
		}
		stepError := eval[string](tb, `document.querySelector('details.step[data-step-id="explode"] .step-error')?.textContent ?? ''`)
		if !strings.Contains(stepError, errorMarkup) {
			t.Errorf("the explode step's .step-error reads %q, want its message with %s as text", stepError, errorMarkup)
		}
		checkNoMarkup("the run")
	})

	t.Run("a truncated output is fetched whole", func(t *testing.T) {
		run := s.run(t, key, hostileRun)
		if step := stepsOf(run)["ledger"]; step["truncated"] != true {
			t.Fatalf("the API did not truncate the ledger step's output: %v", step["truncated"])
		}
		whole := s.data(t, key, 200, "GET", "/runs/"+hostileRun+"/steps/ledger", "")["output"]
		tb := s.newTab(t)
		tb.pasteKey(key)
		tb.show("#/runs/"+hostileRun, "#run-status[data-status]")
		const last = "ledger line 2499"
		pre := `document.querySelector('details.step[data-step-id="ledger"] pre.output')?.textContent ?? ''`
		if strings.Contains(eval[string](tb, pre), last) {
			t.Errorf("the truncated output already shows its last line")
		}
		tb.do(
			chromedp.Evaluate[chromedp.Void](`document.querySelector('details.step[data-step-id="ledger"]').open = true`),
			chromedp.Click(chromedp.CSS(`details.step[data-step-id="ledger"] button.load-full`)),
		)
		if _, ok := poll[bool](tb, `(`+pre+`).includes(`+jsString(last)+`)`, 10*time.Second); !ok {
			tb.fatalf("button.load-full did not show the whole output")
		}
		var shown any
		if err := json.Unmarshal([]byte(eval[string](tb, pre)), &shown); err != nil || jsonText(shown) != jsonText(whole) {
			t.Errorf("after button.load-full, pre.output is not the whole output of GET /runs/{id}/steps/ledger (%v)", err)
		}
	})
}

// jqString is s as a jq (and JSON) string literal.
func jqString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string { return jqString(s) }
