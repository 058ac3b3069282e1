// Package definition holds the rules of a workflow definition: its strict
// parsing (Parse) and every check a definition must pass before it is
// stored (Validate), compiling what it holds with the compilers the runner
// shares (internal/workflows/jqtemplate for jq, templates and urls,
// internal/workflows/inputschema for the input schema), and the schedule's
// SchedulerExpression, so that what was accepted on write is exactly what
// runs.
//
// It stands apart from the model (internal/workflows) because of what it
// links: gojq, santhosh-tekuri/jsonschema (whose package initialisation
// alone takes milliseconds), robfig/cron, golang.org/x/text and the time
// zone database. Only the routes that write a definition link it: the
// runner links jqtemplate and inputschema, the run starts inputschema, and
// a read of a workflow or a run none of them (functions/links_test.go holds
// every function to that).
package definition

import "github.com/workflowsapi/workflows/internal/workflows"

// Rules are workflows.Rules: what the write routes give the workflow
// service.
type Rules struct{}

var _ workflows.Rules = Rules{}

// Parse is Parse.
func (Rules) Parse(body []byte, exists workflows.ConnectionExists) (workflows.Definition, error) {
	return Parse(body, exists)
}

// SchedulerExpression is SchedulerExpression.
func (Rules) SchedulerExpression(t workflows.Trigger) (expression, timezone string, err error) {
	return SchedulerExpression(t)
}
