// Package engine executes one step of a workflow: http, transform,
// condition and delay, with the {{ jq }} templates of their strings. It
// holds no state and knows no AWS and no storage: the runner gives it the
// step, the run's context and what it needs to reach the outside (an HTTP
// client under the outbound policy, a source of connection credentials), and
// records what it answers. gojq is the one expression language: programs
// are compiled once per run (Compile), run with a deadline, and their output
// is capped.
package engine

import (
	"context"
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Context is the document every jq program and template of a run sees:
// {"input": …, "steps": {"<id>": {"output": …, "status": …}}, "run": {…},
// "workflow": {…}}, as plain JSON values (map[string]any, []any, string,
// float64 or json.Number, bool, nil), which is what gojq runs over.
type Context map[string]any

// Result is what one step answered.
type Result struct {
	// Output is the step's output as a JSON value (http: {status, headers,
	// body}; transform: the program's value; condition: the boolean;
	// delay: null).
	Output any
	// Jump, for a condition that was false, is the step id to go to next
	// (or workflows.End); "" means the next step in order.
	Jump string
	// Wait, for a delay step, is how long the run waits before its next
	// step. The runner hands it to the orchestrator; nothing sleeps here.
	Wait time.Duration
}

// StepError is why a step attempt failed. Retryable says whether another
// attempt may succeed (a 5xx, a 429, a timeout, a connection reset), and
// RetryAfter is what the target asked for (Retry-After on 429 or 503), zero
// if nothing.
type StepError struct {
	Code       string
	Message    string
	Retryable  bool
	RetryAfter time.Duration
}

func (e *StepError) Error() string { return e.Code + ": " + e.Message }

// Credentials finds a connection's decrypted credentials for an http step
// (connections.Opener in the runner). It returns domain.ErrNotFound for a
// connection that is gone, which fails the step with CONNECTION_NOT_FOUND.
type Credentials func(ctx context.Context, connectionID string) (connections.Credentials, error)

// The engine's API, built by the engine package (see the issue 9 brief):
//
//	func Compile(def workflows.Definition) (*Compiled, error)
//	    compiles every jq program and template of a definition once per run.
//	func New(opts Options) *Engine
//	    Options{Policy OutboundPolicy (from PolicyFromEnv), Credentials, JQTimeout, MaxOutputBytes}.
//	func (e *Engine) Execute(ctx context.Context, c *Compiled, stepIndex int, rc Context, idempotencyKey string) (Result, error)
//	    runs one attempt of steps[stepIndex]; the error is a *StepError for
//	    a step failure, anything else for the engine's own trouble.
var _ = workflows.End
