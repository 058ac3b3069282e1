package browser

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demo is an account as a team would have it after a few days: workflows
// of every trigger and step type, runs that succeeded, failed, wait and
// run, and keys for people and machines. A second account has its own.
type demo struct {
	key     string            // the console's key: every scope
	keyIDs  []string          // the account's keys
	wf      map[string]string // workflow name → id
	run     map[string]string // what the run shows → id
	other   string            // the second account's key
	otherWF string            // its workflow
	otherR  string            // its run
	otherK  []string          // its keys
}

// seedDemo makes the demo account through the API, as its people would,
// and waits for each run to get where the tests look at it.
func seedDemo(t *testing.T, s *site, sh *shop) *demo {
	t.Helper()
	d := &demo{wf: map[string]string{}, run: map[string]string{}}
	boot, bootID := s.env.MustKey(t, "acct_northwind")
	newKey := func(name, scopes string) (string, string) {
		k := s.data(t, boot, 201, "POST", "/auth/api-keys", fmt.Sprintf(`{"name": %q, "scopes": %s}`, name, scopes))
		return k["key"].(string), k["id"].(string)
	}
	var id string
	d.key, id = newKey("Console (Ada Lovelace)", `["workflows:read", "workflows:write", "workflows:execute", "runs:read", "connections:read", "connections:write", "keys:read", "keys:write"]`)
	d.keyIDs = append(d.keyIDs, bootID, id)
	_, id = newKey("CI deploys", `["workflows:read", "workflows:write", "workflows:execute"]`)
	d.keyIDs = append(d.keyIDs, id)
	_, id = newKey("Grafana dashboards", `["workflows:read", "runs:read"]`)
	d.keyIDs = append(d.keyIDs, id)
	// The operator's first key has served its purpose.
	s.data(t, d.key, 200, "DELETE", "/auth/api-keys/"+bootID, "")

	for _, w := range []struct{ name, doc string }{
		{"legacy", legacyExport}, {"sync", syncInvoices}, {"notify", notifyBigOrders},
		{"charge", chargeRenewals}, {"refund", refundApproval}, {"report", monthlyReport},
	} {
		d.wf[w.name], _ = s.workflow(t, d.key, sh.definition(w.doc))
	}
	var created map[string]any
	d.wf["onboard"], created = s.workflow(t, d.key, sh.definition(onboardCustomer, 3))
	secret, _ := created["webhook"].(map[string]any)["secret"].(string)
	// Version 2 invites five at a time.
	s.data(t, d.key, 200, "PUT", "/workflows/"+d.wf["onboard"], sh.definition(onboardCustomer, 5))

	// The runs, oldest first. (The nightly sync is started by hand here: a
	// schedule fired by a test fires ahead of its time, and a scheduled
	// run's id is made from the time it was due, so it would sort as the
	// newest.)
	d.run["scheduled"] = s.start(t, d.key, d.wf["sync"], `{}`)
	d.run["succeeded"] = s.start(t, d.key, d.wf["notify"], `{"orderId": "A-1042"}`)
	d.run["small"] = s.start(t, d.key, d.wf["notify"], `{"orderId": "A-1043"}`)
	d.run["webhook"] = s.deliver(t, d.wf["onboard"], secret, `{"email": "grace@hopper.example", "company": "hopper.example", "seats": ["ada@hopper.example", "alan@hopper.example", "edsger@hopper.example"]}`)
	d.run["failed"] = s.start(t, d.key, d.wf["charge"], `{"customer": "cus_L1nu5 (Linus Torvalds)"}`)
	d.run["approved"] = s.start(t, d.key, d.wf["refund"], `{"orderId": "R-7781"}`)
	d.run["waiting"] = s.start(t, d.key, d.wf["refund"], `{"orderId": "R-7782"}`)
	d.run["running"] = s.start(t, d.key, d.wf["report"], `{"month": "2026-11"}`)
	d.run["big"] = s.start(t, d.key, d.wf["notify"], `{"orderId": "A-1044"}`)

	s.settled(t, d.key, d.run["approved"], stepStatus("approve", "waiting"))
	s.data(t, d.key, 200, "POST", "/runs/"+d.run["approved"]+"/signals/approve", `{"data": {"approved": true, "by": "barbara@support.example"}}`)
	for _, name := range []string{"scheduled", "succeeded", "small", "webhook", "failed", "approved", "big"} {
		s.settled(t, d.key, d.run[name], finished)
	}
	s.settled(t, d.key, d.run["waiting"], stepStatus("approve", "waiting"))
	s.settled(t, d.key, d.run["running"], stepStatus("render", "running"))

	// The second account.
	var otherKeyID string
	d.other, otherKeyID = s.env.MustKey(t, "acct_globex")
	d.otherK = append(d.otherK, otherKeyID)
	d.otherWF, _ = s.workflow(t, d.other, `{"name": "Globex payroll", "trigger": {"type": "manual"}, "steps": [{"id": "pay", "type": "transform", "with": {"jq": "{paid: true}"}}]}`)
	d.otherR = s.start(t, d.other, d.otherWF, `{}`)
	s.settled(t, d.other, d.otherR, finished)
	return d
}

