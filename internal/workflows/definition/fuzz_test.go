package definition_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// FuzzParseAndValidate holds the parser to its contract on any body: it
// never panics; a refusal is a VALIDATION_ERROR whose every detail names a
// field; and an accepted definition, stored as JSON, reads back as itself,
// so that nothing stored is refused later.
func FuzzParseAndValidate(f *testing.F) {
	for _, seed := range []string{
		example,
		`{"name":"s","trigger":{"type":"schedule","cron":"0 9 * * MON-FRI","timezone":"Europe/Berlin"},"steps":[{"id":"a","type":"delay","with":{"seconds":60}}]}`,
		`{"name":"c","trigger":{"type":"manual"},"concurrency":{"limit":2,"key":".input.customer"},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`,
		`{"name":"c","trigger":{"type":"manual"},"concurrency":{"key":"","queue":1},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`,
		`{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"ok","type":"wait_for_signal","onError":"continue","with":{"timeoutSeconds":60}},{"id":"t","type":"wait_for_signal","with":{"timeoutSeconds":59,"seconds":1}}]}`,
		`{"name":"s","trigger":{"type":"schedule","every":"15m"},"steps":[{"id":"a","type":"transform","with":{"jq":"[.input[] | select(.n > 1)]"}}]}`,
		`{"name":"w","enabled":false,"trigger":{"type":"webhook"},"timeoutSeconds":60,"inputSchema":{"type":"object","properties":{"id":{"$ref":"#/$defs/id"}},"$defs":{"id":{"type":"string"}}},"steps":[{"id":"c","type":"condition","with":{"jq":".input.id == \"1\""},"else":"end"}]}`,
		`{"name":"h","trigger":{"type":"manual"},"steps":[{"id":"p","type":"http","with":{"method":"PUT","url":"http://shop.example:8080/{{ .input.host }}/x","headers":{"X-A":"{{ .run.id }}"},"body":[1,{"a":"{{ .input }}"},null]},"timeoutSeconds":900,"retry":{"maxAttempts":10}}]}`,
		`{"name":"","trigger":{"type":"cron"},"steps":[{"id":"1","type":"http","with":{"url":"ftp://x"}}]}`,
		`{"name":"x","trigger":{"type":"schedule","cron":"0 9 1 * MON","timezone":"Mars/Base"},"steps":[{"id":"a","type":"condition","with":{"jq":"."},"else":"a"}]}`,
		`{"name":"x","trigger":{"type":"schedule","cron":"TZ=UTC 0 9 * *"},"steps":[]}`,
		`{"name":"x","inputSchema":{"$ref":"https://example.com/x.json"},"trigger":{"type":"manual"},"steps":[{"id":"a","type":"transform","with":{"jq":"{{"}}]}`,
		`{"name":"x","trigger":{"type":"manual"},"steps":[{"id":"a","type":"http","with":{"method":"GET","url":"https://a/{{ {a: {b: 1}} }}","body":{"k":"{{ .a | }}"}}}]}`,
		`{"name":" x ","trigger":{"type":"manual"},"steps":[{"id":"a","type":"http","with":{"method":"HEAD","url":"https://a","headers":{},"body":"\u0041\/\ud83d\ude00"}}],"inputSchema":{"description":"\u00e9","enum":[1.0,1e2,-0]}}`,
		`{"name":"x","name":"y"}`, `{"steps":null}`, `{"steps":[null]}`, `{"steps":[{"with":null}]}`,
		`{"name":"e","trigger":{"type":"manual"},"steps":[{"id":"a","type":"transform","with":{"jq":"error(\"x\")"},"onError":"continue"},{"id":"b","type":"condition","with":{"jq":".steps.a.error.code"},"else":"end","onError":"fail"}]}`,
		`{"steps":[{"onError":""}]}`, `{"steps":[{"onError":"ignore"}]}`, `{"steps":[{"onError":null}]}`,
		// The fan-outs (issue 15): valid, then each rule broken.
		`{"name":"f","trigger":{"type":"manual"},"steps":[{"id":"each","type":"foreach","with":{"items":".input.lines","concurrency":20,"step":{"type":"http","with":{"method":"POST","url":"https://a.example/{{ .item.id }}","headers":{"X-I":"{{ .index }}"},"body":{"i":"{{ .index }}"},"connection":"` + knownConnection + `"}}},"retry":{"maxAttempts":2},"timeoutSeconds":30,"onError":"continue"}]}`,
		`{"name":"f","trigger":{"type":"manual"},"steps":[{"id":"each","type":"foreach","with":{"items":"[range(3)]","step":{"type":"transform","with":{"jq":"{i: .item, at: .index}"}}}}]}`,
		`{"name":"p","trigger":{"type":"manual"},"steps":[{"id":"c","type":"condition","with":{"jq":".input.go"},"else":"both"},{"id":"both","type":"parallel","with":{"steps":[{"id":"a","type":"http","with":{"method":"GET","url":"https://a.example/"},"retry":{"maxAttempts":3},"timeoutSeconds":5},{"id":"b","type":"transform","with":{"jq":".steps.c"}}]},"onError":"continue"}]}`,
		`{"name":"f","trigger":{"type":"manual"},"steps":[{"id":"each","type":"foreach","with":{"items":"","concurrency":0,"step":{"id":"","type":"foreach","retry":{"maxAttempts":0},"onError":"","with":{"items":".","step":{}}}}}]}`,
		`{"name":"p","trigger":{"type":"manual"},"steps":[{"id":"c","type":"condition","with":{"jq":"."},"else":"a"},{"id":"both","type":"parallel","retry":{"maxAttempts":2},"timeoutSeconds":1,"with":{"steps":[{"id":"a","type":"delay","with":{"seconds":1}},{"id":"a","type":"parallel","onError":"continue","with":{"steps":[]}}]}}]}`,
		`{"steps":[{"type":"foreach","with":{"step":null,"steps":[null]}}]}`, `{"steps":[{"type":"parallel","with":{"steps":[{"with":{"step":{"with":{"steps":[{}]}}}}]}}]}`,
		`{"steps":[{"type":"http","with":{"items":"","concurrency":0,"steps":[],"step":{"id":"x"}}}]}`,
		// The workflow step (issue 15): valid, then each rule broken.
		`{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"c","type":"condition","with":{"jq":".input.go"},"else":"child"},{"id":"child","type":"workflow","with":{"workflowId":"wf_01m8faf8h74r4czqj1rqt4bf1e","input":"{id: .input.id, n: (.steps | length)}","version":2147483647},"onError":"continue"}]}`,
		`{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"child","type":"workflow","with":{"workflowId":"wf_01m8faf8h74r4czqj1rqt4bf1e"}}]}`,
		`{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"child","type":"workflow","retry":{"maxAttempts":0},"timeoutSeconds":0,"else":"","with":{"workflowId":"WF_01M8FAF8H74R4CZQJ1RQT4BF1E","input":"","version":0,"jq":"","seconds":0}}]}`,
		`{"steps":[{"type":"workflow","with":{"workflowId":"wf_81m8faf8h74r4czqj1rqt4bf1e","input":" ","version":-1}},{"type":"workflow","with":{"workflowId":1,"input":{},"version":1.5}},{"type":"workflow","with":{"workflowId":null,"version":1e99}}]}`,
		`{"steps":[{"type":"http","with":{"workflowId":"","input":"","version":0}},{"type":"foreach","with":{"items":".","step":{"type":"workflow","with":{"workflowId":"wf_01m8faf8h74r4czqj1rqt4bf1e"}}}},{"id":"p","type":"parallel","with":{"steps":[{"id":"a","type":"workflow","with":{}},{"id":"b","type":"workflow","with":{"workflowId":"wf_01m8faf8h74r4czqj1rqt4bf1e"}}]}}]}`,
		// notify (issue 16): valid, then each rule broken.
		`{"name":"n","trigger":{"type":"manual"},"notify":{"url":"https://hooks.example/runs","events":["run.failed","run.waiting"]},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`,
		`{"notify":{"url":"http://127.0.0.1:9/x","events":[]}}`, `{"notify":{"url":"http://10.0.0.1/x","events":["run.failed"]}}`,
		`{"notify":{"url":"https://u:p@h/{{ .input }}","events":["run.failed","run.failed","run.done"]}}`, `{"notify":{"events":null,"extra":1}}`, `{"notify":null}`,
		`[]`, `null`, `"x"`, `{`, ``, `{"trigger":{"type":"manual","cron":""}}`, `{"steps":[{"retry":{"maxAttempts":1e99}}]}`,
		// Issue 19: a body of only whitespace is refused; an integer may
		// be written as any number whose value is one.
		"  \n", " ", "\r\n\t",
		`{"name":"i","trigger":{"type":"manual"},"timeoutSeconds":60.0,"concurrency":{"limit":1e1},"steps":[{"id":"a","type":"delay","with":{"seconds":1E1},"retry":{"maxAttempts":3e0},"timeoutSeconds":60.000}]}`,
		`{"name":"i","trigger":{"type":"manual"},"timeoutSeconds":60.5,"steps":[{"id":"a","type":"delay","with":{"seconds":-0.5},"retry":{"maxAttempts":1e400}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := definition.Parse(body, exists)
		if err != nil {
			requireRefusalWithDetails(t, err)
			return
		}
		stored, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("an accepted definition does not marshal: %v", err)
		}
		again, err := definition.Parse(stored, exists)
		if err != nil {
			t.Fatalf("the stored form of an accepted definition is refused: %v\n%s", err, stored)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("the stored form reads back differently:\n%+v\n%+v", d, again)
		}
		if err := definition.Validate(&again, exists); err != nil {
			t.Fatalf("Validate refuses what Parse accepted: %v", err)
		}
	})
}

// FuzzFieldValues puts fuzzed strings where the parsers of other libraries
// read them (cron, time zone, every, jq, a template in a url, a header and a
// body, an input schema), inside an otherwise valid definition, which
// random bytes of a whole body seldom reach. On top of FuzzParseAndValidate's
// contract: an accepted schedule has an EventBridge Scheduler expression
// within Scheduler's 256 characters.
func FuzzFieldValues(f *testing.F) {
	f.Add("0 9 * * MON-FRI", "Europe/Berlin", "", ".steps", "{{ .input.id }}", `{"type":"object"}`)
	f.Add("*/5 1-3,7 1,15 JAN-MAR ?", "UTC", "", "[.[] | {a: .b}]", "x{{.}}y{{ .a | tostring }}", `{"$ref":"#/$defs/a","$defs":{"a":{}}}`)
	f.Add("", "", "90m", "reduce .[] as $x (0; . + $x)", "{{ {a: {b: 1}} }}", `{"$ref":"https://example.com/x.json"}`)
	f.Add("TZ=UTC\t0\t9\t*\t*", "Local", "30s", "$ENV", "{{", `{"$schema":"file:///etc/passwd"}`)
	f.Add("0 9 1 * MON", "America/New_York", "1h", "input", "}}{{}}", `true`)
	f.Fuzz(func(t *testing.T, cronSpec, timezone, every, jq, template, schema string) {
		trigger := map[string]any{"type": "manual"} // so that jq and templates are reached without a schedule
		if cronSpec != "" || every != "" {
			trigger["type"] = "schedule"
			for name, value := range map[string]string{"cron": cronSpec, "timezone": timezone, "every": every} {
				if value != "" {
					trigger[name] = value
				}
			}
		}
		body0 := map[string]any{
			"name": "fuzz", "trigger": trigger,
			"steps": []any{
				map[string]any{"id": "t", "type": "transform", "with": map[string]any{"jq": jq}},
				map[string]any{"id": "h", "type": "http", "with": map[string]any{
					"method": "POST", "url": "https://a.example/" + template,
					"headers": map[string]any{"X-T": template}, "body": map[string]any{"t": []any{template}},
				}},
			},
		}
		if jsontext.Value(schema).IsValid() {
			body0["inputSchema"] = jsontext.Value(schema)
		}
		body, err := json.Marshal(body0)
		if err != nil {
			return // a string that is not valid UTF-8
		}
		d, err := definition.Parse(body, exists)
		if err != nil {
			requireRefusalWithDetails(t, err)
			return
		}
		if d.Trigger.Type != workflows.TriggerSchedule {
			return
		}
		expression, _, err := definition.SchedulerExpression(d.Trigger)
		if err != nil || len(expression) > 256 {
			t.Fatalf("accepted schedule %+v has expression %q (%d characters), %v", d.Trigger, expression, len(expression), err)
		}
	})
}

// requireRefusalWithDetails fails unless err is a VALIDATION_ERROR whose
// every detail names its field and says what is wrong.
func requireRefusalWithDetails(t *testing.T, err error) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) == 0 {
		t.Fatalf("refused with %#v, want a VALIDATION_ERROR with details", err)
	}
	for _, detail := range e.Details {
		if detail.Field == "" || detail.Message == "" {
			t.Fatalf("a detail without a field or message: %+v", e.Details)
		}
	}
}
