package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
)

// troubled is a limiter whose DynamoDB client meets injected faults.
type troubled struct {
	l      *ratelimit.Limiter
	clock  *fixedClock
	faults *faults
	calls  *dynamotest.Calls
	logs   *bytes.Buffer
}

func mustTroubled(t *testing.T, limit int64, budget store.Budget) troubled {
	t.Helper()
	table := dynamotest.MustTable(t)
	f := &faults{}
	client, err := store.NewClient(context.Background(), store.Config{
		Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: table.Name, Budget: budget,
	}, f.Attach, table.Calls.Attach)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l, clock := limiterOn(client, table.Name, limit, slog.New(slog.NewJSONHandler(&logs, nil)))
	return troubled{l: l, clock: clock, faults: f, calls: table.Calls, logs: &logs}
}

func (tr troubled) allow() ratelimit.Decision {
	return tr.l.Allow(context.Background(), "key:trouble", ratelimit.CategoryWrite)
}

// TestLimiterUnderDynamoDBTrouble: a throttled counter is the hammered key
// itself and gets 429 at once (the SDK's default retried it for up to 7 s
// and then let it through: 35 of 35 admitted at a limit of 5); any other
// counter failure lets the request through, within the store's budget, and
// is logged. Attempts are counted, not seconds.
func TestLimiterUnderDynamoDBTrouble(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"} {
		t.Run("a throttled counter refuses at once: "+code, func(t *testing.T) {
			tr := mustTroubled(t, 5, store.Budget{})
			tr.faults.set(throttled, code)
			for i := range 35 {
				d := tr.allow()
				if d.Allowed || d.Remaining != 0 || d.Limit != 5 {
					t.Fatalf("request %d under throttling: %+v, want refused", i+1, d)
				}
				wait := d.Reset.Sub(tr.clock.Now())
				if d.RetryAfter < 2 || d.RetryAfter > 3 || wait < ratelimit.ThrottledWait || wait >= ratelimit.ThrottledWait+time.Second || d.Reset.Nanosecond() != 0 {
					t.Fatalf("Reset %v (in %v), Retry-After %d: want a whole second %v to %v on", d.Reset, wait, d.RetryAfter, ratelimit.ThrottledWait, ratelimit.ThrottledWait+time.Second)
				}
			}
			if got := tr.faults.Attempts(); got["UpdateItem"] != 35 || len(got) != 1 {
				t.Fatalf("35 throttled requests made %v attempts, want one UpdateItem each: no retry, nothing to take back", got)
			}
			if !strings.Contains(tr.logs.String(), "rate counter throttled") {
				t.Fatalf("the throttling was not logged: %s", tr.logs)
			}
			// The throttled requests counted nothing: once the throttling
			// ends, the whole limit is there.
			tr.faults.set(noFault, "")
			if got := allowN(tr.l, "key:trouble", 6); got != 5 {
				t.Fatalf("after the throttling ended admitted %d of 6, want 5", got)
			}
		})
	}

	t.Run("a throttled take-back leaves the refusal refused and is logged", func(t *testing.T) {
		tr := mustTroubled(t, 1, store.Budget{})
		tr.faults.set(throttled, "ProvisionedThroughputExceededException")
		tr.faults.decide = func(n int) bool { return n == 3 } // admit, count, take back
		if !tr.allow().Allowed {
			t.Fatal("the first request was refused")
		}
		if d := tr.allow(); d.Allowed {
			t.Fatalf("the second request at a limit of 1 was admitted: %+v", d)
		}
		if got := tr.faults.Attempts(); got["UpdateItem"] != 3 {
			t.Fatalf("attempts %v, want 3 UpdateItem: the throttled take-back is not retried", got)
		}
		if !strings.Contains(tr.logs.String(), "could not take back") {
			t.Fatalf("the lost take-back was not logged: %s", tr.logs)
		}
	})

	t.Run("server errors let the request through after the bounded retries", func(t *testing.T) {
		tr := mustTroubled(t, 5, store.Budget{})
		tr.faults.set(serverError, "")
		start := time.Now()
		for i := range 10 {
			if d := tr.allow(); !d.Allowed {
				t.Fatalf("request %d with the counter failing: %+v, want allowed (fail open)", i+1, d)
			}
		}
		got := tr.faults.Attempts()
		t.Logf("10 requests meeting 500s: %v attempts in %v", got, time.Since(start))
		if got["UpdateItem"] != 10*store.DefaultBudget.MaxAttempts {
			t.Fatalf("attempts %v, want %d UpdateItem (%d per call)", got, 10*store.DefaultBudget.MaxAttempts, store.DefaultBudget.MaxAttempts)
		}
		if !strings.Contains(tr.logs.String(), "rate limiter unavailable") || !strings.Contains(tr.logs.String(), "InternalServerError") {
			t.Fatalf("the failure was not logged: %s", tr.logs)
		}
	})

	t.Run("a hung engine lets the request through when the deadlines pass", func(t *testing.T) {
		// A budget of milliseconds, so the test takes that long; the next
		// case runs the default budget once.
		budget := store.Budget{Call: 300 * time.Millisecond, Attempt: 100 * time.Millisecond}
		tr := mustTroubled(t, 5, budget)
		tr.faults.set(hang, "")
		for i := range 3 {
			if d := tr.allow(); !d.Allowed {
				t.Fatalf("request %d with the engine hung: %+v, want allowed (fail open)", i+1, d)
			}
		}
		got := tr.faults.Attempts()["UpdateItem"]
		// Each attempt ends at its own 100 ms and is retried; the call
		// deadline (300 ms) ends the third, or the back-offs leave room for
		// two only.
		if got < 3*2 || got > 3*3 {
			t.Fatalf("3 hung requests made %d attempts, want 2 or 3 each", got)
		}
		if !strings.Contains(tr.logs.String(), "rate limiter unavailable") || !strings.Contains(tr.logs.String(), "deadline exceeded") {
			t.Fatalf("the timeouts were not logged as such: %s", tr.logs)
		}
	})

	t.Run("with the default budget a hung call ends after two attempts", func(t *testing.T) {
		tr := mustTroubled(t, 5, store.Budget{})
		tr.faults.set(hang, "")
		start := time.Now()
		if d := tr.allow(); !d.Allowed {
			t.Fatalf("with the engine hung: %+v, want allowed (fail open)", d)
		}
		// 2 s for the first attempt, a back-off of at most 50 ms, and the
		// second is cut by the call's 4 s.
		got := tr.faults.Attempts()["UpdateItem"]
		t.Logf("a hung counter call: %d attempts, answered in %v", got, time.Since(start))
		if got != 2 {
			t.Fatalf("%d attempts, want 2", got)
		}
	})
}