// TestConsoleShowsWorkflowsAndRuns pastes a key and reads every view of a
// realistic account, holding each to the API's own answers with that key;
// it writes the screenshots and ends with a run that finishes while the
// page watches.
func TestConsoleShowsWorkflowsAndRuns(t *testing.T) {
	t.Parallel()
	s := startSite(t)
	sh := newShop(t)
	d := seedDemo(t, s, sh)
	home := s.newTab(t)
	home.pasteKey(d.key)

	// The views that only read, beside the screenshots in a tab of their
	// own; then the run that finishes, and more runs for a second page.
	t.Run("views", func(t *testing.T) {
		t.Run("as the API has them", func(t *testing.T) {
			t.Parallel()
			t.Run("the workflows list is the API's", func(t *testing.T) {
				tb := home.in(t)
				tb.show("#/workflows", "table#workflows tr.workflow")
				want, _ := s.list(t, d.key, "/workflows")
				type row struct {
					ID, Name, Trigger, Enabled, Version, Link string
				}
				rows := eval[[]row](tb, `[...document.querySelectorAll('table#workflows tr.workflow')].map(r => ({
			ID: r.dataset.workflowId, Name: r.querySelector('.name')?.textContent.trim() ?? '',
			Trigger: r.querySelector('.trigger')?.textContent.trim() ?? '',
			Enabled: r.querySelector('.enabled')?.textContent.trim() ?? '',
			Version: r.querySelector('.version')?.textContent.trim() ?? '',
			Link: r.querySelector('.name a')?.getAttribute('href') ?? ''}))`)
				if len(rows) != len(want) {
					tb.fatalf("%d rows, the API lists %d workflows", len(rows), len(want))
				}
				var enabledText, disabledText []string
				for i, w := range want {
					r := rows[i]
					id := w["id"].(string)
					trigger := w["trigger"].(map[string]any)["type"].(string)
					version := strconv.Itoa(int(w["version"].(float64)))
					if r.ID != id || !strings.Contains(r.Name, w["name"].(string)) || !strings.Contains(strings.ToLower(r.Trigger), trigger) || !containsWord(r.Version, version) || r.Link != "#/workflows/"+id {
						t.Errorf("row %d is %+v; the API has %s %q, trigger %s, version %s (newest first), linked as #/workflows/%s", i, r, id, w["name"], trigger, version, id)
					}
					if w["enabled"] == true {
						enabledText = append(enabledText, r.Enabled)
					} else {
						disabledText = append(disabledText, r.Enabled)
					}
				}
				if len(disabledText) != 1 || slices.Contains(enabledText, disabledText[0]) || disabledText[0] == "" {
					t.Errorf(".enabled reads %q for the disabled workflow and %q for the enabled ones: they should differ", disabledText, enabledText)
				}
			})

			t.Run("a workflow's graph has its steps, branches and versions", func(t *testing.T) {
				tb := home.in(t)
				tb.show("#/workflows", "table#workflows tr.workflow")
				// A person clicks the name; the graph comes without a new document.
				docs := tb.documentsLoaded()
				tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.workflow[data-workflow-id=%q] .name a`, d.wf["onboard"]))))
				tb.ready("svg#workflow-graph g.node")
				if tb.documentsLoaded() != docs {
					t.Errorf("opening a workflow loaded a new document")
				}
				if name := eval[string](tb, `document.querySelector('h1#workflow-name')?.textContent.trim() ?? ''`); name != "Onboard new customer" {
					t.Errorf("h1#workflow-name = %q", name)
				}
				type graph struct {
					Outer, Inner     []string
					InnerCount       int
					Edges, ElseEdges int
					EndNode          bool
				}
				readGraph := func() graph {
					return eval[graph](tb, `(() => {
				const g = document.querySelector('svg#workflow-graph');
				const ids = sel => [...g.querySelectorAll(sel)].map(n => n.dataset.stepId ?? '');
				return {Outer: ids('g.node[data-step-id]:not(.inner)'), Inner: ids('g.node.inner[data-step-id]'),
					InnerCount: g.querySelectorAll('g.node.inner').length,
					Edges: g.querySelectorAll('path.edge:not(.else)').length, ElseEdges: g.querySelectorAll('path.edge.else').length,
					EndNode: !!g.querySelector('g.node.end')};
			})()`)
				}
				got := readGraph()
				slices.Sort(got.Outer)
				if want := []string{"assignManager", "enrich", "invite", "isEnterprise", "welcome"}; !slices.Equal(got.Outer, want) {
					t.Errorf("the graph's step nodes are %v, want %v", got.Outer, want)
				}
				for _, inner := range []string{"profile", "company", "risk"} {
					if !slices.Contains(got.Inner, inner) {
						t.Errorf("the parallel's inner step %s is not a g.node.inner (inner nodes: %v)", inner, got.Inner)
					}
				}
				if got.InnerCount != 4 {
					t.Errorf("%d g.node.inner, want 4: the parallel's three and the foreach's one", got.InnerCount)
				}
				if got.Edges < 4 || got.ElseEdges != 1 {
					t.Errorf("%d order edges and %d else edges, want at least 4 and exactly 1 (isEnterprise → invite)", got.Edges, got.ElseEdges)
				}

				// Versions 1 and 2 differ in the foreach's concurrency, 3 then 5.
				picked := eval[string](tb, `(() => {
			const pick = (sel, v) => {
				const s = document.querySelector(sel);
				if (!s) return sel + ' is missing';
				const o = [...s.options].find(o => o.value === v) ?? [...s.options].find(o => new RegExp('\\b' + v + '\\b').test(o.textContent));
				if (!o) return sel + ' has no option for version ' + v;
				s.value = o.value;
				s.dispatchEvent(new Event('change', {bubbles: true}));
				return '';
			};
			return pick('select#compare-from', '1') || pick('select#compare-to', '2');
		})()`)
				if picked != "" {
					tb.fatalf("%s", picked)
				}
				type diff struct {
					Add, Del []string
					Same     int
				}
				changed, ok := poll[diff](tb, `(() => {
			const d = document.querySelector('#version-diff');
			const lines = sel => d ? [...d.querySelectorAll(sel)].map(l => l.textContent) : [];
			const r = {Add: lines('.diff-add'), Del: lines('.diff-del'), Same: d ? d.querySelectorAll('.diff-same').length : 0};
			return r.Add.length && r.Del.length ? r : null;
		})()`, 10*time.Second)
				if !ok {
					tb.fatalf("#version-diff shows no .diff-add and .diff-del lines between versions 1 and 2")
				}
				if !anyContains(changed.Add, "5") || !anyContains(changed.Del, "3") || changed.Same == 0 {
					t.Errorf("the diff of versions 1 and 2 adds %q and deletes %q (%d lines the same); want the concurrency's 3 deleted and 5 added", changed.Add, changed.Del, changed.Same)
				}

				// A condition that ends the run jumps to the end node.
				tb.show("#/workflows/"+d.wf["notify"], "svg#workflow-graph g.node")
				if got := readGraph(); got.ElseEdges != 1 || !got.EndNode {
					t.Errorf("Notify big orders: %d else edges, end node %v; want isBig's else edge to g.node.end", got.ElseEdges, got.EndNode)
				}
			})

			t.Run("the runs list is the API's, newest first, and filters", func(t *testing.T) {
				tb := home.in(t)
				before := len(tb.sent())
				tb.show("#/runs", "table#runs tr.run")
				pageQuery := lastAPIQuery(tb, before, "/runs")
				tb.checkRuns("/runs"+pageQuery, d.key)
				all, _ := s.list(t, d.key, "/runs"+pageQuery)
				if len(all) != len(d.run) {
					t.Errorf("the API lists %d runs for the page's query %q, the account has %d", len(all), pageQuery, len(d.run))
				}

				// Filtered by status through the select, then by workflow too.
				tb.choose("select#filter-status", "succeeded")
				tb.waitRuns(d.key, "/runs?status=succeeded")
				tb.choose("select#filter-workflow", d.wf["notify"])
				tb.waitRuns(d.key, "/runs?workflowId="+d.wf["notify"]+"&status=succeeded")

				// And by the hash route.
				tb.show("#/runs?status=failed", "table#runs tr.run")
				tb.checkRuns("/runs?status=failed", d.key)
			})

			t.Run("timelines have a bar per attempt as the API has", func(t *testing.T) {
				tb := home.in(t)
				for _, name := range []string{"succeeded", "small", "waiting", "running", "scheduled", "webhook", "approved", "failed"} {
					tb.show("#/runs/"+d.run[name], "#run-status[data-status]")
					run := s.run(t, d.key, d.run[name])
					if got := tb.runStatus(); got != run["status"] {
						t.Errorf("%s run: #run-status says %q, the API %q", name, got, run["status"])
					}
					tb.checkTimeline(run)
					tb.checkOutputs(run)
				}

				// The failed run, on the page last: its charge was tried
				// twice, a second apart.
				run := s.run(t, d.key, d.run["failed"])
				history, _ := stepsOf(run)["charge"]["attemptHistory"].([]any)
				if len(history) != 2 {
					t.Fatalf("the API's charge step has %d attempts in attemptHistory, want 2: %s", len(history), jsonText(stepsOf(run)["charge"]))
				}
				type box struct{ Left, Right float64 }
				boxes := eval[[]box](tb, `['1', '2'].map(a => {
			const b = document.querySelector('#timeline .bar[data-step-id="charge"][data-attempt="' + a + '"]');
			const r = b ? b.getBoundingClientRect() : {left: -1, right: -1};
			return {Left: r.left, Right: r.right};
		})`)
				if boxes[0].Left < 0 || boxes[1].Left < 0 || boxes[1].Left < boxes[0].Right-0.5 {
					t.Errorf("the charge's attempts are drawn at %+v: want attempt 2 after attempt 1 with the back-off between them as a gap", boxes)
				}
				message := stepsOf(run)["charge"]["error"].(map[string]any)["message"].(string)
				if got := eval[string](tb, `document.querySelector('details.step[data-step-id="charge"] .step-error')?.textContent ?? ''`); !strings.Contains(got, message) {
					t.Errorf("the charge's .step-error reads %q, want the API's message %q", got, message)
				}
			})

			t.Run("the keys view lists this account's keys only", func(t *testing.T) {
				tb := home.in(t)
				tb.show("#/keys", "table#keys tr.key")
				want, _ := s.list(t, d.key, "/auth/api-keys")
				type row struct{ ID, Name, Prefix, Status string }
				rows := eval[[]row](tb, `[...document.querySelectorAll('table#keys tr.key')].map(r => ({
			ID: r.dataset.keyId, Name: r.querySelector('.name')?.textContent.trim() ?? '',
			Prefix: r.querySelector('.prefix')?.textContent.trim() ?? '', Status: r.querySelector('.status')?.textContent.trim() ?? ''}))`)
				var ids []string
				for _, r := range rows {
					ids = append(ids, r.ID)
				}
				wantIDs := slices.Clone(d.keyIDs)
				slices.Sort(ids)
				slices.Sort(wantIDs)
				if !slices.Equal(ids, wantIDs) {
					t.Errorf("the keys view lists %v, the account's keys are %v", ids, wantIDs)
				}
				for _, other := range d.otherK {
					if slices.Contains(ids, other) {
						t.Errorf("the keys view lists the other account's key %s", other)
					}
				}
				for _, w := range want {
					i := slices.IndexFunc(rows, func(r row) bool { return r.ID == w["id"] })
					if i < 0 {
						continue
					}
					if r := rows[i]; !strings.Contains(r.Name, w["name"].(string)) || !strings.Contains(r.Prefix, w["prefix"].(string)) || !strings.Contains(strings.ToLower(r.Status), w["status"].(string)) {
						t.Errorf("key row %+v; the API has name %q, prefix %q, status %q", r, w["name"], w["prefix"], w["status"])
					}
				}
			})

			t.Run("another account's run is not found", func(t *testing.T) {
				tb := home.in(t)
				tb.open("#/runs/" + d.otherR)
				if got, ok := poll[string](tb, viewState("#run-status"), 25*time.Second); !ok || got != "error" {
					tb.fatalf("another account's run %s: the view is %q, want data-state=error", d.otherR, got)
				}
				r := s.call(t, d.key, "GET", "/runs/"+d.otherR, "")
				e := r.JSON(t)["error"].(map[string]any)
				if r.Status != 404 {
					t.Fatalf("the API answers %d for another account's run", r.Status)
				}
				text := eval[string](tb, `document.querySelector('#error')?.textContent ?? ''`)
				code := eval[string](tb, `document.querySelector('#error .code')?.textContent ?? ''`)
				if !strings.Contains(text, e["message"].(string)) || !strings.Contains(code, "NOT_FOUND") {
					t.Errorf("#error reads %q (code %q), want the API's message %q and NOT_FOUND", text, code, e["message"])
				}
				if tb.exists("#run-status") {
					t.Errorf("the page shows a #run-status for another account's run")
				}
				if role := eval[string](tb, `document.querySelector('#error')?.getAttribute('role') ?? ''`); role != "alert" {
					t.Errorf(`#error has role %q, want "alert"`, role)
				}
			})

		})
		t.Run("each view at 1280 and 360 px", func(t *testing.T) {
			t.Parallel()
			shots := newScreenshots(t)
			tb := s.newTab(t)
			tb.pasteKey(d.key)
			views := []struct {
				name, hash, ready, open string
			}{
				{"workflows", "#/workflows", "table#workflows tr.workflow", ""},
				{"workflow", "#/workflows/" + d.wf["onboard"], "svg#workflow-graph g.node", ""},
				{"runs", "#/runs", "table#runs tr.run", ""},
				{"run-succeeded", "#/runs/" + d.run["succeeded"], "#run-status[data-status]", "notify"},
				{"run-failed", "#/runs/" + d.run["failed"], "#run-status[data-status]", "charge"},
				{"run-waiting", "#/runs/" + d.run["waiting"], "#run-status[data-status]", "approve"},
				{"keys", "#/keys", "table#keys tr.key", ""},
			}
			for _, width := range []int64{1280, 360} {
				if width == 360 {
					tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
				} else {
					tb.do(chromedp.EmulateViewport(1280, 860))
				}
				for _, v := range views {
					tb.show(v.hash, v.ready)
					if v.open != "" {
						eval[bool](tb, fmt.Sprintf(`(() => { const s = document.querySelector('details.step[data-step-id=%q]'); if (s) s.open = true; return !!s; })()`, v.open))
					}
					tb.settle()
					if width == 360 {
						if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
							t.Errorf("%s at 360 px: the document is %d px wide and scrolls sideways", v.name, w)
						}
					}
					shots.write(tb, fmt.Sprintf("%s-%d", v.name, width))
				}
			}
		})

	})

	t.Run("a running run turns succeeded without a reload", func(t *testing.T) {
		tb := home.in(t)
		id := d.run["running"]
		tb.show("#/runs/"+id, "#run-status[data-status]")
		run := s.run(t, d.key, id)
		if got := tb.runStatus(); got != "running" || run["status"] != "running" {
			tb.fatalf("#run-status says %q and the API %q, want both running", got, run["status"])
		}
		tb.checkTimeline(run)
		if !tb.exists("#live") {
			t.Errorf("no #live while the run is running")
		}
		eval[bool](tb, `(window.__sameDocument = 'still here', true)`)
		docs := tb.documentsLoaded()

		sh.release()
		if _, ok := poll[bool](tb, `document.querySelector('#run-status')?.dataset.status === 'succeeded'`, 20*time.Second); !ok {
			tb.fatalf("#run-status never turned succeeded (the API says %s)", s.run(t, d.key, id)["status"])
		}
		if marker := eval[string](tb, `window.__sameDocument ?? ''`); marker != "still here" || tb.documentsLoaded() != docs {
			t.Errorf("the page was reloaded or navigated to show the new status (marker %q, %d documents loaded, %d before)", marker, tb.documentsLoaded(), docs)
		}
		final := s.run(t, d.key, id)
		tb.checkTimeline(final)
		tb.checkOutputs(final)

		// The refresh stops once the run has ended.
		reads := func() int {
			n := 0
			for _, r := range tb.sent() {
				if u, err := url.Parse(r.url); err == nil && r.method == "GET" && u.Path == "/api/v1/runs/"+id {
					n++
				}
			}
			return n
		}
		atEnd := reads()
		time.Sleep(3500 * time.Millisecond)
		if after := reads(); after != atEnd {
			t.Errorf("the page read the finished run %d more times in 3.5 s: the live refresh did not stop", after-atEnd)
		}
	})

	t.Run("the runs list pages with its cursor", func(t *testing.T) {
		tb := home.in(t)
		before := len(tb.sent())
		tb.show("#/runs", "table#runs tr.run")
		q, _ := url.ParseQuery(strings.TrimPrefix(lastAPIQuery(tb, before, "/runs"), "?"))
		limit := 20 // the API's default
		if l := q.Get("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
		}
		// Enough runs for a second page.
		var more []string
		for range limit + 3 - len(d.run) {
			more = append(more, s.start(t, d.key, d.wf["notify"], `{"orderId": "A-1043"}`))
		}
		for _, id := range more {
			s.settled(t, d.key, id, finished)
		}
		before = len(tb.sent())
		tb.show("#/runs", "table#runs tr.run")
		first := lastAPIQuery(tb, before, "/runs")
		tb.checkRuns("/runs"+first, d.key)
		_, cursor := s.list(t, d.key, "/runs"+first)
		if cursor == "" || !tb.exists("button#next-page") {
			tb.fatalf("with %d runs and a page of %d: API cursor %q, button#next-page present %v", limit+3, limit, cursor, tb.exists("button#next-page"))
		}
		if tb.exists("button#first-page") {
			t.Errorf("button#first-page on the first page")
		}
		firstIDs := tb.runIDs()
		before = len(tb.sent())
		tb.do(chromedp.Click(chromedp.CSS("button#next-page")))
		if _, ok := poll[bool](tb, fmt.Sprintf(`(() => { const r = document.querySelector('table#runs tr.run'); return !!r && r.dataset.runId !== %q && !!document.querySelector('button#first-page'); })()`, firstIDs[0]), 10*time.Second); !ok {
			tb.fatalf("button#next-page did not show the second page with a button#first-page")
		}
		second := lastAPIQuery(tb, before, "/runs")
		if !strings.Contains(second, "cursor=") {
			t.Errorf("the second page was read with %q, not with the cursor", second)
		}
		secondIDs := tb.runIDs()
		for _, id := range secondIDs {
			if slices.Contains(firstIDs, id) {
				t.Errorf("run %s is on both pages", id)
			}
		}
		tb.checkRuns("/runs"+second, d.key)
	})
}

