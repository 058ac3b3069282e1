package schedules_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/schedules"
)

// memoryScheduler is a Scheduler in a map, failing Put for the ids in failPut.
type memoryScheduler struct {
	mu      sync.Mutex
	held    map[string]schedules.Schedule
	failPut map[string]bool
}

func newMemoryScheduler() *memoryScheduler {
	return &memoryScheduler{held: map[string]schedules.Schedule{}, failPut: map[string]bool{}}
}

func (m *memoryScheduler) Put(_ context.Context, s schedules.Schedule) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut[s.WorkflowID] {
		return errors.New("scheduler unavailable")
	}
	m.held[s.WorkflowID] = s
	return nil
}

func (m *memoryScheduler) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, id)
	return nil
}

func (m *memoryScheduler) List(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.held {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

type memoryMarkers struct {
	mu      sync.Mutex
	markers map[string]schedules.Marker
}

func (m *memoryMarkers) Put(_ context.Context, mk schedules.Marker) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.markers == nil {
		m.markers = map[string]schedules.Marker{}
	}
	m.markers[mk.WorkflowID] = mk
	return nil
}

func (m *memoryMarkers) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.markers, id)
	return nil
}

func (m *memoryMarkers) List(context.Context) ([]schedules.Marker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []schedules.Marker
	for _, mk := range m.markers {
		out = append(out, mk)
	}
	return out, nil
}

func (m *memoryMarkers) ids() []string {
	list, _ := m.List(context.Background())
	var out []string
	for _, mk := range list {
		out = append(out, mk.WorkflowID)
	}
	sort.Strings(out)
	return out
}

// heads is what Workflows.Desired reads: the schedule of each workflow on
// a schedule trigger.
type heads map[string]schedules.Schedule

func (h heads) Desired(_ context.Context, account, id string) (schedules.Schedule, bool, error) {
	s, ok := h[id]
	if ok && s.AccountID != account {
		return schedules.Schedule{}, false, nil
	}
	return s, ok, nil
}

func (h heads) ScanScheduleWorkflows(context.Context) ([]schedules.Marker, error) {
	var out []schedules.Marker
	for id, s := range h {
		out = append(out, schedules.Marker{AccountID: s.AccountID, WorkflowID: id})
	}
	return out, nil
}

