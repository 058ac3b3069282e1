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

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	runnerwire "github.com/workflowsapi/workflows/internal/runner/wire"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
	"github.com/workflowsapi/workflows/internal/signaltoken/kmsmac"
)

// budget lets one invocation run steps for as long as Lambda allows: the
// invocation's deadline (less the runner's margin) is the real bound, and
// fewer invocations are fewer state transitions, which is what a run costs.
const budget = 15 * time.Minute

func main() {
	env := lambdaenv.MustLoad()
	ctx := context.Background()
	machine := lambdaenv.Must(sfn.FromEnv(ctx))
	r := lambdaenv.Must(runnerwire.Runner(env, runnerwire.Platform{
		// Children start as executions; a child's end, and a freed
		// concurrency slot, complete the task tokens their runs wait on.
		Driver: runswire.OnStateMachine(machine),
		Tokens: machine,
		// Opens a step's connection credentials and a notify's secret
		// (kms:Decrypt).
		Sealer: lambdaenv.Must(kmssealer.FromEnv(ctx, "")),
		// Makes the tokens of wait_for_signal steps (kms:GenerateMac).
		SignalMAC: lambdaenv.Must(kmsmac.FromEnv(ctx, "")),
		Budget:    budget,
	}))
	lambda.Start(r.Advance)
}
