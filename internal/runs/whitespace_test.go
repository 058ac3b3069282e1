package runs_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
)

// TestABodyOfOnlyWhitespaceIsRefusedAndChangesNothing (issue 19): the
// fuzzer found "  \n" taken for {} by start, cancel and retry, each then
// starting or cancelling a run. A body of only whitespace is not JSON: each
// route answers 400 VALIDATION_ERROR on body and starts, stops and stores
// nothing, with an Idempotency-Key too; without a Content-Type it is 415,
// since it is a body. No body at all is still read as {} (curl -X POST
// …/cancel).
func TestABodyOfOnlyWhitespaceIsRefusedAndChangesNothing(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	queued := a.seed(t, wf, runs.StatusQueued)
	failed := a.seed(t, wf, runs.StatusFailed)
	paths := []string{"/workflows/" + wf + "/run", "/runs/" + queued.ID + "/cancel", "/runs/" + failed.ID + "/retry"}
	for _, body := range []string{"  \n", " ", "\t\r\n"} {
		for _, path := range paths {
			for _, contentType := range []string{"application/json", ""} {
				key := http.Header{"Idempotency-Key": {"ws-" + contentType}}
				r := gatewaytest.CallWith(t, "POST", a.env.URL+routes.BasePath+path, a.key, contentType, key, []byte(body))
				if contentType == "" {
					// A blank body is a body: without its type, 415, as any other.
					if r.Status != 415 || r.ErrorCode(t) != "UNSUPPORTED_MEDIA_TYPE" {
						t.Errorf("POST %s with body %q and no Content-Type: %d %s, want 415", path, body, r.Status, r.Body)
					}
					continue
				}
				if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" ||
					!strings.Contains(string(r.Body), `"field":"body"`) || !strings.Contains(string(r.Body), "only whitespace is not JSON") {
					t.Errorf("POST %s with body %q (Content-Type %q): %d %s, want 400 VALIDATION_ERROR on body", path, body, contentType, r.Status, r.Body)
				}
			}
		}
	}
	ctx := context.Background()
	page, err := a.db.List(ctx, account, runs.Filter{}, 100, "")
	if err != nil || len(page.Items) != 2 {
		t.Errorf("%d runs in the account (%v), want the 2 seeded: a refused body started one", len(page.Items), err)
	}
	if stored, _ := a.db.Get(ctx, account, queued.ID); stored.Status != runs.StatusQueued {
		t.Errorf("the queued run is %s after refused cancels", stored.Status)
	}
	a.orch.mu.Lock()
	started, stopped := len(a.orch.started), len(a.orch.stopped)
	a.orch.mu.Unlock()
	if started != 0 || stopped != 0 {
		t.Errorf("refused bodies started %d and stopped %d runs", started, stopped)
	}

	// No body at all is {}: each route does what it does.
	if r := a.call(t, "POST", paths[0], nil, ""); r.Status != 202 {
		t.Errorf("start with no body: %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "POST", paths[1], nil, ""); r.Status != 200 || r.Data(t)["status"] != string(runs.StatusCancelled) {
		t.Errorf("cancel with no body: %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "POST", paths[2], nil, ""); r.Status != 202 {
		t.Errorf("retry with no body: %d %s", r.Status, r.Body)
	}
}
