package ratelimit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func mustLimiter(tb testing.TB, limit int64) (*ratelimit.Limiter, *fixedClock, dynamotest.Table) {
	tb.Helper()
	table := dynamotest.MustTable(tb)
	l, clock := limiterOn(table.Client, table.Name, limit, slog.New(slog.DiscardHandler))
	return l, clock, table
}

func limiterOn(db *dynamodb.Client, table string, limit int64, logger *slog.Logger) (*ratelimit.Limiter, *fixedClock) {
	clock := &fixedClock{t: at(29_000_000, 10*time.Second)}
	cfg := ratelimit.DefaultConfig()
	cfg.Limits[ratelimit.CategoryWrite] = limit
	return ratelimit.New(pipelinedb.NewRateCounter(db, table), cfg, clock.Now, logger), clock
}

// mustBurstLimiter is mustLimiter with a client that has room for a
// deliberate burst: hundreds of concurrent calls queue for over a second in
// the single-threaded local engine on a loaded two-core machine, which the
// default budget's 2 s per attempt is not sized for (a Lambda sandbox makes
// one call at a time); a timed-out attempt that the engine still applies
// would be counted twice and make these tests about timeouts instead.
func mustBurstLimiter(tb testing.TB, limit int64) (*ratelimit.Limiter, *fixedClock, dynamotest.Table) {
	tb.Helper()
	table := dynamotest.MustTable(tb)
	client, err := store.NewClient(context.Background(), store.Config{
		Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: table.Name,
		Budget: store.Budget{Call: time.Minute, Attempt: time.Minute},
	}, table.Calls.Attach)
	if err != nil {
		tb.Fatal(err)
	}
	l, clock := limiterOn(client, table.Name, limit, slog.New(slog.DiscardHandler))
	return l, clock, table
}

func allowN(l *ratelimit.Limiter, subject string, n int) (admitted int) {
	for i := 0; i < n; i++ {
		if l.Allow(context.Background(), subject, ratelimit.CategoryWrite).Allowed {
			admitted++
		}
	}
	return admitted
}

