package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"

	"strings"

	"github.com/workflowsapi/workflows/internal/ids"
)

// workflowKind: a sub-workflow. The step starts a child run of the workflow
// workflowId (of the same account), at version or the workflow's current
// one, with the input its input jq gives ({} without one), and waits for it;
// the step's output is the child's output. Only the id's form is checked
// on write: the workflow may be created later, and whether it exists, is
// enabled and takes the input is told when the step runs (the runner's
// WORKFLOW_NOT_FOUND, WORKFLOW_DISABLED, INVALID_INPUT), as is the depth
// (MaxWorkflowDepth).
type workflowKind struct{}

func (workflowKind) withMembers() []string { return []string{"workflowId", "input", "version"} }

// The messages of a workflow step's own rules.
const (
	workflowStepRetry   = "is not for workflow steps: the child run has its own steps and retries"
	workflowStepTimeout = "is not for workflow steps: the child's own timeoutSeconds bounds it, and the parent's bounds the wait"
	workflowIDForm      = "must be a workflow id (wf_…)"
	workflowInputBlank  = "must not be empty: leave input out for the child's input to be {}"
)

func (workflowKind) validate(c *stepChecker, path string, _ int, s *workflows.Step) []connectionRef {
	p := c.p
	// The step makes no attempt of its own for these to bound: the child
	// run is one, made once, with its own steps' retries and its own
	// timeout.
	if s.Retry != nil {
		p.add(path+".retry", workflowStepRetry)
	}
	if s.TimeoutSeconds != nil {
		p.add(path+".timeoutSeconds", workflowStepTimeout)
	}
	with := path + ".with"
	switch id := s.With.WorkflowID; {
	case id == "":
		p.add(with+".workflowId", "is required")
	case !isWorkflowID(id):
		p.add(with+".workflowId", workflowIDForm)
	}
	switch input := s.With.Input; {
	case input == "": // absent: the child's input is {}
	case strings.TrimSpace(input) == "":
		p.add(with+".input", workflowInputBlank)
	default:
		checkJQ(p, with+".input", input)
	}
	if s.With.Version != 0 { // 0 is absent; Parse refuses it given (refuseEmptyWorkflowMembers)
		checkRange(p, with+".version", s.With.Version, 1, workflows.MaxWorkflowStepVersion)
	}
	return nil
}

// isWorkflowID reports whether id is a workflow id as ids.New makes it.
// ids.Valid reads the ULID in either case, as a request's path id is read;
// an id in a definition is looked up as written when the step runs, so one
// in capitals would never name a workflow, and is refused on write.
func isWorkflowID(id string) bool {
	return ids.Valid(ids.PrefixWorkflow, id) && id == strings.ToLower(id)
}

// refuseEmptyWorkflowMembers holds the members of a workflow step's with
// given empty, which With reads as absent ("input": "" as no input,
// "version": 0 as the current version), to their rules. Called after
// refuseForeignMembers, and only for a workflow step: on a step of another
// type they are refused as foreign instead.
func refuseEmptyWorkflowMembers(p *problems, stepType workflows.StepType, withGiven []member, w workflows.With) {
	if stepType != workflows.StepWorkflow {
		return
	}
	for _, m := range withGiven {
		switch {
		case m.name == "input" && w.Input == "":
			p.add(m.field, workflowInputBlank)
		case m.name == "version" && w.Version == 0:
			checkRange(p, m.field, w.Version, 1, workflows.MaxWorkflowStepVersion)
		}
	}
}
