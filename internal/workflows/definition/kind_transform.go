package definition

import "github.com/workflowsapi/workflows/internal/workflows"

// transformKind: a jq program over the run's context, whose value is the
// step's output.
type transformKind struct{}

func (transformKind) withMembers() []string { return []string{"jq"} }

func (transformKind) validate(c *stepChecker, path string, _ int, s *workflows.Step) []connectionRef {
	checkJQ(c.p, path+".with.jq", s.With.JQ)
	return nil
}
