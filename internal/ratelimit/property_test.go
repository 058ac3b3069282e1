package ratelimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ratelimit"
)

// memCounter is a ratelimit.Counter in memory, with the DynamoDB adapter's
// semantics (counts from oldest on, later seconds included; a take-back
// never goes below zero), for checking the limiter's arithmetic over
// thousands of requests. The adapter itself is checked against dynalite.
type memCounter struct {
	mu      sync.Mutex
	buckets map[string]ratelimit.Counts
}

func newMemCounter() *memCounter { return &memCounter{buckets: map[string]ratelimit.Counts{}} }

func (m *memCounter) Add(_ context.Context, bucket string, second, oldest int64, _ time.Time) (ratelimit.Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[bucket]
	if b == nil {
		b = ratelimit.Counts{}
		m.buckets[bucket] = b
	}
	b[second]++
	out := ratelimit.Counts{}
	for s, n := range b {
		switch {
		case s >= oldest:
			out[s] = n
		case s < oldest-1:
			delete(b, s)
		}
	}
	return out, nil
}

func (m *memCounter) TakeBack(_ context.Context, bucket string, second int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets[bucket][second] > 0 {
		m.buckets[bucket][second]--
	}
	return nil
}

// clone copies the counter, so that "what if a request came at Reset" can be
// asked without changing the run being checked.
func (m *memCounter) clone() *memCounter {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemCounter()
	for k, b := range m.buckets {
		c.buckets[k] = maps.Clone(b)
	}
	return c
}

// arrivals makes one random arrival pattern, in order from base: bursts,
// pauses of up to a minute and a half, steady trickles, and bursts that
// straddle a minute boundary (where the two-window estimate failed).
func arrivals(r *rand.Rand, base time.Time) []time.Time {
	n := 50 + r.IntN(350)
	out := make([]time.Time, 0, n)
	t := base
	for len(out) < n {
		switch r.IntN(6) {
		case 0: // a burst: many requests within a few hundred ms
			for range 1 + r.IntN(40) {
				t = t.Add(time.Duration(r.IntN(30)) * time.Millisecond)
				out = append(out, t)
			}
		case 1: // a pause
			t = t.Add(time.Duration(r.IntN(90_000)) * time.Millisecond)
		case 2: // from up to 3 s before the next minute boundary, across it
			boundary := t.Truncate(time.Minute).Add(time.Minute)
			if start := boundary.Add(-time.Duration(r.IntN(3000)) * time.Millisecond); start.After(t) {
				t = start
			}
			for range 1 + r.IntN(30) {
				t = t.Add(time.Duration(r.IntN(200)) * time.Millisecond)
				out = append(out, t)
			}
		default: // a steady trickle
			for range 1 + r.IntN(20) {
				t = t.Add(time.Duration(200+r.IntN(3000)) * time.Millisecond)
				out = append(out, t)
			}
		}
	}
	return out[:n]
}

// boundaryPattern is the failure the issue reports: a limit's worth at :58 of
// one minute, then a request every 100 ms from the start of the next.
func boundaryPattern(base time.Time, limit int) []time.Time {
	var out []time.Time
	for i := range limit {
		out = append(out, base.Add(58*time.Second+time.Duration(i)*10*time.Millisecond))
	}
	for i := range 600 {
		out = append(out, base.Add(time.Minute+time.Duration(i)*100*time.Millisecond))
	}
	return out
}

type arrival struct {
	t        time.Time
	decision ratelimit.Decision
}

// history is what a run admitted, for counting by second.
type history struct{ seconds []int64 } // admitted requests' seconds, in order

// count returns the admitted requests in seconds from to to, both included.
func (h history) count(from, to int64) int {
	lo := sort.Search(len(h.seconds), func(i int) bool { return h.seconds[i] >= from })
	hi := sort.Search(len(h.seconds), func(i int) bool { return h.seconds[i] > to })
	return hi - lo
}

