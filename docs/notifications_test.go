package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/webhooks"
)

// fencedBlock returns the first ```lang block of doc.
func fencedBlock(t *testing.T, doc, lang string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no ```%s block", lang)
	}
	return m[1]
}

// TestTheNotificationVerifiersVerify runs docs/notifications.md's Python
// and JavaScript verifiers as written on an event signed as the runner
// signs one during a roll (two v1), and on a tampered body.
func TestTheNotificationVerifiersVerify(t *testing.T) {
	doc, err := os.ReadFile("notifications.md")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"id":"evt_1","type":"run.failed","data":{"status":"failed"}}`
	header := webhooks.SignAll(time.Now(), []byte(body), "nsec_new", "nsec_old")
	dir := t.TempDir()
	cases := []struct{ secret, body, want string }{
		{"nsec_new", body, "True"}, {"nsec_old", body, "True"}, {"nsec_other", body, "False"}, {"nsec_new", body + " ", "False"},
	}
	python := fencedBlock(t, string(doc), "python")
	js := fencedBlock(t, string(doc), "js")
	for _, c := range cases {
		py := python + "\nimport sys\nprint(verify(sys.argv[1], sys.argv[2], sys.argv[3].encode()))\n"
		writeFile(t, filepath.Join(dir, "verify.py"), py)
		out, err := exec.Command("python3", filepath.Join(dir, "verify.py"), c.secret, header, c.body).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("python, secret %s: %s %v, want %s", c.secret, out, err, c.want)
		}
		mjs := js + "\nconst [secret, header, body] = process.argv.slice(2);\nconsole.log(verify(secret, header, Buffer.from(body)) ? \"True\" : \"False\");\n"
		writeFile(t, filepath.Join(dir, "verify.mjs"), mjs)
		out, err = exec.Command("node", filepath.Join(dir, "verify.mjs"), c.secret, header, c.body).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("node, secret %s: %s %v, want %s", c.secret, out, err, c.want)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
