package jqsandbox

import "testing"

func TestInProcess(t *testing.T) {
	for _, src := range []string{
		".", ".input", ".input.x", ".steps.a.output.body.id", `.["x"]`, `."x"`, ".[0]", `.input["a b"].c`, ".input.x?", ".a?.b?",
		".input | .x", "(.input).x", "null", "true", "42", `"text"`, ".a | .b | .[3]", " .input.id ",
	} {
		if !InProcess(src) {
			t.Errorf("%q is a path and should run in-process", src)
		}
	}
	for _, src := range []string{
		`"x" * 3`, "[range(3)]", ".a | tostring", "reduce range(3) as $i (0; . + $i)", "def f: .; f", ".[]", ".[1:2]", ".[.a]",
		`"\(.a)"`, "@base64", `@uri "\(.a)"`, "{a: 1}", "[.a]", ".a, .b", ".a + .b", "-1", ".a // .b", "$ENV", "env", "..", "$__loc__",
		". as $x | $x", "if . then 1 else 2 end", "try .a", ".a as [$x] | $x", "not", "length", `.[("a" * 100000000)]`, ".[-1]", "input",
		"{{", "",
	} {
		if InProcess(src) {
			t.Errorf("%q must go to a worker", src)
		}
	}
}
