package kmsmac_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/signaltoken/kmsmac"
)

// What only the KMS MAC does: GenerateMac under the signal key, and
// FromEnv. The token's properties are internal/signaltoken's tests.

// step is one wait_for_signal step's identity, as signaltoken.Token takes it.
type step struct{ account, run, step, nonce string }

var base = step{"acc_1", "run_1", "approve", strings.Repeat("n", 43)}

func (s step) token(t *testing.T, mac signaltoken.MAC) string {
	t.Helper()
	token, err := signaltoken.Token(context.Background(), mac, s.account, s.run, s.step, s.nonce)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func mustLocal(t *testing.T, dir string) signaltoken.MAC {
	t.Helper()
	mac, err := signaltoken.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

func TestTheKMSMACIsGenerateMacUnderTheSignalKey(t *testing.T) {
	client, keyARN := awstest.MustKMSClient(t), awstest.MustHMACKey(t)
	var calls awstest.Calls
	counted := awstest.MustKMS(t, &calls)
	mac := kmsmac.NewKMS(counted, keyARN)
	token := base.token(t, mac)
	if again := base.token(t, mac); again != token {
		t.Errorf("the same step gave %s, then %s", token, again)
	}
	if !signaltoken.Plausible(token) {
		t.Errorf("token %q is not Plausible", token)
	}
	if got := calls.Snapshot()["GenerateMac"]; got != 2 {
		t.Errorf("%d GenerateMac calls, want one per token: 2 (%v)", got, calls.Snapshot())
	}

	// KMS itself agrees that the token is its MAC of the message. So the
	// KMS MAC is the local one's function of signaltoken.Message under
	// another key, and what internal/signaltoken tests of the message (each
	// step its own, boundaries included) holds here too.
	sum, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := signaltoken.Message(base.account, base.run, base.step, base.nonce)
	ctx := context.Background()
	verified, err := client.VerifyMac(ctx, &kms.VerifyMacInput{
		KeyId: aws.String(keyARN), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: msg, Mac: sum,
	})
	if err != nil || !verified.MacValid {
		t.Fatalf("VerifyMac of the token: %+v, %v", verified, err)
	}
	other, _ := signaltoken.Message(base.account, base.run, "another", base.nonce)
	if verified, err := client.VerifyMac(ctx, &kms.VerifyMacInput{
		KeyId: aws.String(keyARN), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: other, Mac: sum,
	}); err == nil && verified.MacValid {
		t.Fatal("VerifyMac accepts the token for another step")
	}
	if (step{base.account, base.run, "another", base.nonce}).token(t, mac) == token {
		t.Error("another step got the same token")
	}

	// Another key makes other tokens.
	otherKey := awstest.MustHMACKey(t)
	if base.token(t, kmsmac.NewKMS(counted, otherKey)) == token {
		t.Error("two KMS keys made the same token")
	}
}

func TestTheKMSMACFailsWithoutTheKey(t *testing.T) {
	client := awstest.MustKMS(t)
	// A symmetric encryption key cannot make MACs, and a missing key is
	// missing: either way no token, and the error says KMS refused.
	_, encryptionKey := awstest.MustKMSKey(t)
	for name, keyID := range map[string]string{
		"an encryption key": encryptionKey,
		"no such key":       "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
	} {
		token, err := signaltoken.Token(context.Background(), kmsmac.NewKMS(client, keyID), base.account, base.run, base.step, base.nonce)
		if err == nil || !errors.Is(err, signaltoken.ErrMAC) || !strings.Contains(err.Error(), "GenerateMac") {
			t.Errorf("%s: token %q, err %v; want KMS's refusal", name, token, err)
		}
	}
}

func TestFromEnv(t *testing.T) {
	ctx := context.Background()
	t.Run("no key and no directory fails at start", func(t *testing.T) {
		t.Setenv(kmsmac.EnvKeyID, "")
		if _, err := kmsmac.FromEnv(ctx, ""); err == nil || !strings.Contains(err.Error(), kmsmac.EnvKeyID) {
			t.Fatalf("err = %v, want one naming %s", err, kmsmac.EnvKeyID)
		}
	})
	t.Run("no key: the local key under the directory", func(t *testing.T) {
		t.Setenv(kmsmac.EnvKeyID, "")
		dir := t.TempDir()
		mac, err := kmsmac.FromEnv(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if base.token(t, mac) != base.token(t, mustLocal(t, dir)) {
			t.Error("FromEnv's local MAC is not NewLocal's")
		}
	})
	t.Run("a key: KMS at KMS_ENDPOINT", func(t *testing.T) {
		keyARN := awstest.MustHMACKey(t)
		t.Setenv(kmsmac.EnvKeyID, keyARN)
		t.Setenv(kmsmac.EnvKMSEndpoint, awstest.Endpoint(t))
		dir := t.TempDir()
		mac, err := kmsmac.FromEnv(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := base.token(t, mac), base.token(t, kmsmac.NewKMS(awstest.MustKMS(t), keyARN)); got != want {
			t.Errorf("FromEnv's token %s, NewKMS's %s", got, want)
		}
		if _, err := os.Stat(filepath.Join(dir, signaltoken.LocalKeyFile)); err == nil {
			t.Error("a local key was made")
		}
	})
}
