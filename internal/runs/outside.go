package runs

import "time"

// EndFromOutside ends an unfinished run from outside its pass (the state
// machine's catch, the start check): failed with failure, its open steps
// failed with it; a run being cancelled ends cancelled, and its open steps
// too, since a cancel answered "cancelling" must end "cancelled". A
// finished run is kept as it is.
func EndFromOutside(run Run, failure *Error, now time.Time) (Decision, error) {
	if run.Status.Finished() {
		return Decision{Keep: true}, nil
	}
	stepStatus, stepError := StepFailed, failure
	if run.Status == StatusCancelling {
		stepStatus, stepError = StepCancelled, nil
	}
	next, err := run.End(StatusFailed, failure, nil, now)
	return Decision{Run: next, EndSteps: stepStatus, StepError: stepError}, err
}

// RunConflict is the error of a writer that kept losing its conditional
// write of a run to others and gave up (the runner's Advance, the start
// check). Its type name is the error name Step Functions reports for it.
type RunConflict struct{ RunID string }

func (e *RunConflict) Error() string {
	return "runs: run " + e.RunID + " kept changing under another writer"
}
