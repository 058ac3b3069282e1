package ratelimit_test

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

// TestLimiterFigures measures the figures of docs/performance.md ("The
// limiter under concurrency and trouble"). It logs and asserts nothing (the
// tests beside it assert), and it uses only what the limiter before the
// strict window also had (ratelimit.New and Allow, pipelinedb.NewRateCounter,
// store.NewClient, and faults_test.go), so the same file measures that code
// too; the document says how. It runs only when asked:
//
//	RATELIMIT_FIGURES=1 go test -count=1 -run TestLimiterFigures -v ./internal/ratelimit/
func TestLimiterFigures(t *testing.T) {
	if os.Getenv("RATELIMIT_FIGURES") == "" {
		t.Skip("set RATELIMIT_FIGURES=1 to measure")
	}
	minuteStart := time.UnixMilli(29_000_000 * 60_000)

	t.Run("admissions across a minute boundary", func(t *testing.T) {
		const limit = 20
		l, clock, _, _ := figLimiter(t, limit)
		var admitted []time.Time
		try := func(at time.Time) {
			clock.Set(at)
			if l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite).Allowed {
				admitted = append(admitted, at)
			}
		}
		// A limit's worth at :58, then a request every 100 ms for two
		// minutes from the next minute's start.
		for i := range limit {
			try(minuteStart.Add(58*time.Second + 300*time.Millisecond + time.Duration(i)*10*time.Millisecond))
		}
		for i := range 1200 {
			try(minuteStart.Add(time.Minute + time.Duration(i)*100*time.Millisecond))
		}
		most, from, to := 0, time.Time{}, time.Time{}
		for i, j := 0, 0; i < len(admitted); i++ {
			for j < len(admitted) && !admitted[j].After(admitted[i].Add(time.Minute)) {
				j++
			}
			if j-i > most {
				most, from, to = j-i, admitted[i], admitted[j-1]
			}
		}
		t.Logf("limit %d: %d admitted in all; at most %d within 60 s (%v after %s), of which %d in the next minute before :58.3",
			limit, len(admitted), most, to.Sub(from), from.Format("04:05.000"),
			countBetween(admitted, minuteStart.Add(time.Minute), minuteStart.Add(time.Minute+58300*time.Millisecond)))
	})

	t.Run("Reset of concurrent refusals", func(t *testing.T) {
		const limit, concurrent = 10, 60
		l, clock, _, _ := figLimiter(t, limit)
		clock.Set(minuteStart.Add(30 * time.Second))
		for range limit {
			l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite)
		}
		now := minuteStart.Add(time.Minute + 10*time.Second + 500*time.Millisecond)
		clock.Set(now)
		decisions := make([]ratelimit.Decision, concurrent)
		var wg sync.WaitGroup
		for i := range decisions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				decisions[i] = l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite)
			}()
		}
		wg.Wait()
		var resets []int64
		admitted := 0
		for _, d := range decisions {
			if d.Allowed {
				admitted++
			} else {
				resets = append(resets, d.Reset.Unix())
			}
		}
		sort.Slice(resets, func(i, j int) bool { return resets[i] < resets[j] })
		distinct := map[int64]bool{}
		for _, r := range resets {
			distinct[r] = true
		}
		// The true Reset: the first whole second at which a lone request
		// is admitted, found by asking once a second (a refusal is taken
		// back or writes nothing, so asking changes nothing until then).
		var truth time.Time
		for at := now.Truncate(time.Second).Add(time.Second); ; at = at.Add(time.Second) {
			clock.Set(at)
			if l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite).Allowed {
				truth = at
				break
			}
		}
		if len(resets) == 0 {
			t.Logf("%d concurrent at %s: all admitted", concurrent, now.Format("04:05.000"))
			return
		}
		t.Logf("limit %d, %d admitted at :30; %d concurrent at %s: %d admitted, %d refused with %d distinct Resets, from %s to %s; true Reset %s; the latest is %ds late",
			limit, limit, concurrent, now.Format("04:05.000"), admitted, len(resets), len(distinct),
			time.Unix(resets[0], 0).UTC().Format("04:05"), time.Unix(resets[len(resets)-1], 0).UTC().Format("04:05"),
			truth.UTC().Format("04:05"), resets[len(resets)-1]-truth.Unix())
	})

	t.Run("UpdateItem calls per decision", func(t *testing.T) {
		const limit = 10
		l, clock, calls, _ := figLimiter(t, limit)
		measure := func(what string, at time.Time, n int) {
			clock.Set(at)
			calls.Reset()
			admitted := 0
			for range n {
				if l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite).Allowed {
					admitted++
				}
			}
			c := calls.Snapshot()
			t.Logf("%s: %d requests, %d admitted, %d refused: %d UpdateItem, %d calls in all", what, n, admitted, n-admitted, c["UpdateItem"], calls.Total())
		}
		measure("an empty window", minuteStart.Add(20*time.Second), limit)
		measure("the same minute, window full", minuteStart.Add(40*time.Second), 20)
		measure("the next minute, window full", minuteStart.Add(time.Minute+5*time.Second), 20)
	})

	t.Run("a throttled counter", func(t *testing.T) {
		const limit, requests = 5, 35
		l, _, _, f := figLimiter(t, limit)
		f.set(throttled, "ProvisionedThroughputExceededException")
		start := time.Now()
		admitted, slowest := 0, time.Duration(0)
		for range requests {
			s := time.Now()
			if l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite).Allowed {
				admitted++
			}
			slowest = max(slowest, time.Since(s))
		}
		t.Logf("limit %d, %d requests, every attempt throttled: %d admitted; attempts %v; %v in all, the slowest request %v",
			limit, requests, admitted, f.Attempts(), time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond))
	})

	t.Run("a hung counter", func(t *testing.T) {
		l, _, _, f := figLimiter(t, 5)
		f.set(hang, "")
		// Past the store's deadlines, only the request's own context
		// (here 15 s) ends the wait.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		start := time.Now()
		d := l.Allow(ctx, "key:fig", ratelimit.CategoryWrite)
		t.Logf("the engine hung: allowed %v after %v, attempts %v", d.Allowed, time.Since(start).Round(time.Millisecond), f.Attempts())
	})

	t.Run("a failing counter (500)", func(t *testing.T) {
		l, _, _, f := figLimiter(t, 5)
		f.set(serverError, "")
		start := time.Now()
		admitted := 0
		for range 10 {
			if l.Allow(context.Background(), "key:fig", ratelimit.CategoryWrite).Allowed {
				admitted++
			}
		}
		t.Logf("10 requests, every attempt answered 500: %d admitted; attempts %v; %v in all", admitted, f.Attempts(), time.Since(start).Round(time.Millisecond))
	})
}

// figLimiter is a limiter at limit on a fresh table, through a client with
// the store's own configuration, a call counter and a fault injector.
func figLimiter(t *testing.T, limit int64) (*ratelimit.Limiter, *fixedClock, *dynamotest.Calls, *faults) {
	t.Helper()
	table := dynamotest.MustTable(t)
	f := &faults{}
	calls := &dynamotest.Calls{}
	client, err := store.NewClient(context.Background(), store.Config{Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: table.Name}, f.Attach, calls.Attach)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{}
	cfg := ratelimit.DefaultConfig()
	cfg.Limits[ratelimit.CategoryWrite] = limit
	return ratelimit.New(pipelinedb.NewRateCounter(client, table.Name), cfg, clock.Now, slog.New(slog.DiscardHandler)), clock, calls, f
}

func countBetween(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, x := range ts {
		if !x.Before(from) && x.Before(to) {
			n++
		}
	}
	return n
}
