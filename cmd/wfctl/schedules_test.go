package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// fakeScheduler is the Scheduler in memory.
type fakeScheduler map[string]schedules.Schedule

func (f fakeScheduler) Put(_ context.Context, s schedules.Schedule) error {
	f[s.WorkflowID] = s
	return nil
}
func (f fakeScheduler) Delete(_ context.Context, id string) error { delete(f, id); return nil }
func (f fakeScheduler) List(context.Context) ([]string, error) {
	var out []string
	for id := range f {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

func TestSchedulesSyncBackfillsOldScheduleWorkflowsAndPutsTheirSchedules(t *testing.T) {
	t.Setenv("TABLE_NAME", "wfctl-schedules-test")
	ctx := context.Background()
	mustRun(t, "setup")
	held := fakeScheduler{}
	orphan := "wf_01jer3s4n0eybg5ex99q9mx0qt"
	held[orphan] = schedules.Schedule{WorkflowID: orphan, Expression: "rate(1 hour)"}
	old := newScheduler
	newScheduler = func(context.Context) (schedules.Scheduler, error) { return held, nil }
	t.Cleanup(func() { newScheduler = old })

	// A schedule workflow stored as the release before schedules did: its
	// head and version, no marker.
	db, err := store.NewClient(ctx, store.ConfigFromEnvOrLocal())
	if err != nil {
		t.Fatal(err)
	}
	d, err := definition.Parse([]byte(`{"name":"nightly","trigger":{"type":"schedule","cron":"0 9 * * MON-FRI","timezone":"Europe/Berlin"},"steps":[{"id":"t","type":"transform","with":{"jq":"."}}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := workflows.Workflow{ID: ids.New(ids.PrefixWorkflow, now), AccountID: "acct_old", Definition: d, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := workflowsdb.New(db, "wfctl-schedules-test").Create(ctx, w); err != nil {
		t.Fatal(err)
	}

	if out := mustRun(t, "schedules", "sync"); !strings.Contains(out, "0 schedules put, 1 deleted") {
		t.Fatalf("sync without backfill said %q: it cannot know the old workflow, and deletes the orphan", out)
	}
	out := mustRun(t, "schedules", "sync", "--backfill")
	if !strings.Contains(out, "marked 1 schedule workflows") || !strings.Contains(out, "1 schedules put, 0 deleted") {
		t.Fatalf("sync --backfill said %q", out)
	}
	want := schedules.Schedule{AccountID: "acct_old", WorkflowID: w.ID, Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "Europe/Berlin", Enabled: true}
	if got, _ := held.List(ctx); !slices.Equal(got, []string{w.ID}) || held[w.ID] != want {
		t.Fatalf("schedules %v, %+v; want %+v", got, held[w.ID], want)
	}
}

func TestSchedulesSyncWithoutTheSchedulerSettingsSaysWhatToSet(t *testing.T) {
	t.Setenv("TABLE_NAME", "wfctl-schedules-test")
	t.Setenv(eventbridge.EnvGroupName, "")
	err := run(context.Background(), []string{"schedules", "sync"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), eventbridge.EnvGroupName) {
		t.Fatalf("error %v, want one naming %s", err, eventbridge.EnvGroupName)
	}
	if err := run(context.Background(), []string{"schedules", "sync", "--nope"}, &strings.Builder{}); err == nil {
		t.Fatalf("an unknown flag: %v", err)
	}
}
