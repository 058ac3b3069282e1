// Package webhooks owns the life of a webhook workflow's signing secret:
// made when a workflow becomes a webhook one (Create, called by the workflow
// routes), dropped when it stops being one (Delete), rolled with a grace
// period (Roll, POST /workflows/{id}/webhook/roll), and checked against a
// delivery's X-Webhook-Signature (Verify, for the receiving route).
//
// A secret is "whsec_" and the unpadded base64url encoding of 32 random bytes
// (49 characters). The HMAC key is the whole secret string as shown, prefix
// included, so a sender signs with exactly what it was given. The plaintext
// is shown once, in the answer that made it, and stored only sealed
// (internal/secrets) under the encryption context {"account", "workflow",
// "purpose": "webhook"}, so a sealed secret copied onto another workflow or
// account does not open there.
//
// It is a leaf feature: it imports no other feature, so the workflow routes
// can make secrets without linking runs (see routes.FeatureLinks).
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// SecretPrefix begins every webhook signing secret, so a leaked one is
// recognisable (by people and secret scanners) for what it is.
const SecretPrefix = "whsec_"

// secretBytes is the random part of a secret: 256 bits, the HMAC-SHA256
// block of security.
const secretBytes = 32

// MaxGracePeriod bounds how long a rolled secret keeps working: 7 days, the
// contract's 604800 seconds.
const MaxGracePeriod = 7 * 24 * time.Hour

// ErrNoWebhook is what Verify fails with for a workflow that has no signing
// secret: not a webhook workflow, deleted, or never existed. The receiving
// route answers it 404, as the contract asks.
var ErrNoWebhook = &domain.Error{Code: domain.CodeNotFound, Message: "The resource was not found"}

// ErrBadSignature is what Verify fails with for a missing, malformed, stale
// or wrong signature. The receiving route answers it 401; which of these it
// was is not told, so a caller learns nothing by trying.
var ErrBadSignature = &domain.Error{Code: domain.CodeUnauthorized, Message: "Invalid or stale webhook signature"}

// Record is a workflow's secret item as stored: sealed secrets only.
type Record struct {
	WorkflowID string
	AccountID  string
	Current    secrets.Sealed
	// Previous is the secret Current replaced in a roll with a grace period;
	// nil when there is none. It is accepted before PreviousExpiresAt.
	Previous          *secrets.Sealed
	PreviousExpiresAt time.Time
	CreatedAt         time.Time
}

// Store keeps webhook secret items (PK WEBHOOK#<workflow id>, SK WEBHOOK; see
// internal/store/keys.go) and reads the one attribute of a workflow's head
// this feature needs. Every method returns other errors only for a failure
// to reach the store.
type Store interface {
	// Put stores a workflow's secret item, replacing one of the same
	// account; a workflow's item of another account is left alone and
	// domain.ErrNotFound returned.
	Put(ctx context.Context, rec Record) error
	// Delete deletes a workflow's secret item if it is the account's. An
	// absent item (or another account's) is not an error: there is nothing
	// of this account's to delete.
	Delete(ctx context.Context, account, workflowID string) error
	// WorkflowTrigger returns the trigger type of the account's workflow
	// (the head's triggerType), domain.ErrNotFound if the account has no
	// such workflow.
	WorkflowTrigger(ctx context.Context, account, workflowID string) (string, error)
	// Roll makes current the workflow's secret. If keepPreviousUntil is not
	// zero the secret it replaces stays valid until then; otherwise no
	// previous secret is kept. It returns domain.ErrNotFound if the item is
	// another account's.
	Roll(ctx context.Context, account, workflowID string, current secrets.Sealed, keepPreviousUntil, at time.Time) error
	// Get returns a workflow's secret item, domain.ErrNotFound if it has none.
	Get(ctx context.Context, workflowID string) (Record, error)
}

// Secrets makes, rolls, drops and checks webhook signing secrets.
type Secrets struct {
	store  Store
	sealer secrets.Sealer
	now    func() time.Time
}

// NewSecrets returns the secrets service on store, sealing with sealer.
func NewSecrets(store Store, sealer secrets.Sealer) *Secrets {
	return &Secrets{store: store, sealer: sealer, now: time.Now}
}

// encryptionContext binds a sealed secret to its account and workflow, and
// to this purpose, so it cannot be passed off as a connection's credentials.
func encryptionContext(account, workflowID string) map[string]string {
	return map[string]string{"account": account, "workflow": workflowID, "purpose": "webhook"}
}

// newSecret makes a secret and seals it for the workflow.
func (s *Secrets) newSecret(ctx context.Context, account, workflowID string) (string, secrets.Sealed, error) {
	raw := make([]byte, secretBytes)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (it crashes the program instead)
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sealed, err := s.sealer.Seal(ctx, []byte(secret), encryptionContext(account, workflowID))
	if err != nil {
		return "", secrets.Sealed{}, fmt.Errorf("webhooks: seal the secret of %s: %w", workflowID, err)
	}
	return secret, sealed, nil
}

