// Package webhooks owns the life of a workflow's secrets, of two kinds: the
// webhook signing secret of a workflow on a webhook trigger, which senders
// sign deliveries with, and the notification secret of a workflow with
// notify, which the API signs the run events it sends with. One Secrets
// serves each kind (NewSecrets, NewNotifySecrets), with the same rules: a
// secret is made when a workflow comes to need one (Create, called by the
// workflow routes), dropped when it stops needing it (Delete), rolled with
// a grace period (Roll: POST /workflows/{id}/webhook/roll and
// /workflows/{id}/notify/roll), and opened to check a delivery's
// X-Webhook-Signature (Verify, for the receiving route) or to sign a
// notification (SigningSecrets, for the runner).
//
// A secret is its kind's prefix ("whsec_" or "nsec_") and the unpadded
// base64url encoding of 32 random bytes. The HMAC key is the whole secret
// string as shown, prefix included, so both sides sign with exactly what
// was shown. The plaintext is shown once, in the answer that made it, and
// stored only sealed (internal/secrets) under the encryption context
// {"account", "workflow", "purpose": "webhook" or "notify"}, so a sealed
// secret copied onto another workflow, account or kind does not open there.
//
// It is a leaf feature: it imports no other feature, so the workflow routes
// can make secrets and the runner can sign with them without linking runs
// (see routes.FeatureLinks).
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

// SecretPrefix begins every webhook signing secret and NotifySecretPrefix
// every notification secret, so a leaked one is recognisable (by people and
// secret scanners) for what it is.
const (
	SecretPrefix       = "whsec_"
	NotifySecretPrefix = "nsec_"
)

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

// validAt is the sealed secrets that sign at now: the current one, then the
// previous one while its grace period lasts.
func (rec Record) validAt(now time.Time) []secrets.Sealed {
	valid := []secrets.Sealed{rec.Current}
	if rec.Previous != nil && now.Before(rec.PreviousExpiresAt) {
		valid = append(valid, *rec.Previous)
	}
	return valid
}

// Head is what this feature reads of a workflow's head: what tells whether
// the workflow has a secret of each kind.
type Head struct {
	// TriggerType is the trigger's type ("" for a head written before it
	// was stored: on no webhook trigger).
	TriggerType string
	// HasNotify: the workflow's current version has a notify.
	HasNotify bool
}

// Store keeps one kind's secret items (PK WEBHOOK#<workflow id>, SK WEBHOOK
// for webhook secrets; PK NOTIFY#<workflow id>, SK NOTIFY for notification
// secrets; see internal/store/keys.go) and reads the attributes of a
// workflow's head this feature needs. Every method returns other errors
// only for a failure to reach the store.
type Store interface {
	// Put stores a workflow's secret item, replacing one of the same
	// account; a workflow's item of another account is left alone and
	// domain.ErrNotFound returned.
	Put(ctx context.Context, rec Record) error
	// Delete deletes a workflow's secret item if it is the account's. An
	// absent item (or another account's) is not an error: there is nothing
	// of this account's to delete.
	Delete(ctx context.Context, account, workflowID string) error
	// WorkflowHead returns what the head of the account's workflow says,
	// domain.ErrNotFound if the account has no such workflow.
	WorkflowHead(ctx context.Context, account, workflowID string) (Head, error)
	// Roll makes current the workflow's secret. If keepPreviousUntil is not
	// zero the secret it replaces stays valid until then; otherwise no
	// previous secret is kept. It returns domain.ErrNotFound if the item is
	// another account's.
	Roll(ctx context.Context, account, workflowID string, current secrets.Sealed, keepPreviousUntil, at time.Time) error
	// Get returns a workflow's secret item, domain.ErrNotFound if it has none.
	Get(ctx context.Context, workflowID string) (Record, error)
}

// kind is what tells one kind of secret from the other; everything else
// about them is the same code.
type kind struct {
	// prefix begins every secret of the kind.
	prefix string
	// purpose is the encryption context's "purpose": a secret sealed for
	// one kind does not open as the other.
	purpose string
	// name is the kind in errors and logs.
	name string
	// has reports whether a workflow with head has a secret of the kind.
	has func(head Head) bool
	// lacking is the CONFLICT a roll of a workflow without one answers (it
	// exists, and has none).
	lacking func(head Head) error
	// receivedAt is the path of the route that receives what the secret
	// signs (nil: the API sends it, and receives nothing).
	receivedAt func(workflowID string) string
}

var (
	webhookKind = kind{
		prefix: SecretPrefix, purpose: "webhook", name: "webhook secret",
		has: func(head Head) bool { return head.TriggerType == triggerWebhook },
		lacking: func(head Head) error {
			return domain.Errorf(domain.CodeConflict, "The workflow is on a %s trigger, not a webhook one: it has no signing secret to roll", head.TriggerType)
		},
		receivedAt: URLPath,
	}
	notifyKind = kind{
		prefix: NotifySecretPrefix, purpose: "notify", name: "notification secret",
		has: func(head Head) bool { return head.HasNotify },
		lacking: func(Head) error {
			return domain.Errorf(domain.CodeConflict, "The workflow has no notify: it has no notification secret to roll")
		},
	}
)

// Secrets makes, rolls, drops and opens one kind of workflow secrets.
type Secrets struct {
	kind   kind
	store  Store
	sealer secrets.Sealer
	now    func() time.Time
}

// NewSecrets returns the webhook signing secrets service on store (a store
// of webhook secret items: webhooksdb.New), sealing with sealer.
func NewSecrets(store Store, sealer secrets.Sealer) *Secrets {
	return &Secrets{kind: webhookKind, store: store, sealer: sealer, now: time.Now}
}

