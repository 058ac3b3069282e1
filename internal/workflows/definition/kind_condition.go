package definition

import "github.com/workflowsapi/workflows/internal/workflows"

// conditionKind: a jq program that goes on to the next step when true and
// to its else, a later step or End, when false.
type conditionKind struct{}

func (conditionKind) withMembers() []string { return []string{"jq"} }

func (conditionKind) validate(c *stepChecker, path string, i int, s *workflows.Step) []connectionRef {
	checkJQ(c.p, path+".with.jq", s.With.JQ)
	// Checked once every step is, by checkElse: the step it names may be
	// any later one.
	c.jumps = append(c.jumps, jump{field: path + ".else", from: i, target: s.Else})
	return nil
}
