package workflows

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
)

// Workflow is one version of a workflow: its definition and the head's
// facts (id, account, when it was made). Version is the version the
// definition is; UpdatedAt is when that version was written.
type Workflow struct {
	ID         string
	AccountID  string
	Definition Definition
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Summary is a workflow's current version without its steps and input
// schema: what the head item holds and what a listing shows.
type Summary struct {
	ID          string
	AccountID   string
	Name        string
	Description string
	Enabled     bool
	Trigger     Trigger
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// IsWebhook reports whether the workflow's runs start from signed webhook
// deliveries.
func (s Summary) IsWebhook() bool { return s.Trigger.Type == TriggerWebhook }

// SummaryOf is the summary of w.
func SummaryOf(w Workflow) Summary {
	return Summary{
		ID: w.ID, AccountID: w.AccountID, Name: w.Definition.Name, Description: w.Definition.Description,
		Enabled: w.Definition.IsEnabled(), Trigger: w.Definition.Trigger, Version: w.Version,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

// Errors a Store returns besides domain.ErrNotFound. The service turns them
// into the contract's answers.
var (
	// ErrHeadMoved: the head was not at the version the write was based on
	// (another write got there first, or the workflow was deleted).
	ErrHeadMoved = errors.New("workflows: the head is not at the version read")
	// ErrWriteInFlight: the next version's item is already being written by
	// another request that has not yet moved the head.
	ErrWriteInFlight = errors.New("workflows: another write of this version is in flight")
)

// Store keeps workflows: a head per workflow and an immutable item per
// version (internal/store/keys.go). Its methods return domain.ErrNotFound for
// a workflow that is absent, deleted or another account's (callers cannot
// tell these apart), and List returns domain.ErrBadCursor for a cursor it
// did not make.
type Store interface {
	// Create stores version 1 of a new workflow, then its head.
	Create(ctx context.Context, w Workflow) error
	// Head returns the current version's summary.
	Head(ctx context.Context, account, workflowID string) (Summary, error)
	// Version returns one stored version (its definition and when it was
	// written); head supplies the rest. It does not look at the head:
	// callers check that the workflow exists and has that version.
	Version(ctx context.Context, head Summary, version int) (Workflow, error)
	// List pages through an account's workflows, newest first.
	List(ctx context.Context, account string, limit int, cursor string) (domain.Page[Summary], error)
	// Update stores w as the version after the head's (w.Version =
	// previous+1), then moves the head to it if the head is still at
	// w.Version-1: ErrHeadMoved otherwise, ErrWriteInFlight if another
	// writer holds that version's item.
	Update(ctx context.Context, w Workflow) error
	// Delete deletes the head and returns it as it was; the versions stay.
	Delete(ctx context.Context, account, workflowID string) (Summary, error)
}

// Connections tells whether an account has a connection
// (connectionsdb.Store does, with one GetItem).
type Connections interface {
	Exists(ctx context.Context, account, connectionID string) (bool, error)
}

// WebhookSecrets keeps the signing secrets of webhook workflows
// (internal/webhooks owns them; this is what the workflow routes need).
type WebhookSecrets interface {
	// Create makes (or replaces) the signing secret, stores it sealed and
	// returns the plaintext, once.
	Create(ctx context.Context, account, workflowID string) (secret string, err error)
	// Delete drops the secret; it is idempotent: no error if absent.
	Delete(ctx context.Context, account, workflowID string) error
}

// Service holds the rules of workflows: validation on every write, versions,
// the version check of a change, and a webhook workflow's signing secret.
type Service struct {
	store       Store
	connections Connections
	secrets     WebhookSecrets
	schedules   Schedules
	now         func() time.Time
}

// NewService returns the service on store. connections may be nil for a
// route that writes no definition, secrets for one that neither creates,
// changes nor deletes a workflow, now for the wall clock.
func NewService(store Store, connections Connections, secrets WebhookSecrets, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, connections: connections, secrets: secrets, now: now}
}

// Caller is the account a request acts in.
type Caller struct {
	AccountID string
}

// Written is a workflow just created or changed. Secret is the webhook
// signing secret when this write made one (create of a webhook workflow, or
// the change that made it a webhook workflow): shown this once.
type Written struct {
	Workflow Workflow
	Secret   string
	// ScheduleError is why the workflow's schedule could not be put or
	// removed after the workflow was written. The write stands (the caller
	// logs this) and the reconcile makes the schedule right.
	ScheduleError error
}

func (s *Service) parse(ctx context.Context, caller Caller, body []byte) (Definition, error) {
	var exists ConnectionExists
	if s.connections != nil {
		exists = func(id string) (bool, error) { return s.connections.Exists(ctx, caller.AccountID, id) }
	}
	return Parse(body, exists)
}

// Create validates body and stores it as version 1 of a new workflow. For a
// webhook workflow the secret is made before the workflow is stored: the id
// is new and known to no one else, so no other request can race the secret,
// and a failure leaves no webhook workflow without a secret (at worst a
// secret or a version item that no head points at, which nothing reads).
func (s *Service) Create(ctx context.Context, caller Caller, body []byte) (Written, error) {
	d, err := s.parse(ctx, caller, body)
	if err != nil {
		return Written{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	w := Workflow{ID: ids.New(ids.PrefixWorkflow, now), AccountID: caller.AccountID, Definition: d, Version: 1, CreatedAt: now, UpdatedAt: now}
	var secret string
	if d.Trigger.Type == TriggerWebhook {
		if s.secrets == nil {
			return Written{}, errors.New("workflows: no webhook secrets store wired")
		}
		if secret, err = s.secrets.Create(ctx, caller.AccountID, w.ID); err != nil {
			return Written{}, err
		}
	}
	isSchedule := d.Trigger.Type == TriggerSchedule
	if isSchedule {
		if err := s.mark(ctx, caller.AccountID, w.ID); err != nil {
			return Written{}, err
		}
	}
	if err := s.store.Create(ctx, w); err != nil {
		return Written{}, err
	}
	written := Written{Workflow: w, Secret: secret}
	if isSchedule {
		written.ScheduleError = s.putSchedule(ctx, w)
	}
	return written, nil
}

// Get returns the current version of a workflow, or version (when not 0)
// an older one; a version the workflow never reached is NOT_FOUND, and so
// is every version of a deleted workflow (its head is gone).
func (s *Service) Get(ctx context.Context, caller Caller, workflowID string, version int) (Workflow, error) {
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return Workflow{}, domain.ErrNotFound
	}
	head, err := s.store.Head(ctx, caller.AccountID, workflowID)
	if err != nil {
		return Workflow{}, err
	}
	if version == 0 {
		version = head.Version
	}
	if version < 1 || version > head.Version {
		return Workflow{}, domain.ErrNotFound
	}
	return s.store.Version(ctx, head, version)
}

// List pages through the caller's account's workflows, newest first.
func (s *Service) List(ctx context.Context, caller Caller, limit int, cursor string) (domain.Page[Summary], error) {
	return s.store.List(ctx, caller.AccountID, limit, cursor)
}

// Precondition is an If-Match header: nil when none was given.
type Precondition struct {
	raw string
}

// IfMatch reads an If-Match header's values (nil or empty: none given).
func IfMatch(values []string) *Precondition {
	if len(values) == 0 {
		return nil
	}
	return &Precondition{raw: strings.Join(values, ",")}
}

// matches reports whether the precondition holds for a workflow at version:
// one of its entity tags is "<version>" (compared strongly, as If-Match
// requires, so a weak W/"3" matches nothing), or it is *.
func (p *Precondition) matches(version int) bool {
	want := `"` + strconv.Itoa(version) + `"`
	for _, tag := range strings.Split(p.raw, ",") {
		if tag = strings.TrimSpace(tag); tag == "*" || tag == want {
			return true
		}
	}
	return false
}

// ETag is the entity tag of a workflow at version: "<version>".
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

func stale(head Summary) error {
	return domain.Errorf(domain.CodePreconditionFailed, "The workflow is at version %d, not the one If-Match names; read it again and reapply the change", head.Version)
}

// Update replaces a workflow's definition with body as a new version. With
// a precondition (If-Match) that the current version does not meet, it is
// PRECONDITION_FAILED and nothing changes. A write that loses a race with
// another write of the same workflow is PRECONDITION_FAILED when the
// caller gave If-Match (its version is stale now) and CONFLICT otherwise.
//
// The secret follows the trigger after the head has moved: a change that
// makes the workflow a webhook one makes its secret (shown in the answer),
// one that makes it something else drops it. Made only once the head write
// has won, a secret is never replaced by a request that then fails.
func (s *Service) Update(ctx context.Context, caller Caller, workflowID string, ifMatch *Precondition, body []byte) (Written, error) {
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return Written{}, domain.ErrNotFound
	}
	d, err := s.parse(ctx, caller, body)
	if err != nil {
		return Written{}, err
	}
	head, err := s.store.Head(ctx, caller.AccountID, workflowID)
	if err != nil {
		return Written{}, err
	}
	if ifMatch != nil && !ifMatch.matches(head.Version) {
		return Written{}, stale(head)
	}
	w := Workflow{
		ID: workflowID, AccountID: caller.AccountID, Definition: d, Version: head.Version + 1,
		CreatedAt: head.CreatedAt, UpdatedAt: s.now().UTC().Truncate(time.Millisecond),
	}
	// A schedule workflow is marked before its new head, every time: it
	// costs one PutItem and marks a workflow stored before markers existed.
	isSchedule, wasSchedule := d.Trigger.Type == TriggerSchedule, head.Trigger.Type == TriggerSchedule
	if isSchedule {
		if err := s.mark(ctx, caller.AccountID, workflowID); err != nil {
			return Written{}, err
		}
	}
	if err := s.store.Update(ctx, w); err != nil {
		return Written{}, s.lostRace(ctx, caller, workflowID, ifMatch, err)
	}
	written := Written{Workflow: w}
	// The schedule follows the new version (its trigger and enabled flag),
	// put every time so a change also repairs a schedule an earlier write
	// failed to put.
	switch {
	case isSchedule:
		written.ScheduleError = s.putSchedule(ctx, w)
	case wasSchedule:
		written.ScheduleError = s.removeSchedule(ctx, workflowID)
	}
	switch wasWebhook, isWebhook := head.IsWebhook(), d.Trigger.Type == TriggerWebhook; {
	case isWebhook && !wasWebhook:
		if s.secrets == nil {
			return Written{}, errors.New("workflows: no webhook secrets store wired")
		}
		if written.Secret, err = s.secrets.Create(ctx, caller.AccountID, workflowID); err != nil {
			return Written{}, err
		}
	case wasWebhook && !isWebhook:
		if s.secrets == nil {
			return Written{}, errors.New("workflows: no webhook secrets store wired")
		}
		if err := s.secrets.Delete(ctx, caller.AccountID, workflowID); err != nil {
			return Written{}, err
		}
	}
	return written, nil
}

// lostRace turns a store's refusal of an update into the answer: a head
// gone in the meantime is NOT_FOUND; one moved by another write is stale
// for a caller who said which version it changed, and a conflict for one
// who did not.
func (s *Service) lostRace(ctx context.Context, caller Caller, workflowID string, ifMatch *Precondition, err error) error {
	if !errors.Is(err, ErrHeadMoved) && !errors.Is(err, ErrWriteInFlight) {
		return err
	}
	head, headErr := s.store.Head(ctx, caller.AccountID, workflowID)
	if headErr != nil {
		return headErr // domain.ErrNotFound after a delete
	}
	if ifMatch != nil {
		return stale(head)
	}
	return domain.Errorf(domain.CodeConflict, "Another change of this workflow was made at the same time; read it again and reapply the change (send If-Match to be told which version you changed)")
}

// Delete deletes a workflow: from then on it is NOT_FOUND everywhere, its
// versions included, while the version items stay for the runs that
// pinned them. A webhook workflow's secret is dropped after the head; if
// that fails the secret is left behind, unusable (the receiving route
// finds no head), and the failure is returned for the caller to log.
func (s *Service) Delete(ctx context.Context, caller Caller, workflowID string) (Summary, error) {
	if !ids.Valid(ids.PrefixWorkflow, workflowID) {
		return Summary{}, domain.ErrNotFound
	}
	old, err := s.store.Delete(ctx, caller.AccountID, workflowID)
	if err != nil {
		return Summary{}, err
	}
	if old.Trigger.Type == TriggerSchedule {
		if err := s.removeSchedule(ctx, workflowID); err != nil {
			return old, ScheduleLeftError{err}
		}
	}
	if old.IsWebhook() {
		if s.secrets == nil {
			return old, SecretLeftError{errors.New("workflows: no webhook secrets store wired")}
		}
		if err := s.secrets.Delete(ctx, caller.AccountID, workflowID); err != nil {
			return old, SecretLeftError{err}
		}
	}
	return old, nil
}

// SecretLeftError is Delete's error when the workflow was deleted but its
// webhook secret could not be: the deletion stands.
type SecretLeftError struct{ Err error }

func (e SecretLeftError) Error() string {
	return "workflows: webhook secret left behind: " + e.Err.Error()
}
func (e SecretLeftError) Unwrap() error { return e.Err }
