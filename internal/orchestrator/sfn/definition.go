package sfn

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The states of the run state machine, by name. Step Functions shows these
// names in an execution's history, and the CDK assertions find states by
// them.
const (
	StateAdvance       = "Advance"
	StateDecide        = "Decide"
	StateWait          = "Wait"
	StateWaitForEvent  = "WaitForEvent"
	StateDone          = "Done"
	StateRecordFailure = "RecordFailure"
	StateFailed        = "Failed"
)

// LambdaServiceErrors are the errors of Lambda itself (not of the runner's
// code) that the Advance and RecordFailure tasks retry: AWS's list for
// lambda:invoke. Anything else (the runner returned an error, timed out or
// crashed) is caught and the run recorded failed (DESIGN.md).
var LambdaServiceErrors = []string{
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
}

// TimeoutErrors are the errors of an invocation that ran out of time: the
// runner's own 900 s (Sandbox.Timedout) or the invoke call's
// (Lambda.ClientExecutionTimeoutException). The runner starts no step
// attempt it cannot finish and record before its deadline, and records each
// attempt as it ends, so an invocation that timed out hung on something
// outside it (a store call, the network), and the next one goes on from
// what is recorded. They are retried too, but twice only: each costs up to
// a whole invocation, and a runner that times out three times in a row is
// stuck, so the run is caught and recorded failed (after at most about 45
// minutes) rather than after six.
var TimeoutErrors = []string{
	"Sandbox.Timedout",
	"Lambda.ClientExecutionTimeoutException",
}

// ConflictError is the error name a runner invocation fails with when it
// kept losing its conditional writes to another writer of the same run (the
// runner reloads and tries again itself first). The state machine backs off
// between such invocations and, after ConflictMaxAttempts retries, catches
// the error and records the run failed: a run never loops on conflicts
// towards Step Functions' 25,000-event history limit (each retry adds three
// events to the execution's history).
const ConflictError = "RunConflict"

// The retries, all with full jitter (so a burst of throttled or conflicting
// executions does not come back in step):
//   - Lambda's service errors: 1 s, doubling, capped at 30 s a wait, six
//     retries: about a minute and a half of Lambda trouble is ridden out
//     before the run is caught and recorded failed;
//   - timeouts: 1 s, then 2 s, two retries (TimeoutErrors);
//   - conflicts: 1 s, doubling, capped at 60 s a wait, eight retries (at
//     most about three minutes of waiting, about 24 history events).
const (
	retryIntervalSeconds = 1
	retryMaxAttempts     = 6
	retryBackoffRate     = 2.0
	retryMaxDelaySeconds = 30

	TimeoutMaxAttempts = 2

	ConflictMaxAttempts     = 8
	conflictMaxDelaySeconds = 60
)

// FailedError is the error the Failed state ends an execution with: the
// runner has recorded the run failed (the execution's history keeps the
// caught error and cause).
const FailedError = "RunFailed"

// Definition is the Amazon States Language of the one Standard state
// machine that drives every run, with the runner function at
// runnerFunctionARN (a literal ARN, or a CloudFormation token that the
// template resolves: the CDK stack passes its function's ARN token).
//
// The execution input is runner.Task ({"accountId", "runId"}). Advance
// invokes the runner with exactly those two fields and takes the runner's
// runner.Decision as the state's output; Decide then goes on to Done
// (Succeed) when done is true, to Wait (SecondsPath $.waitSeconds) and back
// to Advance when waitSeconds > 0, and straight back to Advance otherwise
// (the runner's time budget ran out mid-run), and to WaitForEvent when
// waitForEvent is true: a workflow step waits for its child run there, and a
// wait_for_signal step for its signal, on a task token
// (lambda:invoke.waitForTaskToken) that the runner keeps with the step and
// the event (the child's end, the signal) completes, at most waitSeconds
// (the run's deadline, the signal's expiry). The decision carries the two ids, so every Advance gets the
// same task.
//
// Advance retries Lambda's own service errors (LambdaServiceErrors), the
// invocation's timeouts (TimeoutErrors) and the runner's ConflictError, each
// with its own backoff and full jitter; any other error, or one of those
// once its retries are spent, is caught into $.failure and
// RecordFailure invokes the runner once more with the task and that failure
// ({"accountId", "runId", "failure": {"Error", "Cause"}}, runner.Failure),
// so that it records the run failed, and the execution ends in Failed.
//
// CDK (infra/stack) and template.yaml use this text, and the tests create
// the state machine in moto and check it with asl-validator from it, so
// there is one definition.
func Definition(runnerFunctionARN string) string {
	return definition(runnerFunctionARN, false)
}

// ExpressDefinition is the Amazon States Language of the Express state
// machine, for the runs that never wait on an event (orchestrator.Express):
// Definition without WaitForEvent, since Express machines have no task
// tokens (lambda:invoke.waitForTaskToken). Decide goes to Done, to Wait for
// a retry's back-off, or back to Advance; a decision to wait for an event,
// which such a run never makes, waits its waitSeconds and advances again.
// The Catch and RecordFailure are Definition's.
func ExpressDefinition(runnerFunctionARN string) string {
	return definition(runnerFunctionARN, true)
}

