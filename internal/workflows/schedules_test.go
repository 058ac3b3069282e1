package workflows_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
)

func scheduleDefinition(trigger string, enabled bool) []byte {
	e := "true"
	if !enabled {
		e = "false"
	}
	return []byte(`{"name":"nightly","enabled":` + e + `,"trigger":` + trigger + `,"steps":[{"id":"t","type":"transform","with":{"jq":".input"}}]}`)
}

// held is the workflow ids the API's scheduler holds.
func held(t *testing.T, env *gatewaytest.Env) []string {
	t.Helper()
	ids, err := env.Schedules.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestTheWorkflowRoutesKeepTheScheduleInStep(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_sched")
	base := env.URL + routes.BasePath + "/workflows"
	ctx := context.Background()
	markers := schedulesdb.New(env.Table.Client, env.Table.Name)

	made := gatewaytest.Call(t, "POST", base, key, "application/json", scheduleDefinition(`{"type":"schedule","every":"15m"}`, true))
	if made.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", made.Status, made.Body)
	}
	id := made.Data(t)["id"].(string)
	if got := held(t, env); !slices.Equal(got, []string{id}) {
		t.Fatalf("after create: schedules %v, want %s's", got, id)
	}
	if m, _ := markers.List(ctx); len(m) != 1 || m[0].WorkflowID != id || m[0].AccountID != "acct_sched" {
		t.Fatalf("markers %+v", m)
	}
	// A manual workflow has none.
	gatewaytest.Call(t, "POST", base, key, "application/json", scheduleDefinition(`{"type":"manual"}`, true))
	if got := held(t, env); len(got) != 1 {
		t.Fatalf("a manual workflow got a schedule: %v", got)
	}

	// Disabled: the schedule is kept and does not fire.
	if r := gatewaytest.Call(t, "PUT", base+"/"+id, key, "application/json", scheduleDefinition(`{"type":"schedule","every":"15m"}`, false)); r.Status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if fired := env.Schedules.FireDue(ctx, time.Now().Add(time.Hour)); len(fired) != 0 {
		t.Fatalf("a disabled workflow's schedule fired: %v", fired)
	}
	// Enabled again on a cron in a time zone: it fires.
	if r := gatewaytest.Call(t, "PUT", base+"/"+id, key, "application/json", scheduleDefinition(`{"type":"schedule","cron":"*/5 * * * *","timezone":"Asia/Kolkata"}`, true)); r.Status != http.StatusOK {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	if fired := env.Schedules.FireDue(ctx, time.Now().Add(10*time.Minute)); len(fired) != 1 || fired[0].WorkflowID != id {
		t.Fatalf("fired %v, want one firing of %s", fired, id)
	}

	// Changed to a manual trigger: schedule and marker go.
	if r := gatewaytest.Call(t, "PUT", base+"/"+id, key, "application/json", scheduleDefinition(`{"type":"manual"}`, true)); r.Status != http.StatusOK {
		t.Fatalf("to manual: %d %s", r.Status, r.Body)
	}
	if got := held(t, env); len(got) != 0 {
		t.Fatalf("after the change to manual: schedules %v", got)
	}
	if m, _ := markers.List(ctx); len(m) != 0 {
		t.Fatalf("markers %+v", m)
	}

	// Back to a schedule, then deleted: gone with the workflow.
	gatewaytest.Call(t, "PUT", base+"/"+id, key, "application/json", scheduleDefinition(`{"type":"schedule","every":"1h"}`, true))
	if got := held(t, env); !slices.Equal(got, []string{id}) {
		t.Fatalf("schedules %v", got)
	}
	if r := gatewaytest.Call(t, "DELETE", base+"/"+id, key, "", nil); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if got := held(t, env); len(got) != 0 {
		t.Fatalf("after delete: schedules %v", got)
	}
	if m, _ := markers.List(ctx); len(m) != 0 {
		t.Fatalf("markers %+v", m)
	}
}

func TestAScheduleFiresARunAndAFiringDeliveredTwiceStartsOne(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_sched")
	ctx := context.Background()
	made := gatewaytest.Call(t, "POST", env.URL+routes.BasePath+"/workflows", key, "application/json", scheduleDefinition(`{"type":"schedule","every":"1m"}`, true))
	id := made.Data(t)["id"].(string)

	fired := env.Schedules.FireDue(ctx, time.Now().Add(2*time.Minute))
	if len(fired) != 1 {
		t.Fatalf("fired %v", fired)
	}
	// EventBridge Scheduler delivers at least once: the same firing again.
	fire := localFire(env)
	if err := fire(ctx, fired[0]); err != nil {
		t.Fatal(err)
	}
	r := gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/runs?workflowId="+id, key, "", nil)
	runs, _ := r.JSON(t)["data"].([]any)
	if r.Status != http.StatusOK || len(runs) != 1 {
		t.Fatalf("%d runs (%d %s), want 1", len(runs), r.Status, r.Body)
	}
	run := runs[0].(map[string]any)
	if run["trigger"] != "schedule" || !strings.HasPrefix(run["id"].(string), "run_") {
		t.Errorf("run %v", run)
	}
}

// localFire starts the run of a firing as the API's scheduler does
// (localapp.FireScheduled: runs.Service.StartScheduled on the same table).
func localFire(env *gatewaytest.Env) func(context.Context, schedules.Firing) error {
	service := runs.NewService(runsdb.New(env.Table.Client, env.Table.Name), workflowsdb.New(env.Table.Client, env.Table.Name), nil, runs.Options{CheckInput: inputschema.Check})
	return func(ctx context.Context, f schedules.Firing) error {
		_, _, err := service.StartScheduled(ctx, runs.Firing(f))
		return err
	}
}

func TestSyncRepairsSchedulesAfterTheFactAndBackfillFindsOldWorkflows(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_sched")
	ctx := context.Background()
	made := gatewaytest.Call(t, "POST", env.URL+routes.BasePath+"/workflows", key, "application/json", scheduleDefinition(`{"type":"schedule","cron":"0 9 * * MON-FRI","timezone":"Europe/Berlin"}`, true))
	id := made.Data(t)["id"].(string)
	markers := schedulesdb.New(env.Table.Client, env.Table.Name)
	// As if stored before this release: no marker, no schedule.
	if err := markers.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := env.Schedules.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	service := schedules.NewService(env.Schedules, markers, nil)
	source := workflows.ScheduleSource{Store: workflowsdb.New(env.Table.Client, env.Table.Name), Rules: definition.Rules{}}
	if report, err := service.Sync(ctx, source); err != nil || report.Put != 0 {
		t.Fatalf("%+v %v", report, err)
	}
	if n, err := service.Backfill(ctx, markers); err != nil || n != 1 {
		t.Fatalf("Backfill = %d, %v", n, err)
	}
	if report, err := service.Sync(ctx, source); err != nil || report.Put != 1 {
		t.Fatalf("%+v %v", report, err)
	}
	if got := held(t, env); !slices.Equal(got, []string{id}) {
		t.Fatalf("schedules %v", got)
	}
}

// failingSchedules marks, and fails every schedule write.
type failingSchedules struct{ marked []string }

func (f *failingSchedules) Mark(_ context.Context, _, workflowID string) error {
	f.marked = append(f.marked, workflowID)
	return nil
}
func (f *failingSchedules) Put(context.Context, schedules.Schedule) error {
	return errSchedulerDown
}
func (f *failingSchedules) Remove(context.Context, string) error { return errSchedulerDown }

var errSchedulerDown = errors.New("scheduler unavailable")

func TestTheWorkflowWriteWinsWhenItsScheduleCannotBeWritten(t *testing.T) {
	table := dynamotest.MustTable(t)
	sched := &failingSchedules{}
	service := workflows.NewService(workflowsdb.New(table.Client, table.Name), nil, nil, nil).WithSchedules(sched).WithRules(definition.Rules{})
	ctx := context.Background()
	caller := workflows.Caller{AccountID: "acct_a"}
	written, err := service.Create(ctx, caller, scheduleDefinition(`{"type":"schedule","every":"15m"}`, true))
	if err != nil {
		t.Fatalf("the create failed with its schedule: %v", err)
	}
	if written.ScheduleError == nil || !slices.Equal(sched.marked, []string{written.Workflow.ID}) {
		t.Fatalf("ScheduleError %v, marked %v: want the failure reported and the workflow marked for the reconcile", written.ScheduleError, sched.marked)
	}
	if _, err := service.Get(ctx, caller, written.Workflow.ID, 0); err != nil {
		t.Fatalf("the workflow is not stored: %v", err)
	}
	changed, err := service.Update(ctx, caller, written.Workflow.ID, nil, scheduleDefinition(`{"type":"manual"}`, true))
	if err != nil || changed.ScheduleError == nil || changed.Workflow.Version != 2 {
		t.Fatalf("update: %+v, %v", changed, err)
	}
	// Back on a schedule and deleted: the deletion stands, the schedule
	// left behind is reported.
	if _, err := service.Update(ctx, caller, written.Workflow.ID, nil, scheduleDefinition(`{"type":"schedule","every":"1h"}`, true)); err != nil {
		t.Fatal(err)
	}
	_, err = service.Delete(ctx, caller, written.Workflow.ID)
	var left workflows.ScheduleLeftError
	if !errors.As(err, &left) {
		t.Fatalf("delete: %v, want ScheduleLeftError", err)
	}
	if _, err := service.Get(ctx, caller, written.Workflow.ID, 0); err == nil {
		t.Fatal("the workflow is still there")
	}
}
