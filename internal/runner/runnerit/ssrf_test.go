package runnerit

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

// Under the deployed default policy, a run whose http step names a loopback
// target fails that step with TARGET_REFUSED and nothing reaches the target:
// 127.0.0.1, localhost (loopback by definition, never looked up) and [::1].
func TestDefaultPolicyRefusesLoopbackTargetsEndToEnd(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true, RefuseLoopbackTargets: true})
	key, _ := env.MustKey(t, "acct_ssrf")
	a := api{env: env, key: key}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	port := tg.URL[strings.LastIndex(tg.URL, ":")+1:]
	for _, target := range []string{"http://127.0.0.1:" + port + "/a", "http://localhost:" + port + "/b", "http://[::1]:" + port + "/c"} {
		wf := a.workflow(t, `{"name": "ssrf", "trigger": {"type": "manual"}, "steps": [
		  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+target+`"}}]}`)
		run := a.finished(t, a.run(t, wf, `{}`))
		step := stepsOf(run)["call"]
		if run["status"] != "failed" || step == nil || step["error"].(map[string]any)["code"] != "TARGET_REFUSED" {
			t.Errorf("%s: run %s, step %s", target, run["status"], jsonOf(step))
		}
	}
	for _, path := range []string{"/a", "/b", "/c"} {
		if n := tg.count(path); n != 0 {
			t.Errorf("the target got %d requests on %s", n, path)
		}
	}
}

// In the tests' loopback mode, a loopback target that redirects anywhere
// else (the metadata service, a private address) is refused at the
// redirect, before any lookup or dial: the redirect's target gets nothing.
func TestARedirectOffLoopbackIsRefusedEndToEnd(t *testing.T) {
	a := start(t)
	for _, to := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:8080/"} {
		tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
		wf := a.workflow(t, `{"name": "redirect", "trigger": {"type": "manual"}, "steps": [
		  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/go"}}]}`)
		run := a.finished(t, a.run(t, wf, `{}`))
		step := stepsOf(run)["call"]
		if run["status"] != "failed" || step == nil || step["error"].(map[string]any)["code"] != "TARGET_REFUSED" {
			t.Errorf("redirect to %s: run %s, step %s", url.QueryEscape(to), run["status"], jsonOf(step))
		}
		if tg.count("/go") != 1 {
			t.Errorf("the loopback target got %d requests, want 1", tg.count("/go"))
		}
	}
}
