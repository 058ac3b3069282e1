package runs

import (
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Bounds of one attempt, as the engine sets them (engine.StepTimeout,
// engine.DefaultJQTimeout; a runner test holds the two packages equal): an
// http step's timeoutSeconds or 30 s, a jq program's 1 s.
const (
	defaultHTTPAttemptSeconds = 30
	jqAttemptSeconds          = 1
)

// MachineFor is the state machine a run of def goes on: Express when the
// run can neither wait on an event nor outlive an Express execution, else
// Standard. That is:
//   - every step is http, transform or condition: no delay, signal or
//     child (which wait), and no fan-out (whose items may be many);
//   - no concurrency limit (a queued run waits on a task token) and no
//     notify (whose deliveries outlive the run, on its execution);
//   - the run ends within orchestrator.ExpressMaxSeconds: its timeoutSeconds
//     says so, or, without one, its steps do, each run once (no retry, whose
//     back-off a target's Retry-After may stretch to five minutes) within
//     its attempt's bound.
//
// The choice is made once, when the run is created, and stored with it:
// the start check and cancel act on the machine the run is on.
func MachineFor(def workflows.Definition) orchestrator.Machine {
	if def.Concurrency != nil || def.Notify != nil {
		return orchestrator.Standard
	}
	bound, retries := 0, false
	for _, step := range def.Steps {
		switch step.Type {
		case workflows.StepHTTP:
			seconds := defaultHTTPAttemptSeconds
			if step.TimeoutSeconds != nil && *step.TimeoutSeconds > 0 {
				seconds = *step.TimeoutSeconds
			}
			bound += seconds
		case workflows.StepTransform, workflows.StepCondition:
			bound += jqAttemptSeconds
		default:
			return orchestrator.Standard
		}
		if step.Retry != nil && step.Retry.MaxAttempts > 1 {
			retries = true
		}
	}
	if def.TimeoutSeconds != nil && *def.TimeoutSeconds <= orchestrator.ExpressMaxSeconds {
		return orchestrator.Express
	}
	if !retries && bound <= orchestrator.ExpressMaxSeconds {
		return orchestrator.Express
	}
	return orchestrator.Standard
}