func TestLimiterOnDynamoDB(t *testing.T) {
	t.Run("300 concurrent requests against a limit of 100 admit exactly 100", func(t *testing.T) {
		l, _, _ := mustBurstLimiter(t, 100)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if l.Allow(context.Background(), "key:concurrent", ratelimit.CategoryWrite).Allowed {
					admitted.Add(1)
				}
			}()
		}
		wg.Wait()
		if admitted.Load() != 100 {
			t.Fatalf("admitted %d, want exactly 100", admitted.Load())
		}
	})

	t.Run("refused requests use up no quota", func(t *testing.T) {
		l, clock, _ := mustLimiter(t, 100)
		clock.Set(at(29_000_000, 10*time.Second))
		if got := allowN(l, "key:quota", 150); got != 100 {
			t.Fatalf("second 10 admitted %d, want 100", got)
		}
		// 30 s on the window still holds the 100.
		clock.Set(at(29_000_000, 40*time.Second))
		if got := allowN(l, "key:quota", 70); got != 0 {
			t.Fatalf("30 s later admitted %d, want 0", got)
		}
		// 61 s after second 10 it has left the window. Had any of the 120
		// refusals counted, fewer than 70 would fit now.
		clock.Set(at(29_000_001, 11*time.Second))
		if got := allowN(l, "key:quota", 70); got != 70 {
			t.Fatalf("once second 10 left the window admitted %d, want 70", got)
		}
		clock.Set(at(29_000_001, 12*time.Second))
		if got := allowN(l, "key:quota", 40); got != 30 {
			t.Fatalf("a second later admitted %d, want the 30 left", got)
		}
	})

	t.Run("a request at the Reset of a 429 is admitted", func(t *testing.T) {
		const subject = "key:reset"
		for _, tc := range []struct {
			name  string
			limit int64
			fill  func(l *ratelimit.Limiter, clock *fixedClock)
			last  time.Time // when the refused request is sent
		}{
			{"when the window filled in one second", 5, func(l *ratelimit.Limiter, clock *fixedClock) {
				clock.Set(at(29_000_000, 50*time.Second))
				allowN(l, subject, 5)
			}, at(29_000_001, 30*time.Second)},
			{"when the window filled over time, the oldest second decides", 5, func(l *ratelimit.Limiter, clock *fixedClock) {
				clock.Set(at(29_000_000, 5*time.Second+300*time.Millisecond))
				allowN(l, subject, 2)
				clock.Set(at(29_000_000, 40*time.Second))
				allowN(l, subject, 3)
			}, at(29_000_000, 59*time.Second+999*time.Millisecond)},
			{"with a limit of one", 1, func(l *ratelimit.Limiter, clock *fixedClock) {
				clock.Set(at(29_000_000, 0))
				allowN(l, subject, 1)
			}, at(29_000_000, time.Second)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l, clock, _ := mustLimiter(t, tc.limit)
				tc.fill(l, clock)
				clock.Set(tc.last)
				d := l.Allow(context.Background(), subject, ratelimit.CategoryWrite)
				if d.Allowed || d.Remaining != 0 {
					t.Fatalf("expected a 429 decision, got %+v", d)
				}
				if !d.Reset.After(clock.Now()) {
					t.Fatalf("Reset %v is not after now %v", d.Reset, clock.Now())
				}
				if wait := d.Reset.Sub(clock.Now()); d.RetryAfter < 1 || time.Duration(d.RetryAfter)*time.Second < wait || time.Duration(d.RetryAfter-1)*time.Second >= wait {
					t.Fatalf("Retry-After %d s does not round up the %v until Reset", d.RetryAfter, wait)
				}
				clock.Set(d.Reset.Add(-time.Millisecond))
				if l.Allow(context.Background(), subject, ratelimit.CategoryWrite).Allowed {
					t.Fatalf("admitted before Reset %v: Reset is later than it needs to be", d.Reset)
				}
				clock.Set(d.Reset)
				if !l.Allow(context.Background(), subject, ratelimit.CategoryWrite).Allowed {
					t.Fatalf("refused at Reset %v", d.Reset)
				}
			})
		}
	})

	t.Run("Remaining counts down and the headers agree with what is admitted", func(t *testing.T) {
		l, _, _ := mustLimiter(t, 3)
		for want := int64(2); want >= 0; want-- {
			d := l.Allow(context.Background(), "key:remaining", ratelimit.CategoryWrite)
			if !d.Allowed || d.Remaining != want || d.Limit != 3 {
				t.Fatalf("decision %+v, want allowed with Remaining %d", d, want)
			}
		}
		if d := l.Allow(context.Background(), "key:remaining", ratelimit.CategoryWrite); d.Allowed {
			t.Fatalf("a fourth request was admitted: %+v", d)
		}
	})

	t.Run("an admitted request costs one UpdateItem, a refused one two", func(t *testing.T) {
		l, _, table := mustLimiter(t, 10)
		table.Calls.Reset()
		allowN(l, "key:calls", 10)
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 10 || table.Calls.Total() != 10 {
			t.Fatalf("10 admitted requests made %v, want 10 UpdateItem and nothing else", calls)
		}
		table.Calls.Reset()
		allowN(l, "key:calls", 5)
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 10 || table.Calls.Total() != 10 {
			t.Fatalf("5 refusals made %v, want two UpdateItem each (count, take back)", calls)
		}
	})

	t.Run("subjects and categories are counted apart", func(t *testing.T) {
		l, _, _ := mustLimiter(t, 2)
		allowN(l, "key:a", 2)
		if !l.Allow(context.Background(), "key:b", ratelimit.CategoryWrite).Allowed {
			t.Fatal("key b was limited by key a's requests")
		}
		if !l.Allow(context.Background(), "key:a", ratelimit.CategoryRead).Allowed {
			t.Fatal("key a's reads were limited by its writes")
		}
	})
}

// TestStrictWindowAcrossAMinuteBoundary is the failure on DynamoDB:
// with the two-window estimate, a limit's worth at :58 of one minute let
// nearly as many more in at the start of the next (39 in 59.65 s at a limit
// of 20). Now nothing more is admitted until second :58 has left the window.
func TestStrictWindowAcrossAMinuteBoundary(t *testing.T) {
	const limit = 20
	l, clock, _ := mustLimiter(t, limit)
	first := at(29_000_000, 58*time.Second+300*time.Millisecond)
	clock.Set(first)
	if got := allowN(l, "key:boundary", limit); got != limit {
		t.Fatalf("at :58 admitted %d, want %d", got, limit)
	}
	// One request every half second from the next minute's start to just
	// before :59, when second :58 leaves the window: all refused, all told
	// to come back at :59.
	reset := first.Truncate(time.Second).Add(61 * time.Second)
	var admitted, wrongReset []string
	for at := first.Truncate(time.Minute).Add(time.Minute); at.Before(reset); at = at.Add(500 * time.Millisecond) {
		clock.Set(at)
		d := l.Allow(context.Background(), "key:boundary", ratelimit.CategoryWrite)
		if d.Allowed {
			admitted = append(admitted, at.Format(":05.0"))
		} else if !d.Reset.Equal(reset) {
			wrongReset = append(wrongReset, at.Format(":05.0")+" -> "+d.Reset.Format(":05"))
		}
	}
	if len(admitted) > 0 {
		t.Errorf("after %d admitted at :58.3, %d more were admitted within 60 s, at %v", limit, len(admitted), admitted)
	}
	if len(wrongReset) > 0 {
		t.Errorf("refusals told to come back before :59: %v", wrongReset)
	}
	clock.Set(first.Truncate(time.Second).Add(61 * time.Second))
	if !l.Allow(context.Background(), "key:boundary", ratelimit.CategoryWrite).Allowed {
		t.Fatal("refused once second :58 had left the window")
	}
}

