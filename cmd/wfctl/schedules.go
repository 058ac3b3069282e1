package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// newScheduler is the scheduler `schedules sync` reconciles: EventBridge
// Scheduler from the environment (SCHEDULE_GROUP_NAME,
// SCHEDULED_RUN_FUNCTION_ARN, SCHEDULER_ROLE_ARN, SCHEDULE_DLQ_ARN,
// SCHEDULER_ENDPOINT). Tests
// replace it.
var newScheduler = func(ctx context.Context) (schedules.Scheduler, error) {
	e, err := eventbridge.NewEventBridgeFromEnv(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("%w (the stack's outputs name them; locally the local gateway syncs its own schedules at start)", err)
	}
	return e, nil
}

// syncSchedules is `wfctl schedules sync [--backfill]`: it makes the
// EventBridge Scheduler schedules match the stored workflows. --backfill
// first marks the schedule workflows stored before schedules existed (one
// Scan of the table: run it once after deploying the release that brought
// schedules).
func syncSchedules(ctx context.Context, cfg store.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("schedules sync", flag.ContinueOnError)
	backfill := fs.Bool("backfill", false, "mark the schedule workflows stored before schedules existed (scans the table)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scheduler, err := newScheduler(ctx)
	if err != nil {
		return err
	}
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return err
	}
	markers := schedulesdb.New(db, cfg.TableName)
	service := schedules.NewService(scheduler, markers, nil)
	if *backfill {
		n, err := service.Backfill(ctx, markers)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "marked %d schedule workflows\n", n)
	}
	report, err := service.Sync(ctx, workflows.ScheduleSource{Store: workflowsdb.New(db, cfg.TableName), Rules: definition.Rules{}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d schedules put, %d deleted\n", report.Put, report.Deleted)
	for _, failed := range report.Failed {
		fmt.Fprintf(out, "failed: %v\n", failed)
	}
	if len(report.Failed) > 0 {
		return fmt.Errorf("%d schedules could not be synced; run it again", len(report.Failed))
	}
	return nil
}
