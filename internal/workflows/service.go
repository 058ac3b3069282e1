package workflows

import (
	"context"
	"errors"
	"fmt"
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
	// HasNotify: the version has a notify, and so the workflow a
	// notification secret.
	HasNotify bool
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// IsWebhook reports whether the workflow's runs start from signed webhook
// deliveries.
func (s Summary) IsWebhook() bool { return s.Trigger.Type == TriggerWebhook }

// SummaryOf is the summary of w.
func SummaryOf(w Workflow) Summary {
	return Summary{
		ID: w.ID, AccountID: w.AccountID, Name: w.Definition.Name, Description: w.Definition.Description,
		Enabled: w.Definition.IsEnabled(), Trigger: w.Definition.Trigger, HasNotify: w.Definition.Notify != nil, Version: w.Version,
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

// Secrets keeps one kind of a workflow's secrets: the signing secrets of
// webhook workflows, or the notification secrets of workflows with notify
// (internal/webhooks owns both; this is what the workflow routes need).
type Secrets interface {
	// Create makes (or replaces) the secret, stores it sealed and returns
	// the plaintext, once.
	Create(ctx context.Context, account, workflowID string) (secret string, err error)
	// Delete drops the secret; it is idempotent: no error if absent.
	Delete(ctx context.Context, account, workflowID string) error
}

// Service holds the rules of workflows: validation on every write, versions,
// the version check of a change, and a workflow's secrets: the signing
// secret of a webhook workflow, the notification secret of one with notify.
type Service struct {
	store         Store
	connections   Connections
	secrets       Secrets
	notifySecrets Secrets
	schedules     Schedules
	rules         Rules
	now           func() time.Time
}

// Rules read and check definitions: internal/workflows/definition, with the
// jq, template, JSON Schema and cron compilers it holds. The routes that
// write a definition are given them (WithRules); the read and delete routes
// are not, so they link none of those compilers.
type Rules interface {
	// Parse reads a definition from a request body and holds it to every
	// rule: nil or a VALIDATION_ERROR naming each problem.
	Parse(body []byte, exists ConnectionExists) (Definition, error)
	// SchedulerExpression is a schedule trigger in EventBridge Scheduler's
	// form (cron(...) or rate(...)) and its time zone.
	SchedulerExpression(t Trigger) (expression, timezone string, err error)
}

// ConnectionExists reports whether the caller's account has a connection
// with this id. Its error (the store could not be read) is returned by
// Parse as it is, not as a VALIDATION_ERROR: it is no fault of the
// definition's, and the pipeline answers it with a 500. A nil
// ConnectionExists knows no connection.
type ConnectionExists func(id string) (bool, error)

// WithRules gives the service the rules of definitions: the create and
// update routes, and whatever puts schedules. Without them a write of a
// definition fails (errNoRules) before anything is stored.
func (s *Service) WithRules(rules Rules) *Service {
	s.rules = rules
	return s
}

var errNoRules = errors.New("workflows: no definition rules wired (internal/workflows/definition): this route does not write definitions")

// NewService returns the service on store. connections may be nil for a
// route that writes no definition, webhookSecrets for one that neither
// creates, changes nor deletes a workflow, now for the wall clock.
func NewService(store Store, connections Connections, webhookSecrets Secrets, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, connections: connections, secrets: webhookSecrets, now: now}
}

// WithNotifySecrets has the service keep the notification secrets of the
// workflows it writes (a route that neither creates, changes nor deletes a
// workflow needs none). Without it, a write that needs one fails: for a
// create, before anything is stored.
func (s *Service) WithNotifySecrets(notifySecrets Secrets) *Service {
	s.notifySecrets = notifySecrets
	return s
}

// secretKind is one kind of a workflow's secret, as the rules see it: which
// workflows need one, and the service that keeps them.
type secretKind struct {
	name    string
	secrets Secrets
	// needs reports whether a workflow whose head is summary has (or, for
	// the summary of a definition about to be stored, needs) a secret of
	// the kind.
	needs func(Summary) bool
	// shownIn is where a write that made a secret of the kind shows it.
	shownIn func(*Written) *string
}

// secretKinds are the kinds of secret a workflow may have, in the order
// they are made and dropped.
func (s *Service) secretKinds() []secretKind {
	return []secretKind{
		{name: "webhook", secrets: s.secrets, needs: Summary.IsWebhook,
			shownIn: func(w *Written) *string { return &w.Secret }},
		{name: "notification", secrets: s.notifySecrets, needs: func(head Summary) bool { return head.HasNotify },
			shownIn: func(w *Written) *string { return &w.NotifySecret }},
	}
}

func (k secretKind) wired() error {
	if k.secrets == nil {
		return fmt.Errorf("workflows: no %s secrets store wired", k.name)
	}
	return nil
}

// follow makes or drops the workflow's secret of the kind as a write moves
// it from a head like was to one like is: made (and returned, to be shown
// once) when it comes to need one, dropped when it no longer does, kept
// (and not shown) otherwise.
func (k secretKind) follow(ctx context.Context, account, workflowID string, was, is Summary) (string, error) {
	had, has := k.needs(was), k.needs(is)
	if had == has {
		return "", nil
	}
	if err := k.wired(); err != nil {
		return "", err
	}
	if has {
		return k.secrets.Create(ctx, account, workflowID)
	}
	return "", k.secrets.Delete(ctx, account, workflowID)
}

// Caller is the account a request acts in.
type Caller struct {
	AccountID string
}

// Written is a workflow just created or changed. Secret is the webhook
// signing secret when this write made one (create of a webhook workflow, or
// the change that made it a webhook workflow), NotifySecret the
// notification secret when it made one (create of a workflow with notify,
// or the change that gave it notify): each shown this once.
type Written struct {
	Workflow     Workflow
	Secret       string
	NotifySecret string
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
	if s.rules == nil {
		return Definition{}, errNoRules
	}
	return s.rules.Parse(body, exists)
}

// Create validates body and stores it as version 1 of a new workflow. The
// secrets it needs (a webhook workflow's signing secret, the notification
// secret of one with notify) are made before the workflow is stored: the id
// is new and known to no one else, so no other request can race a secret,
// and a failure leaves no workflow without the secrets it needs (at worst a
// secret or a version item that no head points at, which nothing reads).
func (s *Service) Create(ctx context.Context, caller Caller, body []byte) (Written, error) {
	d, err := s.parse(ctx, caller, body)
	if err != nil {
		return Written{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	w := Workflow{ID: ids.New(ids.PrefixWorkflow, now), AccountID: caller.AccountID, Definition: d, Version: 1, CreatedAt: now, UpdatedAt: now}
	written := Written{Workflow: w}
	if err := s.followSecrets(ctx, &written, Summary{}); err != nil {
		return Written{}, err
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
// The secrets follow the definition after the head has moved: a change
// that makes the workflow a webhook one makes its signing secret, one that
// gives it notify its notification secret (each shown in the answer); one
// that takes either away drops that secret; one that keeps either keeps its
// secret, not shown. Made only once the head write has won, a secret is
// never replaced by a request that then fails.
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
	if err := s.followSecrets(ctx, &written, head); err != nil {
		return Written{}, err
	}
	return written, nil
}

// followSecrets makes and drops the secrets of written's workflow as it
// moves from a head like was (the zero Summary for a new workflow), and
// puts those it made in written to be shown.
func (s *Service) followSecrets(ctx context.Context, written *Written, was Summary) error {
	w := written.Workflow
	for _, kind := range s.secretKinds() {
		secret, err := kind.follow(ctx, w.AccountID, w.ID, was, SummaryOf(w))
		if err != nil {
			return err
		}
		*kind.shownIn(written) = secret
	}
	return nil
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
// pinned them. Its secrets (webhook, notification) are dropped after the
// head, each tried whatever became of the other. One that cannot be is
// left behind and the failure returned for the caller to log: a webhook
// secret is unusable without its head (the receiving route finds none); a
// notification secret is only ever used by the API itself, to sign the
// events of the workflow's own runs.
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
	var left []error
	for _, kind := range s.secretKinds() {
		if _, err := kind.follow(ctx, caller.AccountID, workflowID, old, Summary{}); err != nil {
			left = append(left, fmt.Errorf("its %s secret: %w", kind.name, err))
		}
	}
	if len(left) > 0 {
		return old, SecretLeftError{errors.Join(left...)}
	}
	return old, nil
}

// SecretLeftError is Delete's error when the workflow was deleted but a
// secret of it could not be: the deletion stands.
type SecretLeftError struct{ Err error }

func (e SecretLeftError) Error() string {
	return "workflows: secret left behind: " + e.Err.Error()
}
func (e SecretLeftError) Unwrap() error { return e.Err }
