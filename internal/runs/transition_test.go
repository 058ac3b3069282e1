package runs_test

import (
	"errors"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/runs"
)

func TestAFinishedRunNeverChanges(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, status := range []runs.Status{runs.StatusSucceeded, runs.StatusFailed, runs.StatusCancelled, runs.StatusTimedOut} {
		run := runs.Run{Status: status}
		if _, err := run.Begin(now); !errors.Is(err, runs.ErrTransition) {
			t.Errorf("%s: Begin: %v, want ErrTransition", status, err)
		}
		if _, err := run.Wait(now, now); !errors.Is(err, runs.ErrTransition) {
			t.Errorf("%s: Wait: %v, want ErrTransition", status, err)
		}
		if _, err := run.End(runs.StatusFailed, nil, nil, now); !errors.Is(err, runs.ErrTransition) {
			t.Errorf("%s: End: %v, want ErrTransition", status, err)
		}
		_, changed, err := run.RequestCancel(now)
		if status == runs.StatusCancelled {
			if err != nil || changed {
				t.Errorf("cancelled: RequestCancel = %v, %v; want unchanged", changed, err)
			}
		} else if !errors.Is(err, runs.ErrTransition) {
			t.Errorf("%s: RequestCancel: %v, want ErrTransition", status, err)
		}
	}
}

func TestACancellingRunEndsOnlyCancelled(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	run := runs.Run{Status: runs.StatusCancelling, StartedAt: now.Add(-time.Minute)}
	ended, err := run.End(runs.StatusFailed, &runs.Error{Code: "X"}, nil, now)
	if err != nil || ended.Status != runs.StatusCancelled || ended.Error != nil || !ended.FinishedAt.Equal(now) {
		t.Fatalf("End(failed) of a cancelling run = %+v, %v; want cancelled without an error", ended, err)
	}
	if _, err := run.Begin(now); !errors.Is(err, runs.ErrTransition) {
		t.Errorf("Begin of a cancelling run: %v, want ErrTransition", err)
	}
}

func TestTransitionsKeepTheirTimes(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	queued := runs.Run{Status: runs.StatusQueued}
	waiting, err := queued.Wait(now.Add(time.Hour), now)
	if err != nil || waiting.Status != runs.StatusWaiting || !waiting.WaitUntil.Equal(now.Add(time.Hour)) || !waiting.StartedAt.Equal(now) {
		t.Fatalf("Wait = %+v, %v", waiting, err)
	}
	running, err := waiting.Begin(now.Add(2 * time.Hour))
	if err != nil || !running.WaitUntil.IsZero() || !running.StartedAt.Equal(now) {
		t.Fatalf("Begin = %+v, %v; want the wait cleared and the first start kept", running, err)
	}
	cancelling, changed, err := running.RequestCancel(now)
	if err != nil || !changed || cancelling.Status != runs.StatusCancelling {
		t.Fatalf("RequestCancel of a running run = %+v, %v, %v", cancelling, changed, err)
	}
	cancelled, changed, err := waiting.RequestCancel(now.Add(time.Minute))
	if err != nil || !changed || cancelled.Status != runs.StatusCancelled || !cancelled.FinishedAt.Equal(now.Add(time.Minute)) || !cancelled.WaitUntil.IsZero() {
		t.Fatalf("RequestCancel of a waiting run = %+v, %v, %v", cancelled, changed, err)
	}
	if _, err := queued.End(runs.StatusRunning, nil, nil, now); !errors.Is(err, runs.ErrTransition) {
		t.Errorf("End(running): %v, want ErrTransition", err)
	}
}
