package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"

	"slices"
	"strings"
)

// stepKind is what validation knows of one step type: the members of its
// `with` and the rules of its configuration. Each type is one file,
// kind_<type>.go, and one line of stepKinds; what else names the types (the
// message of an unknown type, the members onlyFor and refuseForeignMembers
// let through, Known) reads stepKinds, so that no list can forget one.
type stepKind interface {
	// withMembers are the members of `with` the type uses, by their JSON
	// names; any other member given is refused.
	withMembers() []string
	// validate checks what is the type's own in s, its `with` (and the
	// else of a condition), at path, the step's path (steps[2]); i is the
	// position of the step, or of the fan-out holding it, among the
	// workflow's steps. It returns the connections s names, which are
	// looked up after every other check.
	validate(c *stepChecker, path string, i int, s *workflows.Step) []connectionRef
}

// stepKinds are the step types, in the order the contract lists them
// (openapi.yaml's WorkflowStep) and messages name them in: the steps of
// one action first, then the fan-outs that hold them, then the step that
// starts a run of its own.
var stepKinds = []struct {
	stepType workflows.StepType
	kind     stepKind
}{
	{workflows.StepHTTP, httpKind{}},
	{workflows.StepTransform, transformKind{}},
	{workflows.StepCondition, conditionKind{}},
	{workflows.StepDelay, delayKind{}},
	{workflows.StepForeach, foreachKind{}},
	{workflows.StepParallel, parallelKind{}},
	{workflows.StepWorkflow, workflowKind{}},
	{workflows.StepWaitForSignal, waitForSignalKind{}},
}

// kindOf is the kind of a step type, if validation knows it.
func kindOf(t workflows.StepType) (stepKind, bool) {
	for _, k := range stepKinds {
		if k.stepType == t {
			return k.kind, true
		}
	}
	return nil, false
}

// Known reports whether t is a step type Validate accepts.
func Known(t workflows.StepType) bool {
	_, known := kindOf(t)
	return known
}

// StepTypes returns every step type Validate accepts, in the order the
// contract lists them.
func StepTypes() []workflows.StepType {
	types := make([]workflows.StepType, len(stepKinds))
	for i, k := range stepKinds {
		types[i] = k.stepType
	}
	return types
}

// innerStepTypes are the types a foreach or a parallel may hold: one call
// each, bounded by its attempts, that neither jumps (condition), waits
// (delay), fans out again nor starts a child run (workflow), so that a
// fan-out's items are alike and finish on their own.
var innerStepTypes = []workflows.StepType{workflows.StepHTTP, workflows.StepTransform}

// InnerStepTypes returns the step types a foreach or a parallel may hold.
func InnerStepTypes() []workflows.StepType { return slices.Clone(innerStepTypes) }

// alternatives writes types as a message lists them: "http, transform or
// delay".
func alternatives(types []workflows.StepType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// validateInnerStep checks a step held by a foreach or a parallel
// (container): its type must be one of innerStepTypes, which also refuses
// a fan-out inside a fan-out and, with condition, any else; then it is held
// to the rules of its type as a top-level step is. i is the container's
// position.
func (c *stepChecker) validateInnerStep(path string, i int, s *workflows.Step, container workflows.StepType) []connectionRef {
	switch {
	case s.Type == "":
		c.p.add(path+".type", "is required")
		return nil
	case !slices.Contains(innerStepTypes, s.Type):
		c.p.add(path+".type", "must be "+alternatives(innerStepTypes)+" inside a "+string(container))
		return nil
	}
	return c.validateStep(path, i, s)
}
