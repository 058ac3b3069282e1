package workflows_test

import (
	"testing"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

// TestOnlyACanonicalVersionIsRead: ?version= takes a positive integer in
// its one spelling; every other spelling of 1 is 400 naming version, not
// version 1.
func TestOnlyACanonicalVersionIsRead(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_versions")
	c := client{env: env, key: key}
	id := c.create(t, named("v"))["id"].(string)
	if r := c.do(t, "GET", "/"+id+"?version=1", nil, nil); r.Status != 200 {
		t.Fatalf("?version=1: %d %s", r.Status, r.Body)
	}
	// The largest version the document admits is a version like any other:
	// none such, so 404.
	if r := c.do(t, "GET", "/"+id+"?version=2147483647", nil, nil); r.Status != 404 {
		t.Fatalf("?version=2147483647: %d %s, want 404", r.Status, r.Body)
	}
	for _, q := range []string{"01", "001", "%2B1", "+1", "%201", "1%20", "1.0", "1e0", "0x1", "0", "00", "-0", "1_0", "", "2147483648", "9223372036854775808"} {
		r := c.do(t, "GET", "/"+id+"?version="+q, nil, nil)
		if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
			t.Errorf("?version=%s: %d %s, want 400", q, r.Status, r.Body)
			continue
		}
		details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
		if len(details) != 1 || details[0].(map[string]any)["field"] != "version" {
			t.Errorf("?version=%s: details %v", q, details)
		}
	}
}
