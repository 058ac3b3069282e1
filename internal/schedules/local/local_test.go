package local_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/schedules/local"
)

type recorder struct {
	mu     sync.Mutex
	firing []schedules.Firing
}

func (r *recorder) fire(_ context.Context, f schedules.Firing) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.firing = append(r.firing, f)
	return nil
}

func (r *recorder) times() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.firing {
		out = append(out, f.WorkflowID+"@"+f.ScheduledTime)
	}
	return out
}

func TestACronScheduleFiresOncePerDueTimeInItsTimeZone(t *testing.T) {
	// Monday 2 March 2026, 07:58 UTC = 08:58 in Berlin.
	now := time.Date(2026, 3, 2, 7, 58, 0, 0, time.UTC)
	rec := &recorder{}
	l := local.New(rec.fire, nil, func() time.Time { return now })
	ctx := context.Background()
	s := schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_a", Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "Europe/Berlin", Enabled: true}
	if err := l.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	// Minute by minute through two days: 9:00 Berlin is 08:00 UTC.
	for ; now.Before(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)); now = now.Add(30 * time.Second) {
		l.FireDue(ctx, now)
		l.FireDue(ctx, now) // asked twice at one time: still once
	}
	want := []string{"wf_a@2026-03-02T08:00:00Z", "wf_a@2026-03-03T08:00:00Z"}
	if got := rec.times(); !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if rec.firing[0].AccountID != "acct_a" {
		t.Errorf("firing %+v", rec.firing[0])
	}
}

func TestARateFiresOnItsMultiplesAndAMissedStretchFiresOnceForTheLatest(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 7, 0, 0, time.UTC)
	rec := &recorder{}
	l := local.New(rec.fire, nil, func() time.Time { return now })
	ctx := context.Background()
	if err := l.Put(ctx, schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_r", Expression: "rate(15 minutes)", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 14, 59, 0, time.UTC))
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC))
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 20, 0, 0, time.UTC))
	// Asleep for an hour: one firing, for 11:15, then on time again.
	l.FireDue(ctx, time.Date(2026, 3, 2, 11, 20, 0, 0, time.UTC))
	l.FireDue(ctx, time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC))
	want := []string{"wf_r@2026-03-02T10:15:00Z", "wf_r@2026-03-02T11:15:00Z", "wf_r@2026-03-02T11:30:00Z"}
	if got := rec.times(); !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

func TestADisabledScheduleDoesNotFireAndEnablingKeepsTheDueTime(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)
	rec := &recorder{}
	l := local.New(rec.fire, nil, func() time.Time { return now })
	ctx := context.Background()
	s := schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_d", Expression: "rate(1 minute)", Enabled: false}
	_ = l.Put(ctx, s)
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	if got := rec.times(); len(got) != 0 {
		t.Fatalf("a disabled schedule fired: %v", got)
	}
	now = time.Date(2026, 3, 2, 10, 1, 30, 0, time.UTC)
	s.Enabled = true
	_ = l.Put(ctx, s)
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 2, 0, 0, time.UTC))
	if got := rec.times(); !slices.Equal(got, []string{"wf_d@2026-03-02T10:02:00Z"}) {
		t.Fatalf("fired %v", got)
	}
	_ = l.Delete(ctx, "wf_d")
	l.FireDue(ctx, time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC))
	if got := rec.times(); len(got) != 1 {
		t.Fatalf("a deleted schedule fired: %v", got)
	}
	if ids, _ := l.List(ctx); len(ids) != 0 {
		t.Errorf("List after Delete = %v", ids)
	}
}

func TestPutRefusesAnExpressionItCannotRun(t *testing.T) {
	l := local.New(func(context.Context, schedules.Firing) error { return nil }, nil, nil)
	if err := l.Put(context.Background(), schedules.Schedule{WorkflowID: "wf_x", Expression: "cron(0 9 1 * MON *)", Timezone: "UTC"}); err == nil {
		t.Fatal("both day fields restricted: no error")
	}
	if ids, _ := l.List(context.Background()); len(ids) != 0 {
		t.Errorf("a refused schedule is held: %v", ids)
	}
}

func TestParseExpression(t *testing.T) {
	from := time.Date(2026, 3, 2, 7, 58, 0, 0, time.UTC) // a Monday
	good := []struct {
		expression, timezone string
		next                 time.Time
	}{
		{"cron(0 9 ? * MON-FRI *)", "Europe/Berlin", time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"cron(30 6 ? * SUN,SAT *)", "UTC", time.Date(2026, 3, 7, 6, 30, 0, 0, time.UTC)},
		{"cron(0 0 * * ? *)", "UTC", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		{"cron(0,15,30,45 8-18 1,15 1,7 ? *)", "UTC", time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)},
		{"rate(1 minute)", "", time.Date(2026, 3, 2, 7, 59, 0, 0, time.UTC)},
		{"rate(2 hours)", "", time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"rate(1 day)", "", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		{"rate(90 minutes)", "", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range good {
		timing, err := local.ParseExpression(tt.expression, tt.timezone)
		if err != nil {
			t.Errorf("%s: %v", tt.expression, err)
			continue
		}
		if got := timing.Next(from); !got.Equal(tt.next) {
			t.Errorf("%s in %q: next %v, want %v", tt.expression, tt.timezone, got, tt.next)
		}
	}
	bad := []struct{ expression, timezone string }{
		{"cron(0 9 ? * MON-FRI *)", ""},
		{"cron(0 9 ? * MON-FRI *)", "Local"},
		{"cron(0 9 ? * MON-FRI *)", "Mars/Olympus"},
		{"cron(0 9 ? * 2-6 *)", "UTC"}, // Scheduler's numbers: refused, not guessed
		{"cron(0 9 1 * MON *)", "UTC"},
		{"cron(0 9 ? * MON-FRI 2027)", "UTC"},
		{"cron(0 9 ? * MON-FRI)", "UTC"},
		{"cron(0  9 ? * MON-FRI *)", "UTC"},
		{"cron(TZ=UTC 9 ? * MON *)", "UTC"},
		{"rate(0 minutes)", ""},
		{"rate(01 minutes)", ""},
		{"rate(1 minutes)", ""},
		{"rate(2 minute)", ""},
		{"rate(5 weeks)", ""},
		{"rate(366 days)", ""},
		{"rate(5 minutes)", "UTC"},
		{"at(2026-03-02T09:00:00)", ""},
		{"", ""},
	}
	for _, tt := range bad {
		if _, err := local.ParseExpression(tt.expression, tt.timezone); err == nil {
			t.Errorf("%q in %q: no error", tt.expression, tt.timezone)
		}
	}
}

// FuzzParseExpression: no input panics, and a timing read from any input
// moves strictly forward.
func FuzzParseExpression(f *testing.F) {
	for _, seed := range []string{"cron(0 9 ? * MON-FRI *)", "rate(15 minutes)", "cron(*/5 * * * ? *)", "rate(1 day)", "cron(TZ= * * * ? *)", "rate(-1 minutes)"} {
		f.Add(seed, "Europe/Berlin")
		f.Add(seed, "")
	}
	from := time.Date(2026, 3, 2, 7, 58, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expression, timezone string) {
		timing, err := local.ParseExpression(expression, timezone)
		if err != nil {
			return
		}
		if next := timing.Next(from); !next.IsZero() && !next.After(from) {
			t.Fatalf("%q: next %v is not after %v", expression, next, from)
		}
	})
}