// lastAPIQuery is the query string ("?…" or "") of the last request to the
// API path the tab sent after its first `after` requests.
func lastAPIQuery(tb *tab, after int, path string) string {
	tb.t.Helper()
	sent := tb.sent()
	for i := len(sent) - 1; i >= after; i-- {
		u, err := url.Parse(sent[i].url)
		if err == nil && sent[i].method == "GET" && u.Path == "/api/v1"+path {
			if u.RawQuery == "" {
				return ""
			}
			return "?" + u.RawQuery
		}
	}
	tb.fatalf("the page sent no GET /api/v1%s", path)
	return ""
}

// runIDs is table#runs's rows' run ids, in order.
func (tb *tab) runIDs() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('table#runs tr.run')].map(r => r.dataset.runId)`)
}

// runRows reads table#runs: each row's id, status and link, as "id status
// link".
func (tb *tab) runRows() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('table#runs tr.run')].map(r =>
		r.dataset.runId + ' ' + r.dataset.status + ' ' + (r.querySelector('a[href="#/runs/' + r.dataset.runId + '"]') ? 'linked' : 'unlinked'))`)
}

// apiRunRows is the API's list at path in runRows's form: newest first as
// the API orders runs, by id (a webhook run's id is made from its
// signature's second, so its createdAt can be a little later than a newer
// id's).
func apiRunRows(t *testing.T, s *site, key, path string) []string {
	t.Helper()
	runs, _ := s.list(t, key, path)
	var rows []string
	for _, r := range runs {
		rows = append(rows, fmt.Sprintf("%s %s linked", r["id"], r["status"]))
	}
	return rows
}