func TestSyncPutsMarkedSchedulesDeletesStaleAndOrphanedOnes(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	scheduler, markers := newMemoryScheduler(), &memoryMarkers{}
	service := schedules.NewService(scheduler, markers, func() time.Time { return now })
	ctx := context.Background()
	live := schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_live", Expression: "rate(1 hour)", Enabled: false}
	// wf_live: marked, its schedule lost (a failed Put after the head).
	// wf_gone: marked and scheduled, then deleted while Scheduler was down.
	// wf_orphan: scheduled with no marker.
	// wf_fresh: marked a minute ago, no head yet (a create in flight).
	for _, id := range []string{"wf_live", "wf_gone"} {
		if err := service.Mark(ctx, "acct_a", id); err != nil {
			t.Fatal(err)
		}
	}
	_ = scheduler.Put(ctx, schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_gone", Expression: "rate(1 hour)"})
	_ = scheduler.Put(ctx, schedules.Schedule{AccountID: "acct_b", WorkflowID: "wf_orphan", Expression: "rate(1 hour)"})
	now = now.Add(time.Hour)
	if err := service.Mark(ctx, "acct_a", "wf_fresh"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)

	report, err := service.Sync(ctx, heads{"wf_live": live})
	if err != nil || len(report.Failed) != 0 {
		t.Fatal(err, report.Failed)
	}
	if report.Put != 1 || report.Deleted != 2 {
		t.Errorf("report %+v, want 1 put, 2 deleted", report)
	}
	if got, _ := scheduler.List(ctx); !slices.Equal(got, []string{"wf_live"}) {
		t.Errorf("schedules %v, want wf_live only", got)
	}
	if scheduler.held["wf_live"] != live {
		t.Errorf("wf_live's schedule %+v, want it as its head says (disabled)", scheduler.held["wf_live"])
	}
	if got := markers.ids(); !slices.Equal(got, []string{"wf_fresh", "wf_live"}) {
		t.Errorf("markers %v: the deleted workflow's goes, the fresh one stays", got)
	}

	// Once the grace has passed, a marker with no schedule head goes too;
	// and a second Sync changes nothing more.
	now = now.Add(10 * time.Minute)
	if report, err = service.Sync(ctx, heads{"wf_live": live}); err != nil || report.Deleted != 1 || report.Put != 1 {
		t.Fatalf("%+v, %v", report, err)
	}
	if report, err = service.Sync(ctx, heads{"wf_live": live}); err != nil || report.Deleted != 0 || report.Put != 1 {
		t.Fatalf("idempotent: %+v, %v", report, err)
	}
	if got := markers.ids(); !slices.Equal(got, []string{"wf_live"}) {
		t.Errorf("markers %v", got)
	}
}

func TestSyncGoesOnPastAFailureAndReportsIt(t *testing.T) {
	scheduler, markers := newMemoryScheduler(), &memoryMarkers{}
	service := schedules.NewService(scheduler, markers, nil)
	ctx := context.Background()
	h := heads{}
	for _, id := range []string{"wf_a", "wf_b"} {
		_ = service.Mark(ctx, "acct_a", id)
		h[id] = schedules.Schedule{AccountID: "acct_a", WorkflowID: id, Expression: "rate(5 minutes)", Enabled: true}
	}
	scheduler.failPut["wf_a"] = true
	report, err := service.Sync(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if report.Put != 1 || len(report.Failed) != 1 {
		t.Fatalf("%+v", report)
	}
	if _, ok := scheduler.held["wf_b"]; !ok {
		t.Error("wf_b was not put after wf_a failed")
	}
}

func TestRemoveKeepsTheMarkerWhenTheScheduleCannotBeDeleted(t *testing.T) {
	markers := &memoryMarkers{}
	failing := failingDelete{newMemoryScheduler()}
	service := schedules.NewService(failing, markers, nil)
	ctx := context.Background()
	_ = service.Mark(ctx, "acct_a", "wf_a")
	if err := service.Remove(ctx, "wf_a"); err == nil {
		t.Fatal("no error")
	}
	if got := markers.ids(); !slices.Equal(got, []string{"wf_a"}) {
		t.Errorf("markers %v: the marker must stay for Sync to finish the job", got)
	}
}

type failingDelete struct{ *memoryScheduler }

func (failingDelete) Delete(context.Context, string) error {
	return errors.New("scheduler unavailable")
}

func TestBackfillMarksEveryScheduleWorkflowSoSyncPutsIt(t *testing.T) {
	scheduler, markers := newMemoryScheduler(), &memoryMarkers{}
	service := schedules.NewService(scheduler, markers, nil)
	ctx := context.Background()
	// Stored before schedules existed: heads, no markers, no schedules.
	h := heads{
		"wf_old1": {AccountID: "acct_a", WorkflowID: "wf_old1", Expression: "rate(1 day)", Enabled: true},
		"wf_old2": {AccountID: "acct_b", WorkflowID: "wf_old2", Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "Europe/Berlin", Enabled: true},
	}
	if report, _ := service.Sync(ctx, h); report.Put != 0 {
		t.Fatalf("without markers Sync cannot know them: %+v", report)
	}
	n, err := service.Backfill(ctx, h)
	if err != nil || n != 2 {
		t.Fatalf("Backfill = %d, %v", n, err)
	}
	if report, err := service.Sync(ctx, h); err != nil || report.Put != 2 {
		t.Fatalf("%+v, %v", report, err)
	}
	if got, _ := scheduler.List(ctx); !slices.Equal(got, []string{"wf_old1", "wf_old2"}) {
		t.Errorf("schedules %v", got)
	}
}