// TestConcurrentRefusalsShareTheTrueReset: refusals are counted for a moment
// before they are taken back, and the estimate they replaced computed Reset
// from counts that included those of other refusals in flight, so 60
// concurrent refusals got Resets up to 60 s late. Now a refusal's Reset comes
// from the oldest admitted second only: every one of them gets the same,
// true Reset.
func TestConcurrentRefusalsShareTheTrueReset(t *testing.T) {
	const limit, refusals = 10, 60
	l, clock, _ := mustBurstLimiter(t, limit)
	clock.Set(at(29_000_000, 10*time.Second+200*time.Millisecond))
	allowN(l, "key:spread", 3)
	clock.Set(at(29_000_000, 30*time.Second))
	allowN(l, "key:spread", limit-3)
	// Into the next minute, where the estimate refused by weighing the
	// previous minute, counting each refusal until it was taken back.
	now := at(29_000_001, 5*time.Second+500*time.Millisecond)
	clock.Set(now)
	decisions := make([]ratelimit.Decision, refusals)
	var wg sync.WaitGroup
	for i := range decisions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decisions[i] = l.Allow(context.Background(), "key:spread", ratelimit.CategoryWrite)
		}()
	}
	wg.Wait()
	resets := map[string]int{}
	for _, d := range decisions {
		if d.Allowed {
			t.Fatalf("a request was admitted into a full window: %+v", d)
		}
		resets[fmt.Sprintf("Reset %s, Retry-After %d", d.Reset.Format(":05"), d.RetryAfter)]++
	}
	if len(resets) != 1 {
		t.Fatalf("%d concurrent refusals got %d different answers: %v", refusals, len(resets), resets)
	}
	// Second 10 leaves the window 61 s after it began: at :11 of the next
	// minute, 5.5 s from now.
	want := at(29_000_001, 11*time.Second)
	if d := decisions[0]; !d.Reset.Equal(want) || d.RetryAfter != 6 {
		t.Fatalf("every refusal got %+v, want Reset %v and Retry-After 6", d, want)
	}
	// And it is the truth: every refusal was taken back, so a millisecond
	// before Reset the window is still full, and at Reset it is not.
	clock.Set(want.Add(-time.Millisecond))
	if l.Allow(context.Background(), "key:spread", ratelimit.CategoryWrite).Allowed {
		t.Fatal("admitted before the Reset the refusals were given")
	}
	clock.Set(want)
	if !l.Allow(context.Background(), "key:spread", ratelimit.CategoryWrite).Allowed {
		t.Fatal("refused at the Reset the refusals were given")
	}
}

func TestLimiterFailsOpen(t *testing.T) {
	ctx := context.Background()
	dead := dynamotest.MustUnreachableClient(t)
	var logs bytes.Buffer
	l := ratelimit.New(pipelinedb.NewRateCounter(dead, "none"), ratelimit.DefaultConfig(), nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	d := l.Allow(ctx, "key:x", ratelimit.CategoryRead)
	if !d.Allowed || d.Limit != 1000 {
		t.Fatalf("with the counter unreachable the decision was %+v, want allowed", d)
	}
	if !strings.Contains(logs.String(), "rate limiter unavailable") {
		t.Fatalf("the failure was not logged: %q", logs.String())
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("RATE_LIMIT_WRITE", "7")
	cfg, err := ratelimit.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits[ratelimit.CategoryWrite] != 7 || cfg.Limits[ratelimit.CategoryRead] != 1000 {
		t.Fatalf("limits = %v", cfg.Limits)
	}
	t.Setenv("RATE_LIMIT_READ", "lots")
	if _, err := ratelimit.ConfigFromEnv(); err == nil {
		t.Fatal("a non-numeric limit was accepted")
	}
}
