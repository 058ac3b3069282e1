package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// BenchmarkTransform compares one transform step in this process with the
// same step in a sandbox worker, over a small context and one of about 256
// KiB (a previous step's output at its size limit).
//
//	go test -run '^$' -bench BenchmarkTransform -benchmem ./internal/engine/
func BenchmarkTransform(b *testing.B) {
	big := map[string]any{"items": func() []any {
		items := make([]any, 0, 2048)
		for i := range 2048 {
			items = append(items, map[string]any{"id": i, "name": strings.Repeat("n", 100)})
		}
		return items
	}()}
	for _, size := range []struct {
		name  string
		input any
	}{{"small", map[string]any{"id": 7, "name": "ada"}}, {"256KiB", big}} {
		for _, where := range []string{"in-process", "sandbox"} {
			b.Run(size.name+"/"+where, func(b *testing.B) {
				e := New(Options{Policy: OutboundPolicy{Mode: TargetsLoopback}})
				c, err := Compile(mustDefinition(b, `{"name": "w", "trigger": {"type": "manual"}, "steps": [{"id": "s", "type": "transform", "with": {"jq": "{n: (.input | length), run: .run.id}"}}]}`))
				if err != nil {
					b.Fatal(err)
				}
				c.steps[0].program.inProcess = where == "in-process"
				rc := runContext(size.input)
				if _, err := e.Execute(context.Background(), c, 0, rc, "k"); err != nil { // a worker started
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := e.Execute(context.Background(), c, 0, rc, "k"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func mustDefinition(b *testing.B, source string) workflows.Definition {
	b.Helper()
	def, err := definition.Parse([]byte(source), func(string) (bool, error) { return true, nil })
	if err != nil {
		b.Fatal(err)
	}
	return def
}
