package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/workflowsapi/workflows/internal/domain"
)

// TestConsoleShowsActionsTheKeyMayTake: Cancel and Retry appear only for a
// key with workflows:execute, and only where the run's status allows them;
// Cancel on a waiting run cancels it, Retry from the failed step starts a
// retry that reuses what had succeeded.
func TestConsoleShowsActionsTheKeyMayTake(t *testing.T) {
	t.Parallel()
	s := startSite(t)
	sh := newShop(t)
	const account = "acct_actions"
	full := s.key(t, account)
	reader := s.key(t, account, domain.ScopeWorkflowsRead, domain.ScopeRunsRead, domain.ScopeKeysRead)
	refund, _ := s.workflow(t, full, sh.definition(refundApproval))
	charge, _ := s.workflow(t, full, sh.definition(chargeRenewals))
	notify, _ := s.workflow(t, full, sh.definition(notifyBigOrders))
	waiting := s.start(t, full, refund, `{"orderId": "R-7782"}`)
	failed := s.start(t, full, charge, `{"customer": "cus_M4rg0 (Margaret Hamilton)"}`)
	succeeded := s.start(t, full, notify, `{"orderId": "A-1043"}`)
	s.settled(t, full, waiting, stepStatus("approve", "waiting"))
	s.settled(t, full, failed, finished)
	s.settled(t, full, succeeded, finished)

	if got := s.call(t, reader, "GET", "/runs/"+waiting, "").Header.Get("X-Key-Scopes"); strings.Contains(got, "workflows:execute") || !strings.Contains(got, "runs:read") {
		t.Errorf("X-Key-Scopes for the read-only key = %q", got)
	}

	buttons := func(tb *tab) string {
		var b []string
		for _, sel := range []string{"button#cancel-run", "button#retry-run", "button#retry-from-failed"} {
			if tb.exists(sel) {
				b = append(b, sel)
			}
		}
		return strings.Join(b, " ")
	}
	open := func(tb *tab, id, status string) {
		t.Helper()
		tb.show("#/runs/"+id, "#run-status[data-status]")
		if got := tb.runStatus(); got != status {
			tb.fatalf("run %s: #run-status says %q, want %q", id, got, status)
		}
	}

	t.Run("a key without workflows:execute sees no Cancel or Retry", func(t *testing.T) {
		tb := s.newTab(t)
		tb.pasteKey(reader)
		for _, r := range []struct{ id, status string }{{waiting, "waiting"}, {failed, "failed"}} {
			open(tb, r.id, r.status)
			if got := buttons(tb); got != "" {
				t.Errorf("a %s run shows %s to a key without workflows:execute", r.status, got)
			}
		}
	})

	tb := s.newTab(t)
	tb.pasteKey(full)

	t.Run("a key with workflows:execute sees what the status allows", func(t *testing.T) {
		tb := tb.in(t)
		for _, r := range []struct{ id, status, want string }{
			{waiting, "waiting", "button#cancel-run"},
			{failed, "failed", "button#retry-run button#retry-from-failed"},
			{succeeded, "succeeded", ""},
		} {
			open(tb, r.id, r.status)
			if got := buttons(tb); got != r.want {
				t.Errorf("a %s run shows [%s], want [%s]", r.status, got, r.want)
			}
		}
	})

	t.Run("Cancel cancels a waiting run", func(t *testing.T) {
		tb := tb.in(t)
		open(tb, waiting, "waiting")
		tb.do(chromedp.Click(chromedp.CSS("button#cancel-run")))
		if _, ok := poll[bool](tb, `document.querySelector('#run-status')?.dataset.status === 'cancelled'`, 10*time.Second); !ok {
			tb.fatalf("#run-status never said cancelled after button#cancel-run")
		}
		if got := s.run(t, full, waiting)["status"]; got != "cancelled" {
			t.Errorf("after button#cancel-run the API says the run is %v", got)
		}
		if got := buttons(tb); got != "button#retry-run" {
			t.Errorf("the cancelled run shows [%s], want [button#retry-run]", got)
		}
	})

	t.Run("Retry from the failed step reuses what succeeded", func(t *testing.T) {
		tb := tb.in(t)
		open(tb, failed, "failed")
		tb.do(chromedp.Click(chromedp.CSS("button#retry-from-failed")))
		var retry map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for retry == nil {
			runs, _ := s.list(t, full, "/runs?workflowId="+charge)
			for _, r := range runs {
				if r["retryOf"] == failed {
					retry = r
				}
			}
			if retry == nil && time.Now().After(deadline) {
				tb.fatalf("no run retries %s after button#retry-from-failed", failed)
			}
			time.Sleep(50 * time.Millisecond)
		}
		run := s.run(t, full, retry["id"].(string))
		if plan := stepsOf(run)["plan"]; plan["reused"] != true {
			t.Errorf("the retry's plan step was not reused (%v): the page did not retry from the failed step", plan["reused"])
		}
	})
}
