package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

var ctx = context.Background()

// fixedNow is the verifying clock of these tests.
var fixedNow = time.Unix(1795800000, 0).UTC()

// signature is the contract's signature, computed here by hand rather than
// with webhooks.Sign, so a mistake in Sign cannot hide in both.
func signature(secret string, t int64, body string) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(h.Sum(nil)))
}

type fixture struct {
	store   *memoryStore
	service *webhooks.Secrets
}

func newFixture(t *testing.T) fixture {
	store := newMemoryStore()
	return fixture{store: store, service: webhooks.NewSecrets(store, mustLocalSealer(t))}
}

// mustWebhookWorkflow makes a webhook workflow of account and its secret.
func (f fixture) mustWebhookWorkflow(t *testing.T, account string) (workflowID, secret string) {
	t.Helper()
	workflowID = ids.New(ids.PrefixWorkflow, time.Now())
	f.store.setTrigger(account, workflowID, "webhook")
	secret, err := f.service.Create(ctx, account, workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return workflowID, secret
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	workflowID, secret := f.mustWebhookWorkflow(t, "acct_a")
	otherWorkflowID, otherSecret := f.mustWebhookWorkflow(t, "acct_b")
	body := `{"orderId":"o_1","total":250}`
	now := fixedNow.Unix()
	tolerance := int64(webhooks.SignatureTolerance / time.Second)
	goodV1 := signature(secret, now, body)[len(fmt.Sprintf("t=%d,v1=", now)):]

	tests := []struct {
		name       string
		workflowID string
		header     string
		body       string
		wantErr    error
	}{
		{"a good signature is accepted", workflowID, signature(secret, now, body), body, nil},
		{"webhooks.Sign makes the same signature", workflowID, webhooks.Sign(secret, fixedNow, []byte(body)), body, nil},
		{"a signature 5 minutes old is accepted", workflowID, signature(secret, now-tolerance, body), body, nil},
		{"a signature 5 minutes ahead is accepted", workflowID, signature(secret, now+tolerance, body), body, nil},
		{"fields in the other order and spaces around them are accepted", workflowID, fmt.Sprintf(" v1=%s , t=%d ", goodV1, now), body, nil},
		{"upper-case hex is accepted", workflowID, fmt.Sprintf("t=%d,v1=%s", now, strings.ToUpper(goodV1)), body, nil},
		{"a wrong secret is refused", workflowID, signature(webhooks.SecretPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now, body), body, webhooks.ErrBadSignature},
		{"the secret without its prefix is refused", workflowID, signature(strings.TrimPrefix(secret, webhooks.SecretPrefix), now, body), body, webhooks.ErrBadSignature},
		{"a tampered body is refused", workflowID, signature(secret, now, body), strings.Replace(body, "250", "2500", 1), webhooks.ErrBadSignature},
		{"a body with a byte added is refused", workflowID, signature(secret, now, body), body + " ", webhooks.ErrBadSignature},
		{"a t changed after signing is refused", workflowID, fmt.Sprintf("t=%d,v1=%s", now+1, goodV1), body, webhooks.ErrBadSignature},
		{"a signature over 5 minutes old is refused", workflowID, signature(secret, now-tolerance-1, body), body, webhooks.ErrBadSignature},
		{"a signature over 5 minutes ahead is refused", workflowID, signature(secret, now+tolerance+1, body), body, webhooks.ErrBadSignature},
		{"a signature an hour old is refused", workflowID, signature(secret, now-3600, body), body, webhooks.ErrBadSignature},
		{"another workflow's secret is refused", workflowID, signature(otherSecret, now, body), body, webhooks.ErrBadSignature},
		{"a secret is refused on another workflow", otherWorkflowID, signature(secret, now, body), body, webhooks.ErrBadSignature},
		{"a workflow without a secret is no webhook", ids.New(ids.PrefixWorkflow, fixedNow), signature(secret, now, body), body, webhooks.ErrNoWebhook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			account, err := f.service.Verify(ctx, tt.workflowID, tt.header, []byte(tt.body), fixedNow)
			if !errors.Is(err, tt.wantErr) || (err != nil && err != tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			wantAccount := ""
			if tt.wantErr == nil {
				wantAccount = "acct_a"
			}
			if account != wantAccount {
				t.Fatalf("account %q, want %q", account, wantAccount)
			}
		})
	}
	t.Run("the two errors are told apart and carry the receiving route's statuses", func(t *testing.T) {
		if errors.Is(webhooks.ErrNoWebhook, webhooks.ErrBadSignature) || errors.Is(webhooks.ErrNoWebhook, domain.ErrNotFound) {
			t.Fatal("ErrNoWebhook is not distinct")
		}
		if webhooks.ErrNoWebhook.Code.Status() != 404 || webhooks.ErrBadSignature.Code.Status() != 401 {
			t.Fatalf("statuses %d and %d", webhooks.ErrNoWebhook.Code.Status(), webhooks.ErrBadSignature.Code.Status())
		}
	})
}

func TestMalformedHeadersAreRefusedWithoutARead(t *testing.T) {
	f := newFixture(t)
	workflowID, secret := f.mustWebhookWorkflow(t, "acct_a")
	body := `{}`
	now := fixedNow.Unix()
	good := signature(secret, now, body)
	v1 := good[strings.Index(good, "v1=")+3:]
	for _, header := range []string{
		"",
		" ",
		",",
		fmt.Sprintf("t=%d", now),
		"v1=" + v1,
		fmt.Sprintf("t=%d,v1=%s,", now, v1),
		fmt.Sprintf("t=%d;v1=%s", now, v1),
		fmt.Sprintf("t=%d,v1=%s,v1=%s", now, v1, v1),
		fmt.Sprintf("t=%d,t=%d,v1=%s", now, now, v1),
		fmt.Sprintf("t=%d,v1=%s,v0=%s", now, v1, v1),
		fmt.Sprintf("T=%d,v1=%s", now, v1),
		fmt.Sprintf("t=%d,V1=%s", now, v1),
		fmt.Sprintf("t = %d,v1=%s", now, v1),
		fmt.Sprintf("t=,v1=%s", v1),
		fmt.Sprintf("t=abc,v1=%s", v1),
		fmt.Sprintf("t=-%d,v1=%s", now, v1),
		fmt.Sprintf("t=+%d,v1=%s", now, v1),
		fmt.Sprintf("t=0%d,v1=%s", now, v1),
		fmt.Sprintf("t=0,v1=%s", v1),
		fmt.Sprintf("t=%d.5,v1=%s", now, v1),
		fmt.Sprintf("t=1e9,v1=%s", v1),
		fmt.Sprintf("t=99999999999999999999,v1=%s", v1),
		fmt.Sprintf("t=%d,v1=", now),
		fmt.Sprintf("t=%d,v1=%s", now, v1[:63]),
		fmt.Sprintf("t=%d,v1=%s0", now, v1),
		fmt.Sprintf("t=%d,v1=%sz", now, v1[:63]),
		fmt.Sprintf("t=%d,v1=%s", now, base64.StdEncoding.EncodeToString([]byte(v1[:32]))),
		fmt.Sprintf("t=%d,v1=%s", now, v1) + strings.Repeat(" ", 300),
		fmt.Sprintf("t=%d\x00,v1=%s", now, v1),
		"Bearer " + secret,
		secret,
	} {
		t.Run(fmt.Sprintf("%q", header), func(t *testing.T) {
			if _, err := webhooks.ParseSignatureHeader(header); err == nil {
				t.Fatal("parsed")
			}
			_, before := f.store.count()
			account, err := f.service.Verify(ctx, workflowID, header, []byte(body), fixedNow)
			if err != webhooks.ErrBadSignature || account != "" {
				t.Fatalf("Verify = %q, %v; want ErrBadSignature", account, err)
			}
			if _, after := f.store.count(); after != before {
				t.Fatal("a refused header cost a read")
			}
		})
	}
	t.Run("a stale header costs no read either", func(t *testing.T) {
		_, before := f.store.count()
		if _, err := f.service.Verify(ctx, workflowID, signature(secret, now-3600, body), []byte(body), fixedNow); err != webhooks.ErrBadSignature {
			t.Fatal(err)
		}
		if _, after := f.store.count(); after != before {
			t.Fatal("a stale header cost a read")
		}
	})
}

func TestPreviousSecretDuringTheGracePeriod(t *testing.T) {
	f := newFixture(t)
	workflowID, old := f.mustWebhookWorkflow(t, "acct_a")
	body := []byte(`{"event":"paid"}`)
	verifyAt := func(secret string, at time.Time) error {
		_, err := f.service.Verify(ctx, workflowID, webhooks.Sign(secret, at, body), body, at)
		return err
	}

	rolled, until, err := f.service.Roll(ctx, "acct_a", workflowID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("previous valid until %v, %v from now; want an hour", until, d)
	}
	if rolled == old {
		t.Fatal("the roll gave the same secret")
	}
	t.Run("the old secret verifies within the grace period", func(t *testing.T) {
		if err := verifyAt(old, until.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the old secret is refused when the grace period ends", func(t *testing.T) {
		if err := verifyAt(old, until); err != webhooks.ErrBadSignature {
			t.Fatalf("at the end: %v", err)
		}
		if err := verifyAt(old, until.Add(time.Hour)); err != webhooks.ErrBadSignature {
			t.Fatalf("an hour later: %v", err)
		}
	})
	t.Run("the new secret verifies throughout", func(t *testing.T) {
		for _, at := range []time.Time{time.Now(), until.Add(-time.Second), until.Add(24 * time.Hour)} {
			if err := verifyAt(rolled, at); err != nil {
				t.Fatalf("at %v: %v", at, err)
			}
		}
	})
	t.Run("a second roll keeps only the secret it replaces", func(t *testing.T) {
		third, _, err := f.service.Roll(ctx, "acct_a", workflowID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := verifyAt(old, now); err != webhooks.ErrBadSignature {
			t.Fatalf("the first secret after two rolls: %v", err)
		}
		if err := verifyAt(rolled, now); err != nil {
			t.Fatalf("the second secret in its grace period: %v", err)
		}
		if err := verifyAt(third, now); err != nil {
			t.Fatalf("the third secret: %v", err)
		}
		rolled = third
	})
	t.Run("a roll with no grace period stops the old secret at once", func(t *testing.T) {
		fourth, until, err := f.service.Roll(ctx, "acct_a", workflowID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !until.IsZero() {
			t.Fatalf("previous valid until %v, want zero", until)
		}
		now := time.Now()
		if err := verifyAt(rolled, now); err != webhooks.ErrBadSignature {
			t.Fatalf("the replaced secret: %v", err)
		}
		if err := verifyAt(fourth, now); err != nil {
			t.Fatalf("the new secret: %v", err)
		}
	})
	t.Run("a create replaces every secret at once", func(t *testing.T) {
		fifth, err := f.service.Create(ctx, "acct_a", workflowID)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyAt(fifth, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after Delete the workflow is no webhook", func(t *testing.T) {
		if err := f.service.Delete(ctx, "acct_a", workflowID); err != nil {
			t.Fatal(err)
		}
		if err := verifyAt(rolled, time.Now()); err != webhooks.ErrNoWebhook {
			t.Fatalf("after delete: %v", err)
		}
		if err := f.service.Delete(ctx, "acct_a", workflowID); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
	})
}

func TestRollRules(t *testing.T) {
	f := newFixture(t)
	workflowID, _ := f.mustWebhookWorkflow(t, "acct_a")
	manual := ids.New(ids.PrefixWorkflow, time.Now())
	f.store.setTrigger("acct_a", manual, "manual")
	for _, tt := range []struct {
		name       string
		account    string
		workflowID string
		grace      time.Duration
		code       domain.Code
	}{
		{"another account's workflow is not found", "acct_b", workflowID, 0, domain.CodeNotFound},
		{"a workflow of the account on another trigger is a conflict", "acct_a", manual, 0, domain.CodeConflict},
		{"a missing workflow is not found", "acct_a", ids.New(ids.PrefixWorkflow, time.Now()), 0, domain.CodeNotFound},
		{"an id that cannot be a workflow's is not found", "acct_a", "wf_nope", 0, domain.CodeNotFound},
		{"a negative grace period is invalid", "acct_a", workflowID, -time.Second, domain.CodeValidation},
		{"a grace period over 7 days is invalid", "acct_a", workflowID, webhooks.MaxGracePeriod + time.Second, domain.CodeValidation},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items, _ := f.store.count()
			before := f.store.items[workflowID]
			_, _, err := f.service.Roll(ctx, tt.account, tt.workflowID, tt.grace)
			if domain.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if after, _ := f.store.count(); after != items || string(f.store.items[workflowID].Current.Ciphertext) != string(before.Current.Ciphertext) {
				t.Fatal("a refused roll changed a secret")
			}
		})
	}
	t.Run("the longest grace period is allowed", func(t *testing.T) {
		if _, until, err := f.service.Roll(ctx, "acct_a", workflowID, webhooks.MaxGracePeriod); err != nil || time.Until(until) < webhooks.MaxGracePeriod-time.Minute {
			t.Fatalf("until %v, err %v", until, err)
		}
	})
}

// TestASealedSecretMovedToAnotherWorkflowDoesNotOpen copies one workflow's
// sealed secret onto another's item: the encryption context names the
// workflow, so it does not open there and nothing verifies.
func TestASealedSecretMovedToAnotherWorkflowDoesNotOpen(t *testing.T) {
	f := newFixture(t)
	from, secret := f.mustWebhookWorkflow(t, "acct_a")
	to, _ := f.mustWebhookWorkflow(t, "acct_a")
	f.store.mu.Lock()
	moved := f.store.items[to]
	moved.Current = f.store.items[from].Current
	f.store.items[to] = moved
	f.store.mu.Unlock()
	body := []byte(`{}`)
	account, err := f.service.Verify(ctx, to, webhooks.Sign(secret, fixedNow, body), body, fixedNow)
	if !errors.Is(err, secrets.ErrOpen) || account != "" {
		t.Fatalf("Verify = %q, %v; want an error wrapping secrets.ErrOpen", account, err)
	}
}
