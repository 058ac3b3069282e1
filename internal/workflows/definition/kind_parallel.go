package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"

	"fmt"
	"strconv"
)

// parallelKind: its inner steps, each with an id, run at once, each tried
// as its own retry and timeoutSeconds say; the step's output is an object
// keyed by inner step id.
type parallelKind struct{}

func (parallelKind) withMembers() []string { return []string{"steps"} }

func (parallelKind) validate(c *stepChecker, path string, i int, s *workflows.Step) []connectionRef {
	p := c.p
	// The parallel makes no attempt of its own for these to bound.
	if s.Retry != nil {
		p.add(path+".retry", "is not for parallel steps: each inner step has its own retry")
	}
	if s.TimeoutSeconds != nil {
		p.add(path+".timeoutSeconds", "is not for parallel steps: each inner step has its own timeoutSeconds")
	}
	field := path + ".with.steps"
	steps := s.With.Steps
	switch {
	case steps == nil:
		p.add(field, "is required")
		return nil
	case len(steps) < workflows.MinParallelSteps:
		p.addAbove(field, fmt.Sprintf("must have at least %d steps: a single step needs no parallel", workflows.MinParallelSteps))
	case len(steps) > workflows.MaxParallelSteps:
		p.addAbove(field, fmt.Sprintf("must have at most %d steps", workflows.MaxParallelSteps))
	}
	name := s.ID // what the else rule calls the parallel
	if name == "" {
		name = path
	}
	var refs []connectionRef
	for j := range steps {
		innerPath := field + "[" + strconv.Itoa(j) + "]"
		inner := &steps[j]
		c.declareInnerID(innerPath, inner.ID, name)
		if inner.OnError != "" {
			p.add(innerPath+".onError", "is the parallel's: put onError on the parallel step, which fails when one of its steps fails")
		}
		refs = append(refs, c.validateInnerStep(innerPath, i, inner, workflows.StepParallel)...)
	}
	return refs
}

// declareInnerID holds the id of the inner step at path of the parallel
// called parallel to the rules of a step id, unique among every step of the
// workflow (a clash names the other place), and records where it is.
func (c *stepChecker) declareInnerID(path, id, parallel string) {
	field := path + ".id"
	if !checkStepID(c.p, field, id) {
		return
	}
	if j, taken := c.index[id]; taken {
		c.p.add(field, fmt.Sprintf("is already the id of steps[%d]", j))
		return
	}
	if other, taken := c.innerIDs[id]; taken {
		c.p.add(field, "is already the id of "+other.path)
		return
	}
	c.innerIDs[id] = innerPlace{path: path, parallel: parallel}
}
