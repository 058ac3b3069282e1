package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
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
	clock := &fixedClock{t: at(29_000_000, 10*time.Second)}
	cfg := ratelimit.DefaultConfig()
	cfg.Limits[ratelimit.CategoryWrite] = limit
	l := ratelimit.New(pipelinedb.NewRateCounter(table.Client, table.Name), cfg, clock.Now, slog.New(slog.DiscardHandler))
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
		l, _, _ := mustLimiter(t, 100)
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

	t.Run("rejected requests use up no quota", func(t *testing.T) {
		l, clock, _ := mustLimiter(t, 100)
		if got := allowN(l, "key:quota", 150); got != 100 {
			t.Fatalf("first window admitted %d, want 100", got)
		}
		// Half way into the next window half of the previous 100 still
		// counts: 50 fit. Had the 50 refusals counted, only 25 would.
		clock.Set(at(29_000_001, 30*time.Second))
		if got := allowN(l, "key:quota", 70); got != 50 {
			t.Fatalf("half way into the next window admitted %d, want 50", got)
		}
		// Those 20 refusals came after the count went up and were taken back;
		// at 45 s a quarter of 100 counts, so 75 - 50 = 25 more fit.
		clock.Set(at(29_000_001, 45*time.Second))
		if got := allowN(l, "key:quota", 40); got != 25 {
			t.Fatalf("three quarters in admitted %d, want 25", got)
		}
	})

	t.Run("a request at the Reset of a 429 is admitted", func(t *testing.T) {
		const subject = "key:reset"
		for _, tc := range []struct {
			name  string
			fill  func(l *ratelimit.Limiter, clock *fixedClock)
			start time.Time
		}{
			{"when the current window is full", func(l *ratelimit.Limiter, clock *fixedClock) { allowN(l, subject, 5) }, at(29_000_000, 50*time.Second)},
			{"when the previous window still weighs too much", func(l *ratelimit.Limiter, clock *fixedClock) {
				allowN(l, subject, 5)
				clock.Set(at(29_000_001, 2*time.Second))
				allowN(l, subject, 1)
			}, at(29_000_000, 40*time.Second)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l, clock, _ := mustLimiter(t, 5)
				clock.Set(tc.start)
				tc.fill(l, clock)
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

	t.Run("each admitted request costs one UpdateItem", func(t *testing.T) {
		l, _, table := mustLimiter(t, 10)
		table.Calls.Reset()
		allowN(l, "key:calls", 10)
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 10 || table.Calls.Total() != 10 {
			t.Fatalf("10 admitted requests made %v, want 10 UpdateItem and nothing else", calls)
		}
		table.Calls.Reset()
		allowN(l, "key:calls", 5)
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 5 {
			t.Fatalf("5 refusals on a full window made %v, want one UpdateItem each", calls)
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
