// Package definition holds the rules of a workflow definition: its strict
// parsing (Parse), every check a definition must pass before it is stored
// (Validate), and the compilers those checks and the runner share
// (CompileJQ, CompileTemplate, SplitURLTemplate and the schedule's
// SchedulerExpression; the input schema's is internal/workflows/inputschema,
// which the run starts link alone), so that what was accepted on write is
// exactly what runs.
//
// It stands apart from the model (internal/workflows) because of what it
// links: gojq, santhosh-tekuri/jsonschema (whose package initialisation
// alone takes milliseconds), robfig/cron, golang.org/x/text and the time
// zone database. The routes that write a definition and the runner link it;
// the run starts link inputschema alone, and a read of a workflow or a run
// neither
// (functions/links_test.go holds the read routes to that).
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
