package definition

import (
	"regexp"
	"strings"
	"testing"
)

// stepIDPattern is the contract's step id pattern (openapi.yaml's
// WorkflowStep id), which isStepID spells out.
var stepIDPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`)

func TestIsStepIDIsThePattern(t *testing.T) {
	cases := []string{"", "a", "Z", "fetch", "fetch-2", "a_b", "a" + strings.Repeat("b", 63), "a" + strings.Repeat("b", 64),
		"1a", "-a", "_a", "a b", "a.b", "é", "aé", "a\x00", "a\n", strings.Repeat("z", 65)}
	// Every string of up to two bytes from an alphabet around each edge of
	// the classes.
	alphabet := "@AZ[`az{/09:-_ .\x00\xff"
	for _, a := range alphabet {
		cases = append(cases, string(a))
		for _, b := range alphabet {
			cases = append(cases, string(a)+string(b), "x"+string(a)+string(b))
		}
	}
	for _, id := range cases {
		if got, want := isStepID(id), stepIDPattern.MatchString(id); got != want {
			t.Errorf("isStepID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}

func FuzzIsStepID(f *testing.F) {
	for _, seed := range []string{"fetch", "fetch-2", "1a", "a" + strings.Repeat("b", 63), "a\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := isStepID(id), stepIDPattern.MatchString(id); got != want {
			t.Errorf("isStepID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