// NewNotifySecrets returns the notification secrets service on store (a
// store of notification secret items: webhooksdb.NewNotify), sealing with
// sealer. Given a store of the other kind it fails closed: what it seals
// does not open as a webhook secret, nor the other way round.
func NewNotifySecrets(store Store, sealer secrets.Sealer) *Secrets {
	return &Secrets{kind: notifyKind, store: store, sealer: sealer, now: time.Now}
}

// encryptionContext binds a sealed secret to its account and workflow, and
// to its kind, so it cannot be passed off as a connection's credentials or
// as the workflow's other secret.
func (s *Secrets) encryptionContext(account, workflowID string) map[string]string {
	return map[string]string{"account": account, "workflow": workflowID, "purpose": s.kind.purpose}
}

// newSecret makes a secret and seals it for the workflow.
func (s *Secrets) newSecret(ctx context.Context, account, workflowID string) (string, secrets.Sealed, error) {
	raw := make([]byte, secretBytes)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (it crashes the program instead)
	secret := s.kind.prefix + base64.RawURLEncoding.EncodeToString(raw)
	sealed, err := s.sealer.Seal(ctx, []byte(secret), s.encryptionContext(account, workflowID))
	if err != nil {
		return "", secrets.Sealed{}, fmt.Errorf("webhooks: seal the %s of %s: %w", s.kind.name, workflowID, err)
	}
	return secret, sealed, nil
}

// open opens one of a record's sealed secrets. The caller clears it.
func (s *Secrets) open(ctx context.Context, rec Record, sealed secrets.Sealed) ([]byte, error) {
	secret, err := s.sealer.Open(ctx, sealed, s.encryptionContext(rec.AccountID, rec.WorkflowID))
	if err != nil {
		return nil, fmt.Errorf("webhooks: open the %s of %s: %w", s.kind.name, rec.WorkflowID, err)
	}
	return secret, nil
}

// Create makes (or replaces) the secret of the account's workflow and
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

// Delete drops the secret of the account's workflow; a workflow without
// one is not an error.
func (s *Secrets) Delete(ctx context.Context, account, workflowID string) error {
	return s.store.Delete(ctx, account, workflowID)
}

// errGracePeriod refuses a grace period outside 0 to MaxGracePeriod, naming
// the request field that gives it.
func errGracePeriod() error {
	return domain.Invalid(domain.FieldError{Field: "gracePeriodSeconds", Message: fmt.Sprintf("must be an integer from 0 to %d", int64(MaxGracePeriod/time.Second))})
}

// Roll gives the account's workflow a new secret of this kind and returns
// it. The one it replaces keeps working for grace (until
// previousValidUntil, which is zero for a grace of 0: the old secret stops
// at once). A secret kept from an earlier roll is dropped: at most two
// secrets work at any time. A workflow that is not the account's, or
// absent, is domain.ErrNotFound; one of the account's that has no secret of
// this kind (a webhook secret of a workflow on another trigger, a
// notification secret of one without notify) is a CONFLICT; a grace outside
// 0 to MaxGracePeriod is a VALIDATION_ERROR.
func (s *Secrets) Roll(ctx context.Context, account, workflowID string, grace time.Duration) (secret string, previousValidUntil time.Time, err error) {
	if grace < 0 || grace > MaxGracePeriod {
		return "", time.Time{}, errGracePeriod()
	}
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return "", time.Time{}, domain.ErrNotFound
	}
	head, err := s.store.WorkflowHead(ctx, account, workflowID)
	if err != nil {
		return "", time.Time{}, err
	}
	if !s.kind.has(head) {
		return "", time.Time{}, s.kind.lacking(head)
	}
	secret, sealed, err := s.newSecret(ctx, account, workflowID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if grace > 0 {
		// Stored in milliseconds; truncating here makes what the caller is
		// told exactly what Verify and SigningSecrets hold the previous
		// secret to.
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
	for _, sealed := range rec.validAt(now) {
		secret, err := s.open(ctx, rec, sealed)
		if err != nil {
			return "", err
		}
		ok := sig.Matches(secret, body)
		clear(secret)
		if ok {
			return rec.AccountID, nil
		}
	}
	return "", ErrBadSignature
}

// SigningSecrets returns the plaintext secrets a notification of the
// account's workflow is signed with at now: the current one first, then the
// previous one while its grace period lasts (so a receiver still holding
// the old one accepts it during a roll). It is domain.ErrNotFound if the
// workflow has none, or its item is another account's. The caller signs
// with them (SignAll) and keeps them no longer than that.
//
// It opens the sealed secrets (KMS Decrypt in AWS): only the runner, which
// sends notifications, calls it.
func (s *Secrets) SigningSecrets(ctx context.Context, account, workflowID string, now time.Time) ([]string, error) {
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return nil, domain.ErrNotFound
	}
	rec, err := s.store.Get(ctx, workflowID)
	if err != nil {
		return nil, err
	}
	if rec.AccountID != account {
		return nil, domain.ErrNotFound
	}
	valid := rec.validAt(now)
	out := make([]string, 0, len(valid))
	for _, sealed := range valid {
		secret, err := s.open(ctx, rec, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, string(secret))
		clear(secret)
	}
	return out, nil
}

// triggerWebhook is the trigger type of a workflow that receives webhooks
// (workflows.TriggerWebhook; webhooks does not link the workflows feature).
const triggerWebhook = "webhook"