// TestStrictWindowProperty runs random arrival patterns through the limiter
// on a fake clock and checks the contract and the headers against the
// history of what was admitted:
//   - in no interval of 60 s, wherever it starts, more than the limit;
//   - a request is refused only when the 61 whole seconds ending with its own
//     (the last 60 s at one-second granularity, erring on refusing) already
//     hold the limit of admitted requests, and admitted otherwise;
//   - Remaining is what is left of the limit in those seconds;
//   - Reset is the first second at which one more request is admitted (with
//     all of Remaining spent, for an admission), and a request sent then is
//     admitted, while one sent a millisecond earlier is not.
func TestStrictWindowProperty(t *testing.T) {
	base := at(29_000_000, 0)
	type pattern struct {
		name  string
		limit int
		times []time.Time
	}
	patterns := []pattern{{"the issue's failure: 20 at :58, then the next minute", 20, boundaryPattern(base, 20)}}
	for seed := range uint64(400) {
		r := rand.New(rand.NewPCG(seed, 7))
		limit := 1 + r.IntN(30)
		patterns = append(patterns, pattern{fmt.Sprintf("seed %d, limit %d", seed, limit), limit, arrivals(r, base.Add(time.Duration(r.IntN(60_000))*time.Millisecond))})
	}
	for _, p := range patterns {
		counter := newMemCounter()
		clock := &fixedClock{}
		l := newMemLimiter(counter, p.limit, clock)
		var runs []arrival
		var h history
		for _, at := range p.times {
			clock.Set(at)
			d := l.Allow(context.Background(), "key:p", ratelimit.CategoryWrite)
			s := at.Unix()
			before := h.count(s-60, s)
			if d.Allowed != (before < p.limit) {
				t.Fatalf("%s: at %v with %d admitted in seconds %d..%d the decision was %+v", p.name, at, before, s-60, s, d)
			}
			if d.Allowed {
				h.seconds = append(h.seconds, s)
			}
			runs = append(runs, arrival{at, d})
			checkHeaders(t, p.name, p.limit, h, at, d)
			if !d.Allowed {
				checkResetIsTruthful(t, p.name, counter, p.limit, d)
			}
		}
		var admitted []time.Time
		for _, a := range runs {
			if a.decision.Allowed {
				admitted = append(admitted, a.t)
			}
		}
		for i, j := 0, 0; i < len(admitted); i++ {
			for j < len(admitted) && !admitted[j].After(admitted[i].Add(time.Minute)) {
				j++
			}
			if n := j - i; n > p.limit {
				t.Fatalf("%s: %d admitted from %v to %v, within 60 s, over the limit %d", p.name, n, admitted[i], admitted[j-1], p.limit)
			}
		}
	}
}

func newMemLimiter(counter ratelimit.Counter, limit int, clock *fixedClock) *ratelimit.Limiter {
	cfg := ratelimit.DefaultConfig()
	cfg.Limits[ratelimit.CategoryWrite] = int64(limit)
	return ratelimit.New(counter, cfg, clock.Now, slog.New(slog.DiscardHandler))
}

// checkHeaders holds a decision made at now to the history h, which includes
// it if it was admitted.
func checkHeaders(t *testing.T, name string, limit int, h history, now time.Time, d ratelimit.Decision) {
	t.Helper()
	s := now.Unix()
	wantRemaining := 0
	if d.Allowed {
		wantRemaining = limit - h.count(s-60, s)
	}
	if d.Remaining != int64(wantRemaining) || d.Limit != int64(limit) {
		t.Fatalf("%s: at %v: Limit %d Remaining %d, want %d and %d", name, now, d.Limit, d.Remaining, limit, wantRemaining)
	}
	// The first second after s with room, counting only what was admitted
	// (and, for an admission, Remaining more in second s).
	var want int64
	for T := s + 1; ; T++ {
		n := h.count(T-60, s)
		if T-60 <= s {
			n += wantRemaining
		}
		if n < limit {
			want = T
			break
		}
	}
	if d.Reset.Unix() != want || d.Reset.Nanosecond() != 0 {
		t.Fatalf("%s: at %v (allowed %v): Reset %v, want %d", name, now, d.Allowed, d.Reset, want)
	}
	if !d.Allowed {
		if wait := d.Reset.Sub(now); d.RetryAfter < 1 || time.Duration(d.RetryAfter)*time.Second < wait || time.Duration(d.RetryAfter-1)*time.Second >= wait {
			t.Fatalf("%s: Retry-After %d s does not round up the %v until Reset", name, d.RetryAfter, wait)
		}
	}
}

// checkResetIsTruthful asks a copy of the counter what would happen to one
// request a millisecond before Reset and one at Reset, nothing else coming.
func checkResetIsTruthful(t *testing.T, name string, counter *memCounter, limit int, d ratelimit.Decision) {
	t.Helper()
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{d.Reset.Add(-time.Millisecond), false}, {d.Reset, true}} {
		clock := &fixedClock{t: tc.at}
		if got := newMemLimiter(counter.clone(), limit, clock).Allow(context.Background(), "key:p", ratelimit.CategoryWrite).Allowed; got != tc.want {
			t.Fatalf("%s: a request at %v, after a 429 with Reset %v, allowed = %v", name, tc.at, d.Reset, got)
		}
	}
}
