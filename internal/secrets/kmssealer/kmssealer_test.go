package kmssealer_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/workflowsapi/workflows/internal/awskms"
	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
)

// What only the KMS sealer does: its calls to KMS, its budget, and FromEnv.
// The envelope's properties (a wrong context, a changed byte, fresh values)
// are internal/secrets' tests, run there against this sealer too.

// A credential as a connection would hold it: recognisable in any bytes.
var secret = []byte(`{"token":"sk_live_PLAINTEXT_MARKER_4242"}`)

func context1() map[string]string {
	return map[string]string{"account": "acc_1", "connection": "con_1"}
}

func TestKMSMakesOneCallPerSealAndPerOpenAndNoneForGarbage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := &awstest.Calls{}
	client, keyID := awstest.MustKMSKey(t, calls)
	sealer := kmssealer.NewKMS(client, keyID)
	local, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	locallySealed, err := local.Seal(ctx, secret, context1())
	if err != nil {
		t.Fatal(err)
	}

	var sealed secrets.Sealed
	steps := []struct {
		name string
		do   func() error
		want map[string]int
	}{
		{"Seal", func() (err error) { sealed, err = sealer.Seal(ctx, secret, context1()); return err }, map[string]int{"GenerateDataKey": 1}},
		{"Open", func() error { _, err := sealer.Open(ctx, sealed, context1()); return err }, map[string]int{"Decrypt": 1}},
		{"Open with a wrong context", func() error {
			if _, err := sealer.Open(ctx, sealed, map[string]string{"account": "acc_2", "connection": "con_1"}); !errors.Is(err, secrets.ErrOpen) {
				return err
			}
			return nil
		}, map[string]int{"Decrypt": 1}},
		{"Open with a malformed nonce", func() error {
			s := sealed
			s.Nonce = s.Nonce[:4]
			if _, err := sealer.Open(ctx, s, context1()); !errors.Is(err, secrets.ErrOpen) {
				return err
			}
			return nil
		}, map[string]int{}},
		{"Open of a locally sealed value", func() error {
			if _, err := sealer.Open(ctx, locallySealed, context1()); !errors.Is(err, secrets.ErrOpen) {
				return err
			}
			return nil
		}, map[string]int{}},
	}
	for _, step := range steps {
		calls.Reset()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := calls.Snapshot()
		if len(got) != len(step.want) {
			t.Errorf("%s made calls %v, want %v", step.name, got, step.want)
			continue
		}
		for op, n := range step.want {
			if got[op] != n {
				t.Errorf("%s made calls %v, want %v", step.name, got, step.want)
			}
		}
	}
}

// hungKMS is a KMS client for an endpoint on 127.0.0.1 that accepts
// connections and never answers, and the count of connections made to it
// (one per attempt, since a hung connection is never reused).
func hungKMS(t *testing.T) (*awskms.Client, *atomic.Int32) {
	t.Helper()
	endpoint, accepted := awstest.HungEndpoint(t)
	client, err := awskms.New(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}, awskms.Options{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return client, accepted
}

func TestAHungKMSFailsWithinTheBudgetAfterRetrying(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		budget       []kmssealer.KMSOption
		call         time.Duration
		wantAttempts int32
	}{
		// The deployed budget: two 1 s attempts fill the 2 s call.
		{"the default budget", nil, kmssealer.DefaultBudget.Call, 2},
		{"a budget of three short attempts", []kmssealer.KMSOption{kmssealer.WithBudget(kmssealer.Budget{Call: 2 * time.Second, Attempt: 150 * time.Millisecond, MaxAttempts: 3})}, 2 * time.Second, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, accepted := hungKMS(t)
			sealer := kmssealer.NewKMS(client, "alias/hung", c.budget...)
			start := time.Now()
			_, err := sealer.Seal(context.Background(), secret, context1())
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Seal against a hung KMS succeeded")
			}
			if elapsed > c.call+500*time.Millisecond {
				t.Errorf("Seal gave up after %v, its budget is %v", elapsed, c.call)
			}
			if got := accepted.Load(); got != c.wantAttempts {
				t.Errorf("%d attempts, want %d", got, c.wantAttempts)
			}
		})
	}
}

func TestACallersEarlierDeadlineWins(t *testing.T) {
	t.Parallel()
	client, _ := hungKMS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := kmssealer.NewKMS(client, "alias/hung").Seal(ctx, secret, context1()); err == nil {
		t.Fatal("Seal against a hung KMS succeeded")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Seal took %v past a 200ms deadline", elapsed)
	}
}

// FromEnv's tests change the process environment, so they do not run in
// parallel.
func TestFromEnvChoosesKMSWhenAKeyIsNamedAndTheLocalKeyOtherwise(t *testing.T) {
	ctx := context.Background()
	_, keyID := awstest.MustKMSKey(t)
	endpoint := awstest.Endpoint(t)
	cases := []struct {
		name      string
		env       map[string]string
		localDir  string
		wantLocal bool
		wantErr   bool
	}{
		{"no key id: the local key", map[string]string{"KMS_KEY_ID": ""}, t.TempDir(), true, false},
		{"no key id and no directory: an error", map[string]string{"KMS_KEY_ID": ""}, "", false, true},
		{"a key id and KMS_ENDPOINT: KMS there", map[string]string{"KMS_KEY_ID": keyID, "KMS_ENDPOINT": endpoint}, t.TempDir(), false, false},
		{"a key id and the SDK's AWS_ENDPOINT_URL_KMS: KMS there", map[string]string{
			"KMS_KEY_ID": keyID, "KMS_ENDPOINT": "", "AWS_ENDPOINT_URL_KMS": endpoint,
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		}, "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range []string{"KMS_ENDPOINT", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION",
				"AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
				t.Setenv(name, "")
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			sealer, err := kmssealer.FromEnv(ctx, c.localDir)
			if c.wantErr {
				if err == nil {
					t.Fatal("FromEnv succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, isLocal := sealer.(*secrets.Local); isLocal != c.wantLocal {
				t.Fatalf("FromEnv gave a %T", sealer)
			}
			sealed, err := sealer.Seal(ctx, secret, context1())
			if err != nil {
				t.Fatal(err)
			}
			if !c.wantLocal && sealed.KeyID != keyID {
				t.Errorf("sealed under %q, want %q", sealed.KeyID, keyID)
			}
			if got, err := sealer.Open(ctx, sealed, context1()); err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}
