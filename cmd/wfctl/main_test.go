package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("wfctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestWfctl(t *testing.T) {
	t.Setenv("TABLE_NAME", "wfctl-test")
	ctx := context.Background()

	t.Run("setup creates the table once and says so", func(t *testing.T) {
		if out := mustRun(t, "setup"); !strings.Contains(out, "created table wfctl-test") {
			t.Fatalf("first setup said %q", out)
		}
		if out := mustRun(t, "setup"); !strings.Contains(out, "already exists") {
			t.Fatalf("second setup said %q", out)
		}
	})

	var keyID, plaintext string
	t.Run("keys create prints the plaintext key alone on the last line, and stores only its hash", func(t *testing.T) {
		out := mustRun(t, "keys", "create", "--account", "acct_ops", "--name", "Admin", "--scopes", "all")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		plaintext = lines[len(lines)-1]
		if apikey.Validate(plaintext) != nil {
			t.Fatalf("last line %q is not a key", plaintext)
		}
		db, err := store.NewClient(ctx, store.ConfigFromEnvOrLocal())
		if err != nil {
			t.Fatal(err)
		}
		k, _, err := keysdb.New(db, "wfctl-test").ByHash(ctx, apikey.Hash(plaintext))
		if err != nil || k.AccountID != "acct_ops" || len(k.Scopes) != 8 {
			t.Fatalf("stored key = %+v, %v", k, err)
		}
		keyID = k.ID
	})

	t.Run("keys list shows the key without its plaintext", func(t *testing.T) {
		out := mustRun(t, "keys", "list", "--account", "acct_ops")
		if !strings.Contains(out, keyID) || !strings.Contains(out, "active") || strings.Contains(out, plaintext) {
			t.Fatalf("list said %q", out)
		}
	})

	t.Run("keys revoke revokes it", func(t *testing.T) {
		mustRun(t, "keys", "revoke", "--account", "acct_ops", "--id", keyID)
		if out := mustRun(t, "keys", "list", "--account", "acct_ops"); !strings.Contains(out, "revoked") {
			t.Fatalf("list after revoke said %q", out)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown scope", []string{"keys", "create", "--account", "a", "--name", "n", "--scopes", "runs:write"}, "unknown scopes runs:write"},
		{"a missing account", []string{"keys", "create", "--name", "n", "--scopes", "all"}, "--account"},
		{"a missing name", []string{"keys", "create", "--account", "a", "--scopes", "all"}, "--name"},
		{"another account's key", []string{"keys", "revoke", "--account", "acct_other", "--id", "key_x"}, "has no key"},
		{"an unknown command", []string{"keys", "delete"}, "unknown command"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			err := run(ctx, tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPrintableNames(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a plain name prints as it is", "Production API Key", "Production API Key"},
		{"letters beyond ASCII print as they are", "Clé de prod", "Clé de prod"},
		{"an escape sequence is quoted", "x\x1b[2Jy", `"x\x1b[2Jy"`},
		{"a bidirectional override is quoted", "\u202egnp.exe", `"\u202egnp.exe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := printable(tc.in); got != tc.want {
				t.Fatalf("printable(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestDevEngineIsFoundWhereMakeDevWroteIt(t *testing.T) {
	for _, name := range []string{"DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "TABLE_NAME"} {
		t.Setenv(name, "")
	}
	root := t.TempDir()
	nested := filepath.Join(root, "cmd", "wfctl")
	if err := os.MkdirAll(filepath.Join(root, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".data", "dynalite.endpoint"), []byte("http://127.0.0.1:8123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(nested)
	if got, ok := devEngine(); !ok || got != "http://127.0.0.1:8123" {
		t.Fatalf("devEngine() = %q, %v; want the endpoint make dev wrote", got, ok)
	}
	t.Setenv("TABLE_NAME", "prod-table")
	if got, ok := devEngine(); ok {
		t.Fatalf("with TABLE_NAME set, devEngine() = %q; the operator's settings must win", got)
	}
}
