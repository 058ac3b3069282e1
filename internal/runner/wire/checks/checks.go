// Package checks builds the start-check function: the periodic check of the
// runs whose execution never began or ended without the runner. It stands
// apart from the runner's wire package, which links the engine (gojq, the
// definition's compilers): the check runs no step, and links none of that.
package checks

import (
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runner/check"
	"github.com/workflowsapi/workflows/internal/runs"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
)

// StateMachine is what the start check asks Step Functions: the state of
// a run's executions, starting and stopping them, and completing the task
// tokens that waiting runs hold.
type StateMachine interface {
	orchestrator.Executions
	runswire.StateMachine
}

// StartCheck is the start-check function's checker (AWS only: the local
// driver resumes every unfinished run at its start instead). An end it
// records wakes the run's parent and gives back its slot, through the task
// tokens their executions wait on.
func StartCheck(env *lambdaenv.Env, machine StateMachine) (*check.Checker, error) {
	stores, err := runswire.NewStores(env, runswire.OnStateMachine(machine))
	if err != nil {
		return nil, err
	}
	return check.New(stores.Writes, machine, machine, nil, env.Logger).WithParents(runs.TokenWaker(stores.Raw, machine)), nil
}
