// Package wire builds the runner: the one constructor that functions/runner
// (the state machine's Advance task) and the local gateway's driver both
// call. What differs between the two is passed in as a Platform.
package wire

import (
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/notify"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/runs/wire/starts"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	webhookswire "github.com/workflowsapi/workflows/internal/webhooks/wire"
)

// Platform is what the runner is given by where it runs.
type Platform struct {
	// Driver starts the child runs of workflow steps, and wakes a parent
	// when its child ends and the queued runs when a slot frees.
	Driver runswire.Driver
	// Tokens completes a WaitForEvent state's task token when Park finds
	// nothing left to wait for (Step Functions; nil where no driver parks).
	Tokens runs.TaskCompleter
	// Sealer opens a step's connection credentials and a notify's secret
	// (kms:Decrypt in Lambda).
	Sealer secrets.Sealer
	// SignalMAC makes the tokens of wait_for_signal steps (nil: such a
	// step fails).
	SignalMAC signaltoken.MAC
	// Targets, when set, is where http steps and notify events may go,
	// whatever the environment says (the tests' loopback mode). Nil reads
	// HTTP_STEP_TARGETS and ALLOW_PRIVATE_TARGETS.
	Targets *engine.OutboundPolicy
	// Budget bounds one Advance (0: runner.DefaultBudget).
	Budget time.Duration
}

// Runner is the runner on env's table, with RUN_RETENTION_DAYS and the
// outbound policy of the environment.
func Runner(env *lambdaenv.Env, p Platform) (*runner.Runner, error) {
	policy, err := engine.PolicyFromEnv()
	if err != nil {
		return nil, err
	}
	if p.Targets != nil {
		policy = *p.Targets
	}
	stores, err := runswire.NewStores(env, p.Driver)
	if err != nil {
		return nil, err
	}
	opener := connections.NewOpener(connectionsdb.New(env.DB, env.TableName), p.Sealer)
	eng := engine.New(engine.Options{Policy: policy, Credentials: runner.Credentials(opener)})
	versions := workflowsdb.New(env.DB, env.TableName)
	// Workflow steps: a child starts through the runs' start path on the
	// same driver (its input checked against its workflow's schema), and
	// its end wakes its parent. Without a driver a workflow step fails
	// (runner tests of other things).
	var children runner.Children
	if p.Driver.Orchestrator != nil {
		if children, err = starts.Service(env, p.Driver); err != nil {
			return nil, err
		}
	}
	return runner.New(runner.Config{
		Store:     stores.Writes,
		Workflows: versions,
		Engine:    eng,
		Budget:    p.Budget,
		Logger:    env.Logger,
		Children:  children,
		Tokens:    p.Tokens,
		// wait_for_signal steps: their tokens' lookup items, and the key
		// that makes the tokens.
		Signals:   stores.Raw,
		SignalMAC: p.SignalMAC,
		// Concurrency limits' slots and queues.
		Slots: stores.Raw,
		// Notify events: signed with the workflow's notification secret,
		// sent through the http steps' client and policy, recorded on the
		// run undecorated (a delivery changes no status).
		Notifier: notify.New(stores.Raw, webhookswire.NotifySecrets(env, p.Sealer), eng, notify.Options{Logger: env.Logger}),
	}), nil
}
