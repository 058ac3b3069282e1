package awstest_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/workflowsapi/workflows/internal/awstest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }

func TestAKeyFromMustKMSKeyEncryptsAndItsClientCountsOnlyTheTestsCalls(t *testing.T) {
	calls := &awstest.Calls{}
	client, keyID := awstest.MustKMSKey(t, calls)
	if !strings.HasPrefix(keyID, "arn:aws:kms:us-east-1:") {
		t.Errorf("key id %q, want a key ARN in us-east-1", keyID)
	}
	ctx := context.Background()
	encCtx := map[string]string{"account": "acc_1"}
	key, err := client.GenerateDataKey(ctx, keyID, encCtx)
	if err != nil {
		t.Fatal(err)
	}
	plaintext, err := client.Decrypt(ctx, keyID, key.CiphertextBlob, encCtx)
	if err != nil || !bytes.Equal(plaintext, key.Plaintext) {
		t.Fatalf("Decrypt = %x, %v; want %x", plaintext, err, key.Plaintext)
	}
	got := calls.Snapshot()
	if len(got) != 2 || got["GenerateDataKey"] != 1 || got["Decrypt"] != 1 {
		t.Errorf("counted %v, want one GenerateDataKey and one Decrypt (the key's creation is not the test's)", got)
	}
	calls.Reset()
	if got := calls.Snapshot(); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}

	// The SDK's client counts by its middleware.
	sdk := awstest.MustKMSClient(t, calls.KMS)
	if _, err := sdk.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: key.CiphertextBlob, KeyId: aws.String(keyID), EncryptionContext: encCtx}); err != nil {
		t.Fatal(err)
	}
	if got := calls.Snapshot(); len(got) != 1 || got["Decrypt"] != 1 {
		t.Errorf("the SDK's client counted %v, want one Decrypt", got)
	}
}

func TestEachTestGetsItsOwnKey(t *testing.T) {
	_, a := awstest.MustKMSKey(t)
	_, b := awstest.MustKMSKey(t)
	if a == b {
		t.Fatalf("two keys with one id %s", a)
	}
}

// StartMoto sets MOTO_ENDPOINT; t.Setenv puts the binary's own back after.
func TestStartMotoServesOnLoopbackUntilStopped(t *testing.T) {
	t.Setenv(awstest.EndpointEnv, os.Getenv(awstest.EndpointEnv))
	stop, err := awstest.StartMoto()
	if err != nil {
		t.Fatal(err)
	}
	endpoint := os.Getenv(awstest.EndpointEnv)
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("moto at %q, want 127.0.0.1", endpoint)
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(endpoint + "/moto-api/config")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	stop()
	stop() // twice is harmless
	if resp, err := client.Get(endpoint + "/moto-api/config"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("moto still answers after stop")
	}
}

func TestWithoutTheVenvStartMotoSaysHowToInstallIt(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scripts", "ensure-deps.sh"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(awstest.EndpointEnv, os.Getenv(awstest.EndpointEnv))
	t.Chdir(root)
	_, err := awstest.StartMoto()
	if err == nil || !strings.Contains(err.Error(), "scripts/ensure-deps.sh python") {
		t.Fatalf("StartMoto = %v, want an error saying to run scripts/ensure-deps.sh python", err)
	}
}

func TestAMotoThatDiesAtStartIsReportedWithWhatItSaid(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, ".venv", "bin")
	for _, dir := range []string{filepath.Join(root, "scripts"), bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(root, "scripts", "ensure-deps.sh"): "",
		filepath.Join(bin, "moto_server"):                "",
		filepath.Join(bin, "python"):                     "#!/bin/sh\necho 'ModuleNotFoundError: No module named moto' >&2\nexit 1\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(awstest.EndpointEnv, os.Getenv(awstest.EndpointEnv))
	t.Chdir(root)
	_, err := awstest.StartMoto()
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "No module named moto") {
		t.Fatalf("StartMoto = %v, want moto's own words on why it stopped", err)
	}
}