func definition(runnerFunctionARN string, express bool) string {
	invoke := func(payload map[string]any) map[string]any {
		return map[string]any{
			"FunctionName": runnerFunctionARN,
			"Payload":      payload,
		}
	}
	task := map[string]any{
		"accountId.$": "$.accountId",
		"runId.$":     "$.runId",
	}
	retrier := func(errors []string, attempts, maxDelay int) map[string]any {
		return map[string]any{
			"ErrorEquals":     errors,
			"IntervalSeconds": retryIntervalSeconds,
			"MaxAttempts":     attempts,
			"BackoffRate":     retryBackoffRate,
			"MaxDelaySeconds": maxDelay,
			"JitterStrategy":  "FULL",
		}
	}
	// Each error is in one retrier only: Step Functions uses the first that
	// names it, and each keeps its own count.
	retry := []any{
		retrier(LambdaServiceErrors, retryMaxAttempts, retryMaxDelaySeconds),
		retrier(TimeoutErrors, TimeoutMaxAttempts, retryMaxDelaySeconds),
	}
	// Only the Advance can conflict: RecordFailure's writes retry
	// conflicts inside the runner.
	advanceRetry := append(slices.Clone(retry), retrier([]string{ConflictError}, ConflictMaxAttempts, conflictMaxDelaySeconds))
	failure := map[string]any{
		"accountId.$": "$.accountId",
		"runId.$":     "$.runId",
		"failure": map[string]any{
			"Error.$": "$.failure.Error",
			"Cause.$": "$.failure.Cause",
		},
	}
	def := map[string]any{
		"Comment": "Drives one run of the Workflows API: the runner advances it, the state machine waits between advances.",
		"StartAt": StateAdvance,
		"States": map[string]any{
			StateAdvance: map[string]any{
				"Type":       "Task",
				"Comment":    "The runner executes the run's steps while its time budget lasts and answers a runner.Decision.",
				"Resource":   "arn:aws:states:::lambda:invoke",
				"Parameters": invoke(task),
				// The runner's answer, without Lambda's envelope.
				"OutputPath": "$.Payload",
				"Retry":      advanceRetry,
				"Catch": []any{map[string]any{
					"ErrorEquals": []string{"States.ALL"},
					// Kept beside the ids, so RecordFailure can name the run.
					"ResultPath": "$.failure",
					"Next":       StateRecordFailure,
				}},
				"Next": StateDecide,
			},
			StateDecide: map[string]any{
				"Type": "Choice",
				"Choices": []any{
					map[string]any{"Variable": "$.done", "BooleanEquals": true, "Next": StateDone},
					// Before the wait: a run waiting for a child also has
					// waitSeconds (its deadline), which bounds the park.
					map[string]any{"And": []any{
						map[string]any{"Variable": "$.waitForEvent", "IsPresent": true},
						map[string]any{"Variable": "$.waitForEvent", "BooleanEquals": true},
					}, "Next": StateWaitForEvent},
					map[string]any{"Variable": "$.waitSeconds", "NumericGreaterThan": 0, "Next": StateWait},
				},
				"Default": StateAdvance,
			},
			StateWaitForEvent: map[string]any{
				"Type":     "Task",
				"Comment":  "A workflow step waits for its child run, a wait_for_signal step for its signal: the runner keeps this task's token with the step, and the event (the child's end, the signal) completes it (SendTaskSuccess). No process waits, and nothing polls.",
				"Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
				"Parameters": invoke(map[string]any{
					"accountId.$": "$.accountId",
					"runId.$":     "$.runId",
					"park":        map[string]any{"token.$": "$$.Task.Token"},
				}),
				// The run's own deadline (or the signal's expiry) bounds
				// the wait; past it, the Advance ends the run timed out
				// (and cancels the child), or fails the signal step.
				"TimeoutSecondsPath": "$.waitSeconds",
				// Keeping the token is a conditional write: it can conflict.
				"Retry": advanceRetry,
				"Catch": []any{
					map[string]any{"ErrorEquals": []string{"States.Timeout"}, "ResultPath": nil, "Next": StateAdvance},
					map[string]any{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.failure", "Next": StateRecordFailure},
				},
				// The completion's output is the run's task: the ids.
				"Next": StateAdvance,
			},
			StateWait: map[string]any{
				"Type":        "Wait",
				"Comment":     "A delay step or a retry's back-off: no process waits.",
				"SecondsPath": "$.waitSeconds",
				"Next":        StateAdvance,
			},
			StateDone: map[string]any{"Type": "Succeed"},
			StateRecordFailure: map[string]any{
				"Type":       "Task",
				"Comment":    "The runner records the run failed (never with the cause's text).",
				"Resource":   "arn:aws:states:::lambda:invoke",
				"Parameters": invoke(failure),
				"ResultPath": nil, // the runner's answer is not needed
				"Retry":      retry,
				"Next":       StateFailed,
			},
			StateFailed: map[string]any{
				"Type":  "Fail",
				"Error": FailedError,
				"Cause": "The run failed; the runner recorded it (GET /runs/{id} has the error).",
			},
		},
	}
	if express {
		states := def["States"].(map[string]any)
		delete(states, StateWaitForEvent)
		decide := states[StateDecide].(map[string]any)
		choices := decide["Choices"].([]any)
		decide["Choices"] = []any{choices[0], choices[2]}
		def["Comment"] = "Drives one run of the Workflows API that never waits on an event (Express): the runner advances it, the state machine waits between advances."
	}
	// Sorted keys make the text stable, so the templates compare it as is.
	out, err := json.Marshal(def)
	if err != nil {
		panic(fmt.Sprintf("sfn: the definition does not encode: %v", err)) // only maps, strings and numbers: unreachable
	}
	return string(out)
}
