package runs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

func TestMachineForPutsOnExpressOnlyRunsThatNeverWaitAndEndInTime(t *testing.T) {
	transform := `{"id": "t%d", "type": "transform", "with": {"jq": "1"}}`
	http := `{"id": "h%d", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/x"}}`
	steps := func(template string, n int) string {
		var out []string
		for i := range n {
			out = append(out, strings.ReplaceAll(template, "%d", string(rune('a'+i))))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name, extra, steps string
		want               orchestrator.Machine
	}{
		{"five transforms", ``, steps(transform, 5), orchestrator.Express},
		{"a condition and an http step", ``, `{"id": "h", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/x"}},
		  {"id": "c", "type": "condition", "with": {"jq": "true"}, "else": "end"}`, orchestrator.Express},
		// 30 s an http step without its own timeout: eight fit in 240 s.
		{"eight http steps", ``, steps(http, 8), orchestrator.Express},
		{"nine http steps", ``, steps(http, 9), orchestrator.Standard},
		{"nine http steps in a short timeout", `"timeoutSeconds": 240,`, steps(http, 9), orchestrator.Express},
		{"a timeout over the bound", `"timeoutSeconds": 241,`, steps(http, 9), orchestrator.Standard},
		{"an http step's own long timeout", ``, `{"id": "h", "type": "http", "timeoutSeconds": 241, "with": {"method": "GET", "url": "http://127.0.0.1:9/x"}}`, orchestrator.Standard},
		// A retry's back-off may follow a Retry-After of five minutes.
		{"a retry", ``, `{"id": "t", "type": "transform", "retry": {"maxAttempts": 2}, "with": {"jq": "1"}}`, orchestrator.Standard},
		{"a retry in a short timeout", `"timeoutSeconds": 60,`, `{"id": "t", "type": "transform", "retry": {"maxAttempts": 2}, "with": {"jq": "1"}}`, orchestrator.Express},
		{"a delay", `"timeoutSeconds": 60,`, `{"id": "d", "type": "delay", "with": {"seconds": 1}}`, orchestrator.Standard},
		{"a signal", `"timeoutSeconds": 60,`, `{"id": "s", "type": "wait_for_signal", "with": {"timeoutSeconds": 60}}`, orchestrator.Standard},
		{"a child", `"timeoutSeconds": 60,`, `{"id": "w", "type": "workflow", "with": {"workflowId": "wf_01m98gyyhddnzx7st412wsv09m"}}`, orchestrator.Standard},
		{"a fan-out", `"timeoutSeconds": 60,`, `{"id": "f", "type": "foreach", "with": {"items": "[1]", "step": {"type": "transform", "with": {"jq": "1"}}}}`, orchestrator.Standard},
		{"a concurrency limit", `"timeoutSeconds": 60, "concurrency": {"limit": 1},`, steps(transform, 1), orchestrator.Standard},
		{"a notify", `"timeoutSeconds": 60, "notify": {"url": "https://hooks.example.com/x", "events": ["run.succeeded"]},`, steps(transform, 1), orchestrator.Standard},
	} {
		t.Run(c.name, func(t *testing.T) {
			source := `{"name": "m", "trigger": {"type": "manual"}, ` + c.extra + ` "steps": [` + c.steps + `]}`
			def, err := definition.Parse([]byte(source), func(string) (bool, error) { return true, nil })
			if err != nil {
				t.Fatalf("%v: %s", err, source)
			}
			if got := runs.MachineFor(def); got != c.want {
				t.Errorf("machine %q, want %q", got, c.want)
			}
		})
	}
}

// TestMachineForCountsTheEnginesBounds: MachineFor bounds an attempt as the
// engine does (it does not link the engine, which the read routes must
// not): 30 s an http step without a timeout, 1 s a jq program.
func TestMachineForCountsTheEnginesBounds(t *testing.T) {
	if engine.DefaultStepTimeout != 30*time.Second || engine.DefaultJQTimeout != time.Second {
		t.Errorf("the engine's bounds are %v and %v: change runs.MachineFor's to them", engine.DefaultStepTimeout, engine.DefaultJQTimeout)
	}
	if orchestrator.ExpressMaxSeconds+60 > int(orchestrator.ExpressLifetime.Seconds()) {
		t.Errorf("ExpressMaxSeconds %d leaves less than a minute of an Express execution's %v", orchestrator.ExpressMaxSeconds, orchestrator.ExpressLifetime)
	}
}
