// Package starts builds the functions of the runs feature that start runs
// (the run and retry routes, scheduled-run, and the start path that
// receive-webhook and the runner's workflow steps use): the one constructor
// that each main and the local gateway both call. It adds to the runs'
// service the check of a run's input against its workflow's inputSchema
// (inputschema.Check): only these functions link the JSON Schema
// compiler.
package starts

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
)

// Service is the runs' start path on d: as the run route's, without
// Idempotency-Key (a delivery's or a firing's run id is its own
// idempotency key, and a child's is its parent step's).
func Service(env *lambdaenv.Env, d wire.Driver) (*runs.Service, error) {
	return wire.NewService(env, d, &wire.StartPath{CheckInput: inputschema.Check})
}

// withIdempotency is the start path of the routes that honour
// Idempotency-Key.
func withIdempotency(env *lambdaenv.Env, d wire.Driver) (*runs.Service, error) {
	return wire.NewService(env, d, &wire.StartPath{CheckInput: inputschema.Check, Idempotency: true})
}

// RunWorkflow is the handler of routes.RunWorkflow: a run is stored queued
// and handed to d's orchestrator.
func RunWorkflow(env *lambdaenv.Env, d wire.Driver) (http.Handler, error) {
	s, err := withIdempotency(env, d)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).Start), nil
}

// RetryRun is the handler of routes.RetryRun: a retry honours
// Idempotency-Key as a start does.
func RetryRun(env *lambdaenv.Env, d wire.Driver) (http.Handler, error) {
	s, err := withIdempotency(env, d)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).Retry), nil
}

// ScheduledRun is the handler of the scheduled-run function, EventBridge
// Scheduler's target (and the local schedules' one): it starts the run of
// one firing, whose id is derived from the workflow and the scheduled
// time, so a repeated firing starts at most one run.
func ScheduledRun(env *lambdaenv.Env, d wire.Driver) (func(context.Context, runs.Firing) error, error) {
	s, err := Service(env, d)
	if err != nil {
		return nil, err
	}
	logger := env.Logger
	return func(ctx context.Context, f runs.Firing) error {
		run, started, err := s.StartScheduled(ctx, f)
		switch {
		case err != nil:
			// Scheduler retries a failed invocation; the run id is the
			// same on every attempt, so a retry starts at most one run.
			logger.ErrorContext(ctx, "scheduled run not started", "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime, "error", err)
		case !started:
			logger.InfoContext(ctx, "scheduled firing of a deleted or disabled workflow: nothing to run", "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime)
		default:
			logger.InfoContext(ctx, "scheduled run started", "run_id", run.ID, "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime)
		}
		return err
	}, nil
}
