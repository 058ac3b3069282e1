package runs

import (
	"testing"
	"time"
)

func TestWithHistoryKeepsOneEntryPerAttempt(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	failure := &Error{Code: "HTTP_STATUS", Message: "the server answered 503"}

	// The record as the runner writes it through a retried step: claim,
	// back-off, claim, success.
	st := Step{StepID: "call", Status: StepRunning, Attempts: 1, StartedAt: at(0)}.WithHistory(at(0))
	st.Status, st.Error = StepWaiting, failure
	st = st.WithHistory(at(1))
	st.Status, st.Attempts, st.Error = StepRunning, 2, nil
	st = st.WithHistory(at(3))
	st.Status, st.FinishedAt = StepSucceeded, at(4)
	st = st.WithHistory(at(4))
	want := []Attempt{
		{Number: 1, Status: StepFailed, StartedAt: at(0), FinishedAt: at(1), Error: failure},
		{Number: 2, Status: StepSucceeded, StartedAt: at(3), FinishedAt: at(4)},
	}
	assertHistory(t, st.History, want)

	// Written again as it is, it stays the same.
	assertHistory(t, st.WithHistory(at(9)).History, want)

	// An attempt cut off (a runner that died) is failed when the next begins.
	cut := Step{Status: StepRunning, Attempts: 1, StartedAt: at(0)}.WithHistory(at(0))
	cut.Attempts = 2
	assertHistory(t, cut.WithHistory(at(30)).History, []Attempt{
		{Number: 1, Status: StepFailed, StartedAt: at(0), FinishedAt: at(30)},
		{Number: 2, Status: StepRunning, StartedAt: at(30)},
	})

	// A wait is one open attempt, ended by a cancel.
	wait := Step{Status: StepWaiting, Attempts: 1, StartedAt: at(0)}.WithHistory(at(0))
	assertHistory(t, wait.History, []Attempt{{Number: 1, Status: StepWaiting, StartedAt: at(0)}})
	wait.Status, wait.FinishedAt = StepCancelled, at(5)
	assertHistory(t, wait.WithHistory(at(5)).History, []Attempt{{Number: 1, Status: StepCancelled, StartedAt: at(0), FinishedAt: at(5)}})

	// A short back-off slept through: the failure keeps its own end.
	slept := Step{Status: StepRunning, Attempts: 1, StartedAt: at(0)}.WithHistory(at(0)).EndAttempt(at(1), failure)
	slept.Attempts = 2
	assertHistory(t, slept.WithHistory(at(2)).History, []Attempt{
		{Number: 1, Status: StepFailed, StartedAt: at(0), FinishedAt: at(1), Error: failure},
		{Number: 2, Status: StepRunning, StartedAt: at(2)},
	})

	// Skipped and reused steps have none; the history is bounded.
	if h := (Step{Status: StepSkipped, FinishedAt: at(1)}).WithHistory(at(1)).History; len(h) != 0 {
		t.Errorf("skipped: %v", h)
	}
	if h := (Step{Status: StepSucceeded, Attempts: 2, Reused: true}).WithHistory(at(1)).History; len(h) != 0 {
		t.Errorf("reused: %v", h)
	}
	many := Step{Status: StepRunning, Attempts: MaxAttemptHistory + 5, StartedAt: at(0)}.WithHistory(at(1))
	if len(many.History) != MaxAttemptHistory || many.History[0].Number != 6 {
		t.Errorf("bounded: %d entries from %d", len(many.History), many.History[0].Number)
	}
}

func assertHistory(t *testing.T, got, want []Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		sameError := (g.Error == nil) == (w.Error == nil) && (g.Error == nil || *g.Error == *w.Error)
		if g.Number != w.Number || g.Status != w.Status || !g.StartedAt.Equal(w.StartedAt) || !g.FinishedAt.Equal(w.FinishedAt) || !sameError {
			t.Errorf("attempt %d: %+v, want %+v", i+1, g, w)
		}
	}
}
