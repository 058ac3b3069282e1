package runs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/workflowsapi/workflows/internal/runs"
)

func notifyingRun(events ...string) runs.Run {
	return runs.Run{ID: "run_01jc0000000000000000000000", Status: runs.StatusQueued,
		Notify: &runs.NotifyTarget{URL: "https://hooks.example/runs", Events: events}}
}

func TestARunRecordsTheEventsItsNotifyListsInTheWriteThatChangesItsStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	run := notifyingRun(runs.EventRunWaiting, runs.EventRunFailed)
	run, _ = run.Begin(now)
	if len(run.Notifications) != 0 {
		t.Fatalf("running recorded %+v; running is no event", run.Notifications)
	}
	run, _ = run.Wait(now.Add(time.Hour), now)
	run, _ = run.Wait(now.Add(2*time.Hour), now) // still waiting: no second event
	run, _ = run.Begin(now)
	run, _ = run.End(runs.StatusSucceeded, nil, nil, now) // not listed
	var types []string
	for _, n := range run.Notifications {
		types = append(types, n.Type)
		if n.Status != runs.NotificationPending || !n.NextAttemptAt.Equal(now) || !strings.HasPrefix(n.ID, runs.EventIDPrefix) {
			t.Errorf("event %+v: want pending, due now, an evt_ id", n)
		}
	}
	if strings.Join(types, ",") != "run.waiting" {
		t.Errorf("events %v, want the one run.waiting", types)
	}
	if !run.NotificationsPending() || !run.NextNotificationAt().Equal(now) {
		t.Errorf("pending %v, next %v", run.NotificationsPending(), run.NextNotificationAt())
	}

	failed, _ := notifyingRun(runs.EventRunFailed).End(runs.StatusFailed, &runs.Error{Code: "X"}, nil, now)
	cancelled, _, _ := notifyingRun(runs.EventRunCancelled).RequestCancel(now)
	timedOut, _ := notifyingRun(runs.EventRunTimedOut).End(runs.StatusTimedOut, nil, nil, now)
	for _, c := range []struct {
		run  runs.Run
		want string
	}{{failed, "run.failed"}, {cancelled, "run.cancelled"}, {timedOut, "run.timed_out"}} {
		if len(c.run.Notifications) != 1 || c.run.Notifications[0].Type != c.want {
			t.Errorf("%s: events %+v", c.want, c.run.Notifications)
		}
	}
	if plain, _ := (runs.Run{Status: runs.StatusQueued}).End(runs.StatusFailed, nil, nil, now); plain.Notifications != nil {
		t.Errorf("a run without notify recorded %+v", plain.Notifications)
	}
}

func TestWaitingEventsStopAtTheCapButTheEndIsAlwaysRecorded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	run := notifyingRun(runs.EventRunWaiting, runs.EventRunSucceeded)
	for range runs.MaxNotifications + 5 {
		run, _ = run.Begin(now)
		run, _ = run.Wait(now, now)
	}
	if len(run.Notifications) != runs.MaxNotifications {
		t.Fatalf("%d events, want the cap %d", len(run.Notifications), runs.MaxNotifications)
	}
	run, _ = run.Begin(now)
	run, _ = run.End(runs.StatusSucceeded, nil, nil, now)
	if last := run.Notifications[len(run.Notifications)-1]; len(run.Notifications) != runs.MaxNotifications+1 || last.Type != runs.EventRunSucceeded {
		t.Errorf("the end was not recorded past the cap: %d events, last %s", len(run.Notifications), last.Type)
	}
}

func TestAbandonPendingFailsOnlyThePendingEvents(t *testing.T) {
	run := notifyingRun()
	run.Notifications = []runs.Notification{{ID: "evt_a", Status: runs.NotificationDelivered}, {ID: "evt_b", Status: runs.NotificationPending}}
	next, changed := run.AbandonPending()
	if !changed || next.Notifications[0].Status != runs.NotificationDelivered || next.Notifications[1].Status != runs.NotificationFailed ||
		next.Notifications[1].LastError.Code != runs.CodeDeliveryStopped || next.NotificationsPending() {
		t.Errorf("abandoned: %+v", next.Notifications)
	}
	if run.Notifications[1].Status != runs.NotificationPending {
		t.Error("AbandonPending changed the run it was given")
	}
	if _, changed := next.AbandonPending(); changed {
		t.Error("nothing pending, yet changed")
	}
}

func TestAnEventBodyFitsTheOutboundLimitHoweverLargeTheRun(t *testing.T) {
	big := `"` + strings.Repeat("x", 200<<10) + `"`
	run := notifyingRun()
	run.Status, run.Input, run.Output = runs.StatusSucceeded, []byte(big), []byte(big)
	var steps []runs.Step
	for i := range 40 {
		steps = append(steps, runs.Step{RunID: run.ID, StepID: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Index: i, Status: runs.StepSucceeded, Output: []byte(big)})
	}
	n := runs.Notification{ID: "evt_a", Type: runs.EventRunSucceeded}
	body, err := runs.EventBody(n, run, steps)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > runs.MaxEventBytes {
		t.Fatalf("%d bytes, over %d", len(body), runs.MaxEventBytes)
	}
	var event struct {
		ID   string `json:"id"`
		Data struct {
			ID    string `json:"id"`
			Steps []struct {
				Truncated bool `json:"truncated"`
			} `json:"steps"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if event.ID != "evt_a" || event.Data.ID != run.ID || len(event.Data.Steps) != 40 || !event.Data.Steps[0].Truncated {
		t.Errorf("event %s…", body[:200])
	}

	small, err := runs.EventBody(n, run, steps[:1])
	if err != nil || len(small) > runs.MaxEventBytes {
		t.Fatalf("one step: %d bytes, %v", len(small), err)
	}
}
