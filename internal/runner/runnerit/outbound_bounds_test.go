package runnerit

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Issue 13, point 4: a request over a bound (body 256 KiB, one header
// 8 KiB, all headers 32 KiB, the URL 8 KiB) fails its step with
// REQUEST_TOO_LARGE, is not retried, and the target receives nothing. The
// input stays under the API's own body limit: the templates make it big.
func TestOutboundRequestsOverTheBoundsAreNeverSent(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	s := strings.Repeat("s", 9<<10)
	for _, tc := range []struct{ name, with string }{
		{"a body over 256 KiB", `{"method": "POST", "url": "` + tg.URL + `/body", "body": {` + bodyOfCopies(30) + `}}`},
		{"a header over 8 KiB", `{"method": "GET", "url": "` + tg.URL + `/header", "headers": {"X-Big": "{{ .input.s }}"}}`},
		{"headers over 32 KiB", `{"method": "GET", "url": "` + tg.URL + `/headers", "headers": {` + headersOfCopies(5) + `}}`},
		{"a URL over 8 KiB", `{"method": "GET", "url": "` + tg.URL + `/url?q={{ .input.s }}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := a.workflow(t, `{"name": "big", "trigger": {"type": "manual"}, "steps": [
			  {"id": "call", "type": "http", "with": `+tc.with+`, "retry": {"maxAttempts": 3}}]}`)
			input, _ := json.Marshal(map[string]string{"s": s})
			run := a.finished(t, a.run(t, wf, string(input)))
			step := stepsOf(run)["call"]
			if run["status"] != "failed" || step == nil || step["error"].(map[string]any)["code"] != "REQUEST_TOO_LARGE" || step["attempts"] != float64(1) {
				t.Errorf("run %s, step %.400s", run["status"], jsonOf(step))
			}
		})
	}
	for _, path := range []string{"/body", "/header", "/headers", "/url"} {
		if n := tg.count(path); n != 0 {
			t.Errorf("the target received %d requests on %s", n, path)
		}
	}
}

// bodyOfCopies is n members, each the 9 KiB input: 270 KiB for 30.
func bodyOfCopies(n int) string {
	var members []string
	for i := range n {
		members = append(members, `"m`+string(rune('a'+i%26))+strings.Repeat("x", i/26)+`": "{{ .input.s }}"`)
	}
	return strings.Join(members, ", ")
}

// headersOfCopies is n headers of 7 KiB each (the input's first 7 KiB).
func headersOfCopies(n int) string {
	var headers []string
	for i := range n {
		headers = append(headers, `"X-Copy-`+string(rune('a'+i))+`": "{{ .input.s[:7168] }}"`)
	}
	return strings.Join(headers, ", ")
}
