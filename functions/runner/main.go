// Command runner is the run state machine's Advance task: Step Functions
// invokes it with a runner.Task and chooses its next state from the
// runner.Decision it answers (done → Succeed; waitForEvent → WaitForEvent;
// waitSeconds → Wait → Advance; otherwise Advance again). From the state
// machine's catch, the task carries a failure and the runner records the
// run failed; from WaitForEvent, a task token it keeps with the waiting
// workflow step.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/notify"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// budget lets one invocation run steps for as long as Lambda allows: the
// invocation's deadline (less the runner's margin) is the real bound, and
// fewer invocations are fewer state transitions, which is what a run costs.
const budget = 15 * time.Minute

func main() {
	app := lambdaapp.MustLoad()
	ctx := context.Background()
	retention := lambdaapp.Must(runs.RetentionFromEnv())
	policy := lambdaapp.Must(engine.PolicyFromEnv())
	// The sealer opens a step's connection credentials (kms:Decrypt).
	sealer := lambdaapp.Must(secrets.FromEnv(ctx, ""))
	opener := connections.NewOpener(connectionsdb.New(app.DB, app.TableName), sealer)
	// Workflow steps: a child starts through the runs' start path on the
	// state machine, and a child's end completes its parent's task token.
	machine := lambdaapp.Must(sfn.FromEnv(ctx))
	raw := runsdb.New(app.DB, app.TableName).WithRetention(retention)
	// Concurrency limits: every write that stops a run running gives back
	// its slot, and wakes the oldest queued runs (their tokens).
	store := runs.HoldSlots(runs.NotifyParents(raw, runs.TokenWaker(raw, machine), app.Logger), raw, runs.TokenSlotWaker(machine), app.Logger)
	eng := engine.New(engine.Options{Policy: policy, Credentials: runner.Credentials(opener)})
	// Notify events: signed with the workflow's notification secret (the
	// sealer opens it), sent through the http steps' client and policy,
	// recorded on the run undecorated (a delivery changes no status).
	notifier := notify.New(raw, webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), sealer), eng, notify.Options{Logger: app.Logger})
	r := runner.New(runner.Config{
		Store:     store,
		Workflows: workflowsdb.New(app.DB, app.TableName),
		Engine:    eng,
		Notifier:  notifier,
		Budget:    budget,
		Logger:    app.Logger,
		Children:  runs.NewService(store, workflowsdb.New(app.DB, app.TableName), machine, runs.Options{Retention: retention, Logger: app.Logger}),
		Tokens:    machine,
		// wait_for_signal steps: their tokens' lookup items, and the
		// signal key that makes the tokens (kms:GenerateMac).
		Signals:   raw,
		SignalMAC: lambdaapp.Must(signaltoken.FromEnv(ctx, "")),
		Slots:     raw,
	})
	lambda.Start(r.Advance)
}
