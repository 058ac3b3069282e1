package webhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// notifyFixture is the notification secrets service on a memory store.
type notifyFixture struct {
	store   *memoryStore
	service *webhooks.Secrets
}

func newNotifyFixture(t *testing.T) notifyFixture {
	store := newMemoryStore()
	return notifyFixture{store: store, service: webhooks.NewNotifySecrets(store, mustLocalSealer(t))}
}

// mustNotifyWorkflow makes a workflow of account with notify, and its
// notification secret.
func (f notifyFixture) mustNotifyWorkflow(t *testing.T, account string) (workflowID, secret string) {
	t.Helper()
	workflowID = ids.New(ids.PrefixWorkflow, time.Now())
	f.store.setHead(account, workflowID, webhooks.Head{TriggerType: "manual", HasNotify: true})
	secret, err := f.service.Create(ctx, account, workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return workflowID, secret
}

func (f notifyFixture) signing(t *testing.T, account, workflowID string, at time.Time) []string {
	t.Helper()
	signing, err := f.service.SigningSecrets(ctx, account, workflowID, at)
	if err != nil {
		t.Fatalf("SigningSecrets: %v", err)
	}
	return signing
}

// Both kinds of secret are their prefix and 32 random bytes in unpadded
// base64url, a new one for each workflow.
func TestSecretFormats(t *testing.T) {
	for _, kind := range []struct {
		name, prefix string
		length       int
		make         func(t *testing.T) string
	}{
		{"a webhook signing secret", webhooks.SecretPrefix, 49, func(t *testing.T) string {
			_, secret := newFixture(t).mustWebhookWorkflow(t, "acct_a")
			return secret
		}},
		{"a notification secret", webhooks.NotifySecretPrefix, 48, func(t *testing.T) string {
			_, secret := newNotifyFixture(t).mustNotifyWorkflow(t, "acct_a")
			return secret
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			secret, other := kind.make(t), kind.make(t)
			random, ok := strings.CutPrefix(secret, kind.prefix)
			raw, err := base64.RawURLEncoding.DecodeString(random)
			if !ok || err != nil || len(raw) != 32 || len(secret) != kind.length {
				t.Fatalf("secret %q is not %s and 32 bytes in unpadded base64url", secret, kind.prefix)
			}
			if secret == other {
				t.Fatal("two workflows got the same secret")
			}
		})
	}
}

func TestSigningSecrets(t *testing.T) {
	f := newNotifyFixture(t)
	workflowID, first := f.mustNotifyWorkflow(t, "acct_a")

	t.Run("a new workflow signs with its one secret", func(t *testing.T) {
		if got := f.signing(t, "acct_a", workflowID, time.Now()); !slices.Equal(got, []string{first}) {
			t.Fatalf("got %d secrets, want the one made", len(got))
		}
	})
	second, until, err := f.service.Roll(ctx, "acct_a", workflowID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("during a roll's grace period it signs with the new one first, then the old one", func(t *testing.T) {
		for _, at := range []time.Time{time.Now(), until.Add(-time.Millisecond)} {
			if got := f.signing(t, "acct_a", workflowID, at); !slices.Equal(got, []string{second, first}) {
				t.Fatalf("at %v: got %d secrets, want the new one and the old one, in that order", at, len(got))
			}
		}
	})
	t.Run("once the grace period is over it signs with the new one alone", func(t *testing.T) {
		for _, at := range []time.Time{until, until.Add(time.Hour)} {
			if got := f.signing(t, "acct_a", workflowID, at); !slices.Equal(got, []string{second}) {
				t.Fatalf("at %v: got %d secrets, want the new one only", at, len(got))
			}
		}
	})
	t.Run("a roll without grace period drops the old one at once", func(t *testing.T) {
		third, _, err := f.service.Roll(ctx, "acct_a", workflowID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.signing(t, "acct_a", workflowID, time.Now()); !slices.Equal(got, []string{third}) {
			t.Fatalf("got %d secrets, want the newest only", len(got))
		}
	})
	t.Run("another account's workflow, a missing one, an id that cannot be one and a deleted one are not found", func(t *testing.T) {
		deleted, _ := f.mustNotifyWorkflow(t, "acct_a")
		if err := f.service.Delete(ctx, "acct_a", deleted); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ name, account, workflowID string }{
			{"another account's", "acct_b", workflowID},
			{"missing", "acct_a", ids.New(ids.PrefixWorkflow, time.Now())},
			{"not an id", "acct_a", "wf_nope"},
			{"deleted", "acct_a", deleted},
		} {
			got, err := f.service.SigningSecrets(ctx, tt.account, tt.workflowID, time.Now())
			if !errors.Is(err, domain.ErrNotFound) || got != nil {
				t.Errorf("%s: %d secrets, %v; want domain.ErrNotFound", tt.name, len(got), err)
			}
		}
	})
}

func TestNotifyRollRules(t *testing.T) {
	f := newNotifyFixture(t)
	workflowID, _ := f.mustNotifyWorkflow(t, "acct_a")
	without := ids.New(ids.PrefixWorkflow, time.Now())
	f.store.setHead("acct_a", without, webhooks.Head{TriggerType: "webhook"})

	t.Run("a workflow without notify is a conflict that says so, and gets no secret", func(t *testing.T) {
		_, _, err := f.service.Roll(ctx, "acct_a", without, 0)
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.CodeConflict || e.Message != "The workflow has no notify: it has no notification secret to roll" {
			t.Fatalf("err = %v, want the CONFLICT", err)
		}
		if _, err := f.store.Get(ctx, without); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("the workflow without notify has a secret item: %v", err)
		}
	})
	for _, tt := range []struct {
		name, account, workflowID string
	}{
		{"another account's workflow is not found", "acct_b", workflowID},
		{"a missing workflow is not found", "acct_a", ids.New(ids.PrefixWorkflow, time.Now())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := f.service.Roll(ctx, tt.account, tt.workflowID, 0); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Fatalf("err = %v, want NOT_FOUND", err)
			}
		})
	}
	t.Run("a workflow with notify whose secret item was lost gets one by the roll", func(t *testing.T) {
		lost := ids.New(ids.PrefixWorkflow, time.Now())
		f.store.setHead("acct_a", lost, webhooks.Head{HasNotify: true})
		secret, _, err := f.service.Roll(ctx, "acct_a", lost, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.signing(t, "acct_a", lost, time.Now()); !slices.Equal(got, []string{secret}) {
			t.Fatalf("got %d secrets, want the rolled one", len(got))
		}
	})
}

