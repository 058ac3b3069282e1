package runsdb_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/runs"
)

func TestARunsNotifyAndEventsAreStoredAndItKeepsItsMarkerUntilTheyAreDelivered(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	run := newRun(0, ids.New(ids.PrefixWorkflow, base), runs.StatusQueued)
	run.Notify = &runs.NotifyTarget{URL: "https://hooks.example/runs", Events: []string{runs.EventRunSucceeded, runs.EventRunWaiting}}
	run = mustCreate(t, db, run)

	now := base.Add(time.Second)
	ended, err := run.End(runs.StatusSucceeded, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	written, err := db.Update(ctx, ended)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, account, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Notify, run.Notify) {
		t.Errorf("notify read back %+v, want %+v", got.Notify, run.Notify)
	}
	if len(got.Notifications) != 1 || got.Notifications[0].Type != runs.EventRunSucceeded || got.Notifications[0].Status != runs.NotificationPending ||
		!got.Notifications[0].NextAttemptAt.Equal(now) || got.Notifications[0].ID != written.Notifications[0].ID {
		t.Fatalf("events read back %+v", got.Notifications)
	}
	if ids := unfinishedIDs(t, db); !slices.Equal(ids, []string{run.ID}) {
		t.Fatalf("an ended run with an event to deliver lost its marker: %v", ids)
	}

	// A failed attempt, recorded whole, keeps it.
	failed := got
	failed.Notifications = slices.Clone(got.Notifications)
	n := &failed.Notifications[0]
	n.Attempts, n.LastAttemptAt, n.NextAttemptAt, n.LastResponseStatus = 1, now, now.Add(30*time.Second), 500
	n.LastError = &runs.Error{Code: "HTTP_STATUS", Message: "the receiver answered 500"}
	if _, err := db.Update(ctx, failed); err != nil {
		t.Fatal(err)
	}
	got, err = db.Get(ctx, account, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Notifications, failed.Notifications) {
		t.Errorf("the attempt read back %+v, want %+v", got.Notifications, failed.Notifications)
	}
	if ids := unfinishedIDs(t, db); len(ids) != 1 {
		t.Fatalf("the marker went with the event still pending: %v", ids)
	}

	delivered := got
	delivered.Notifications = slices.Clone(got.Notifications)
	delivered.Notifications[0].Status, delivered.Notifications[0].DeliveredAt, delivered.Notifications[0].NextAttemptAt = runs.NotificationDelivered, now.Add(time.Minute), time.Time{}
	table.Calls.Reset()
	if _, err := db.Update(ctx, delivered); err != nil {
		t.Fatal(err)
	}
	if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 1 || calls["DeleteItem"] != 1 {
		t.Errorf("recording the delivery: %v, want one UpdateItem and the marker's DeleteItem", calls)
	}
	if ids := unfinishedIDs(t, db); len(ids) != 0 {
		t.Errorf("every event delivered, the marker stayed: %v", ids)
	}
}
