package runs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/orchestrator"
)

type failingOrchestrator struct{ calls *int }

func (o failingOrchestrator) Start(context.Context, string, string, orchestrator.Machine) error {
	*o.calls++
	return errors.New("unavailable")
}
func (o failingOrchestrator) Stop(context.Context, string) error { return nil }

func (o failingOrchestrator) StartDelivery(context.Context, string, string) error { return nil }

// A start the orchestrator keeps refusing is tried three times, then left
// for the periodic start check.
func TestStartDrivingTriesThreeTimes(t *testing.T) {
	calls := 0
	s := NewService(nil, nil, failingOrchestrator{&calls}, Options{Logger: slog.New(slog.DiscardHandler)})
	s.startDelays = []time.Duration{0, 0}
	s.startDriving(t.Context(), Run{ID: "run_x", AccountID: "a"})
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
}

func TestScheduledRunIDIsDeterministicAndSortsByTime(t *testing.T) {
	at := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	wf := ids.New(ids.PrefixWorkflow, at)
	a, b := ScheduledRunID(wf, at), ScheduledRunID(wf, at.In(time.FixedZone("x", 3600)))
	if a != b || !ids.Valid(ids.PrefixRun, a) {
		t.Fatalf("same firing gave %q and %q", a, b)
	}
	if ScheduledRunID(wf, at.Add(time.Minute)) <= a {
		t.Errorf("a later firing's id does not sort after")
	}
	if ScheduledRunID(ids.New(ids.PrefixWorkflow, at.Add(time.Second)), at) == a {
		t.Errorf("two workflows firing at once share an id")
	}
}

func TestResumePoint(t *testing.T) {
	ok := func(id string, i int) Step { return Step{StepID: id, Index: i, Status: StepSucceeded, Revision: 4} }
	cases := []struct {
		name   string
		steps  []Step
		next   int
		reused []string
	}{
		{"no steps", nil, 0, nil},
		{"failed third", []Step{ok("c", 2), {StepID: "d", Index: 3, Status: StepFailed}, ok("a", 0), {StepID: "b", Index: 1, Status: StepSkipped}}, 3, []string{"a", "b", "c"}},
		{"cut off first", []Step{{StepID: "a", Index: 0, Status: StepRunning}}, 0, nil},
		{"all done, cancelled between steps", []Step{ok("a", 0), ok("b", 1)}, 2, []string{"a", "b"}},
	}
	for _, c := range cases {
		next, reused := resumePoint(c.steps, "run_new")
		var got []string
		for _, st := range reused {
			if st.RunID != "run_new" || !st.Reused || st.Revision != 1 {
				t.Errorf("%s: reused %+v", c.name, st)
			}
			got = append(got, st.StepID)
		}
		if next != c.next || strings.Join(got, ",") != strings.Join(c.reused, ",") {
			t.Errorf("%s: next %d reused %v, want %d %v", c.name, next, got, c.next, c.reused)
		}
	}
}

// A service given no input checker (a route that starts no run) refuses to
// check an input against a schema rather than let it through unchecked;
// with no schema there is nothing to check.
func TestAServiceWithoutAnInputCheckerStartsNothingUnchecked(t *testing.T) {
	s := NewService(nil, nil, nil, Options{})
	if err := s.checkInput(jsontext.Value(`{"type":"object"}`), jsontext.Value(`{}`)); !errors.Is(err, errNoInputChecker) {
		t.Errorf("with a schema and no checker: %v, want errNoInputChecker", err)
	}
	if err := s.checkInput(nil, jsontext.Value(`"anything"`)); err != nil {
		t.Errorf("no schema: %v", err)
	}
	checked := 0
	s = NewService(nil, nil, nil, Options{CheckInput: func(schema, input jsontext.Value) error { checked++; return nil }})
	if err := s.checkInput(jsontext.Value(`{}`), jsontext.Value(`{}`)); err != nil || checked != 1 {
		t.Errorf("with a checker: %v after %d checks, want it asked once", err, checked)
	}
}
