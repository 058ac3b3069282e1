package definition

import "github.com/workflowsapi/workflows/internal/workflows"

// waitForSignalKind: the run waits for a signal, at most timeoutSeconds.
// A signal is a person's or another system's answer, so the wait is at
// least a minute; it is required, so that no run waits by default for as
// long as runs may last.
type waitForSignalKind struct{}

func (waitForSignalKind) withMembers() []string { return []string{"timeoutSeconds"} }

func (waitForSignalKind) validate(c *stepChecker, path string, _ int, s *workflows.Step) []connectionRef {
	checkRange(c.p, path+".with.timeoutSeconds", s.With.TimeoutSeconds, workflows.MinSignalTimeoutSeconds, workflows.MaxSignalTimeoutSeconds)
	return nil
}
