package definition

import (
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/workflows"
)

// foreachKind: a jq program gives an array (items), and the inner step runs
// once per item, at most concurrency at once, with .item and .index; the
// step's output is the array of the items' outputs, in item order.
type foreachKind struct{}

func (foreachKind) withMembers() []string { return []string{"items", "concurrency", "step"} }

// foreachStepRefusals are the members of a foreach's inner step that belong
// to the foreach step, and why: every item runs as the foreach step, under
// its id and with its retry, timeout and onError.
var foreachStepRefusals = []struct{ name, message string }{
	{"id", "is the foreach's: leave it out, each item runs under the foreach step's id"},
	{"retry", "is the foreach's: put retry on the foreach step, it applies to each item"},
	{"timeoutSeconds", "is the foreach's: put timeoutSeconds on the foreach step, it applies to each item's attempts"},
	{"onError", "is the foreach's: put onError on the foreach step, which fails when an item fails"},
}

func (foreachKind) validate(c *stepChecker, path string, i int, s *workflows.Step) []connectionRef {
	with := path + ".with"
	checkJQ(c.p, with+".items", s.With.Items)
	if s.With.Concurrency != 0 { // 0 is the default; Parse refuses it given (refuseZeroConcurrency)
		checkRange(c.p, with+".concurrency", s.With.Concurrency, 1, workflows.MaxForeachConcurrency)
	}
	inner := s.With.Step
	if inner == nil {
		c.p.add(with+".step", "is required")
		return nil
	}
	field := with + ".step"
	given := map[string]bool{
		"id": inner.ID != "", "retry": inner.Retry != nil,
		"timeoutSeconds": inner.TimeoutSeconds != nil, "onError": inner.OnError != "",
	}
	for _, r := range foreachStepRefusals {
		if given[r.name] {
			c.p.add(field+"."+r.name, r.message)
		}
	}
	return c.validateInnerStep(field, i, inner, workflows.StepForeach)
}

// refuseForeachStepMembers refuses, by name as given, the members of a
// foreach's inner step (raw, at path) that belong to the foreach, even when
// given empty ("id": ""), which validation, seeing only values, would take
// for absent. Called before the step is decoded, so that a member refused
// here is not also reported for what is inside it (retry.maxAttempts).
func refuseForeachStepMembers(p *problems, path string, raw jsontext.Value) {
	for _, m := range p.members(path, raw) {
		for _, r := range foreachStepRefusals {
			if m.name == r.name {
				p.add(m.field, r.message)
			}
		}
	}
}

// refuseZeroConcurrency holds a concurrency given as 0 to its range: With
// reads 0 as absent (the default). Called after refuseForeignMembers, so
// that on a step of another type it is refused as foreign instead.
func refuseZeroConcurrency(p *problems, withGiven []member, w workflows.With) {
	for _, m := range withGiven {
		if m.name == "concurrency" && w.Concurrency == 0 {
			checkRange(p, m.field, w.Concurrency, 1, workflows.MaxForeachConcurrency)
		}
	}
}