// checkRuns holds table#runs to the API's list at path.
func (tb *tab) checkRuns(path, key string) {
	tb.t.Helper()
	want := apiRunRows(tb.t, tb.site, key, path)
	if got := tb.runRows(); !slices.Equal(got, want) {
		tb.errorf("table#runs rows (id, data-status, link) are\n  %v\nthe API's %s (newest first) is\n  %v", got, path, want)
	}
}

// waitRuns waits for table#runs to show the API's list at path.
func (tb *tab) waitRuns(key, path string) {
	tb.t.Helper()
	want := apiRunRows(tb.t, tb.site, key, path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		state := eval[string](tb, `document.querySelector('main#view')?.dataset.state ?? ''`)
		got := tb.runRows()
		if state == "ready" && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			tb.fatalf("table#runs rows are\n  %v\nthe API's %s is\n  %v", got, path, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// choose picks value in a select as a person would, firing change.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	problem := eval[string](tb, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		if (!s) return 'missing';
		if (![...s.options].some(o => o.value === %q)) return 'no option with value ' + %q + ' (options: ' + [...s.options].map(o => o.value).join(', ') + ')';
		s.focus();
		s.value = %q;
		s.dispatchEvent(new Event('input', {bubbles: true}));
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return '';
	})()`, sel, value, value, value))
	if problem != "" {
		tb.fatalf("%s: %s", sel, problem)
	}
}

// checkOutputs holds each step's pre.output to the API's output (the JSON
// shown parses to the same value) for the steps whose output is whole.
func (tb *tab) checkOutputs(run map[string]any) {
	tb.t.Helper()
	shown := eval[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('details.step[data-step-id]')].map(d =>
		[d.dataset.stepId, d.querySelector('pre.output')?.textContent ?? '\u0000none']))`)
	for id, step := range stepsOf(run) {
		if step["truncated"] == true || step["output"] == nil {
			continue
		}
		text, ok := shown[id]
		if !ok {
			tb.errorf("run %s: no details.step[data-step-id=%q]", run["id"], id)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(text), &got); err != nil || jsonText(got) != jsonText(step["output"]) {
			tb.errorf("run %s step %s: pre.output reads %q, want the API's output %s", run["id"], id, text, jsonText(step["output"]))
		}
	}
}

// settle lets the page finish laying out (fonts, a frame) before a
// screenshot.
func (tb *tab) settle() {
	tb.t.Helper()
	tb.do(chromedp.Evaluate[chromedp.Void](`document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))`, chromedp.EvalAwaitPromise))
}

func containsWord(text, word string) bool {
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r < '0' || r > '9' }) {
		if f == word {
			return true
		}
	}
	return false
}

func anyContains(lines []string, s string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) })
}
