package definition

import "github.com/workflowsapi/workflows/internal/workflows"

// delayKind: the run waits for seconds before its next step.
type delayKind struct{}

func (delayKind) withMembers() []string { return []string{"seconds"} }

func (delayKind) validate(c *stepChecker, path string, _ int, s *workflows.Step) []connectionRef {
	checkRange(c.p, path+".with.seconds", s.With.Seconds, 1, workflows.MaxDelaySeconds)
	return nil
}