// Create makes (or replaces) the signing secret of the account's workflow and
// returns it: the caller shows it once. Any earlier secret, previous one
// included, stops working at once.
func (s *Secrets) Create(ctx context.Context, account, workflowID string) (string, error) {
	secret, sealed, err := s.newSecret(ctx, account, workflowID)
	if err != nil {
		return "", err
	}
	rec := Record{WorkflowID: workflowID, AccountID: account, Current: sealed, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.Put(ctx, rec); err != nil {
		return "", err
	}
	return secret, nil
}

// Delete drops the signing secret of the account's workflow; a workflow
// without one is not an error.
func (s *Secrets) Delete(ctx context.Context, account, workflowID string) error {
	return s.store.Delete(ctx, account, workflowID)
}

// errGracePeriod refuses a grace period outside 0 to MaxGracePeriod, naming
// the request field that gives it.
func errGracePeriod() error {
	return domain.Invalid(domain.FieldError{Field: "gracePeriodSeconds", Message: fmt.Sprintf("must be an integer from 0 to %d", int64(MaxGracePeriod/time.Second))})
}

// Roll gives the account's webhook workflow a new secret and returns it. The
// one it replaces keeps working for grace (until previousValidUntil, which
// is zero for a grace of 0: the old secret stops at once). A secret kept from
// an earlier roll is dropped: at most two secrets work at any time. A
// workflow that is not the account's, or absent, is domain.ErrNotFound; one
// of the account's on another trigger is a CONFLICT (it exists, and has no
// secret to roll); a grace outside 0 to MaxGracePeriod is a
// VALIDATION_ERROR.
func (s *Secrets) Roll(ctx context.Context, account, workflowID string, grace time.Duration) (secret string, previousValidUntil time.Time, err error) {
	if grace < 0 || grace > MaxGracePeriod {
		return "", time.Time{}, errGracePeriod()
	}
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return "", time.Time{}, domain.ErrNotFound
	}
	trigger, err := s.store.WorkflowTrigger(ctx, account, workflowID)
	if err != nil {
		return "", time.Time{}, err
	}
	if trigger != triggerWebhook {
		return "", time.Time{}, errNotAWebhookWorkflow(trigger)
	}
	secret, sealed, err := s.newSecret(ctx, account, workflowID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if grace > 0 {
		// Stored in milliseconds; truncating here makes what the caller is
		// told exactly what Verify will hold the previous secret to.
		previousValidUntil = now.Add(grace).Truncate(time.Millisecond)
	}
	if err := s.store.Roll(ctx, account, workflowID, sealed, previousValidUntil, now); err != nil {
		return "", time.Time{}, err
	}
	return secret, previousValidUntil, nil
}

// Verify checks a delivery to a workflow's webhook: signatureHeader is its
// X-Webhook-Signature, body its raw bytes, now the time it arrived. It
// returns the account that owns the workflow. The header is read and its
// time checked first, so a malformed or stale one costs no read; then the
// workflow's secret item is read (ErrNoWebhook if it has none) and the
// signature compared in constant time with the current secret, and with the
// previous one while its grace period lasts. Anything but a match is
// ErrBadSignature. Any other error is a failure to read or open the secret.
//
// It opens the sealed secrets (KMS Decrypt in AWS): only the receiving route
// calls it.
func (s *Secrets) Verify(ctx context.Context, workflowID, signatureHeader string, body []byte, now time.Time) (account string, err error) {
	sig, err := ParseSignatureHeader(signatureHeader)
	if err != nil {
		return "", ErrBadSignature
	}
	if !sig.FreshAt(now) {
		return "", ErrBadSignature
	}
	rec, err := s.store.Get(ctx, workflowID)
	if errors.Is(err, domain.ErrNotFound) {
		return "", ErrNoWebhook
	}
	if err != nil {
		return "", err
	}
	candidates := []secrets.Sealed{rec.Current}
	if rec.Previous != nil && now.Before(rec.PreviousExpiresAt) {
		candidates = append(candidates, *rec.Previous)
	}
	for _, sealed := range candidates {
		secret, err := s.sealer.Open(ctx, sealed, encryptionContext(rec.AccountID, workflowID))
		if err != nil {
			return "", fmt.Errorf("webhooks: open the secret of %s: %w", workflowID, err)
		}
		ok := sig.Matches(secret, body)
		clear(secret)
		if ok {
			return rec.AccountID, nil
		}
	}
	return "", ErrBadSignature
}

// triggerWebhook is the trigger type of a workflow that receives webhooks
// (workflows.TriggerWebhook; webhooks does not link the workflows feature).
const triggerWebhook = "webhook"

// errNotAWebhookWorkflow answers a roll of a workflow on another trigger.
func errNotAWebhookWorkflow(trigger string) error {
	return domain.Errorf(domain.CodeConflict, "The workflow is on a %s trigger, not a webhook one: it has no signing secret to roll", trigger)
}