// TestTheTwoKindsDoNotOpenAsEachOther moves a sealed secret of each kind
// into the other kind's store: the encryption context names the purpose,
// so neither opens there (a miswired store fails closed).
func TestTheTwoKindsDoNotOpenAsEachOther(t *testing.T) {
	sealer := mustLocalSealer(t)
	hooks, notes := newMemoryStore(), newMemoryStore()
	webhookSecrets, notifySecrets := webhooks.NewSecrets(hooks, sealer), webhooks.NewNotifySecrets(notes, sealer)
	workflowID := ids.New(ids.PrefixWorkflow, time.Now())
	webhookSecret, err := webhookSecrets.Create(ctx, "acct_a", workflowID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notifySecrets.Create(ctx, "acct_a", workflowID); err != nil {
		t.Fatal(err)
	}
	hooks.items[workflowID], notes.items[workflowID] = notes.items[workflowID], hooks.items[workflowID]

	if _, err := notifySecrets.SigningSecrets(ctx, "acct_a", workflowID, time.Now()); !errors.Is(err, secrets.ErrOpen) {
		t.Errorf("a webhook secret in the notify store: %v, want an error wrapping secrets.ErrOpen", err)
	}
	body := []byte(`{}`)
	if _, err := webhookSecrets.Verify(ctx, workflowID, webhooks.Sign(webhookSecret, time.Now(), body), body, time.Now()); !errors.Is(err, secrets.ErrOpen) {
		t.Errorf("a notification secret in the webhook store: %v, want an error wrapping secrets.ErrOpen", err)
	}
}

func TestSignAll(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"run.succeeded"}`)
	at := fixedNow
	v1 := func(secret string) string {
		h := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(h, "%d.%s", at.Unix(), body)
		return hex.EncodeToString(h.Sum(nil))
	}
	t.Run("one v1 per secret, in the order given, after t", func(t *testing.T) {
		want := fmt.Sprintf("t=%d,v1=%s,v1=%s", at.Unix(), v1("nsec_new"), v1("nsec_old"))
		if got := webhooks.SignAll(at, body, "nsec_new", "nsec_old"); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("with one secret it is Sign's header", func(t *testing.T) {
		if got, want := webhooks.SignAll(at, body, "whsec_x"), webhooks.Sign("whsec_x", at, body); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("a receiver holding either secret finds its v1", func(t *testing.T) {
		header := webhooks.SignAll(at, body, "nsec_new", "nsec_old")
		tField, rest, _ := strings.Cut(header, ",")
		for i, v := range strings.Split(rest, ",") {
			sig, err := webhooks.ParseSignatureHeader(tField + "," + v)
			if err != nil || !sig.FreshAt(at) || !sig.Matches([]byte([]string{"nsec_new", "nsec_old"}[i]), body) {
				t.Fatalf("v1 number %d does not check with its secret (%v)", i+1, err)
			}
		}
	})
}
