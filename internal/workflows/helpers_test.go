package workflows_test

import "github.com/workflowsapi/workflows/internal/workflows/workflowstest"

// The example and its edits, shared with the rules' tests.
const (
	knownConnection = workflowstest.KnownConnection
	example         = workflowstest.Example
)

var (
	edit     = workflowstest.Edit
	step     = workflowstest.Step
	with     = workflowstest.With
	trigger  = workflowstest.Trigger
	schedule = workflowstest.Schedule
)
