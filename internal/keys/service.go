package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
)

// MaxNameLength bounds a key's name.
const MaxNameLength = 100

// MaxGracePeriodSeconds bounds how long a rolled key keeps working: one day.
const MaxGracePeriodSeconds = 86400

// MaxActiveKeys is how many active keys one account may hold. Keys are for
// programs and people, not per request; a leak that mints keys in a loop stops
// here. Revoked and expired keys do not count.
const MaxActiveKeys = 100

// Store keeps keys. Its methods return domain.ErrNotFound for a key that is
// absent or another account's (callers cannot tell the two apart), and List
// returns domain.ErrBadCursor for a cursor it did not make.
type Store interface {
	// Create stores a new key with the hash of its plaintext.
	Create(ctx context.Context, k Key, hash string) error
	ByID(ctx context.Context, account, keyID string) (Key, error)
	// List pages through an account's keys, newest first.
	List(ctx context.Context, account string, limit int, cursor string) (domain.Page[Key], error)
	// Revoke revokes a key at `at`; revoking a revoked key keeps the first
	// time and is not an error. It returns the key as it is afterwards. If
	// allow is not nil it is handed the key first, and its error stops the
	// revocation with nothing written.
	Revoke(ctx context.Context, account, keyID string, at time.Time, allow func(Key) error) (Key, error)
	// ExpireBy makes a key expire at `at` unless it already expires sooner.
	ExpireBy(ctx context.Context, account, keyID string, at time.Time) (Key, error)
}

// Caller is who asks: the account it acts in, the key it is (empty for the
// operator), the scopes it holds and when it expires. A key may only issue,
// roll or revoke keys whose scopes it holds itself (it may always revoke
// itself), and a key it makes never outlives it.
type Caller struct {
	AccountID string
	KeyID     string
	Scopes    domain.Scopes
	ExpiresAt *time.Time
}

// Operator is the operator's tool acting in account: it holds every scope.
func Operator(account string) Caller {
	return Caller{AccountID: account, Scopes: domain.Scopes(domain.AllScopes)}
}

// Service holds the rules of key management.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns the service on store. now may be nil for the wall clock.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// IssueRequest asks for a new key. Fields are pointers so that a missing one
// can be told from an empty one.
type IssueRequest struct {
	Name      *string
	Scopes    *[]string
	ExpiresAt *string // RFC 3339
}

// Issued is a key just made, with its plaintext: shown this once, never
// stored.
type Issued struct {
	Key       Key
	Plaintext string
}

// Issue makes a key in the caller's account. An invalid request is a
// VALIDATION_ERROR naming every bad field; asking for a scope the caller
// lacks is FORBIDDEN.
func (s *Service) Issue(ctx context.Context, caller Caller, req IssueRequest) (Issued, error) {
	now := s.now()
	var problems []domain.FieldError
	rawName := ""
	if req.Name != nil {
		rawName = *req.Name
	}
	name, problem := domain.CheckName("name", rawName, MaxNameLength)
	if problem != nil {
		problems = append(problems, *problem)
	}
	var scopes domain.Scopes
	if req.Scopes == nil || len(*req.Scopes) == 0 {
		problems = append(problems, domain.FieldError{Field: "scopes", Message: "must list at least one scope"})
	} else {
		var unknown []string
		scopes, unknown = domain.NormalizeScopes(*req.Scopes)
		for _, u := range unknown {
			problems = append(problems, domain.FieldError{Field: "scopes", Message: fmt.Sprintf("%q is not a scope; scopes are %s", u, domain.Scopes(domain.AllScopes).String())})
		}
	}
	expiresAt, problem := expiryWithin(req.ExpiresAt, caller, now)
	if problem != nil {
		problems = append(problems, *problem)
	}
	if len(problems) > 0 {
		return Issued{}, domain.Invalid(problems...)
	}
	if !caller.Scopes.Covers(scopes) {
		return Issued{}, domain.ErrForbidden
	}
	if err := s.checkActiveKeys(ctx, caller.AccountID, now); err != nil {
		return Issued{}, err
	}
	return s.issue(ctx, Key{
		ID: ids.New(ids.PrefixKey, now), AccountID: caller.AccountID, Name: name, Scopes: scopes,
		CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: expiresAt,
		RateLimitID: ids.New(ids.PrefixRateLimit, now),
	})
}

// issue makes the plaintext of k and stores k with its hash: the one place a
// key comes into being.
func (s *Service) issue(ctx context.Context, k Key) (Issued, error) {
	plaintext, err := apikey.Generate()
	if err != nil {
		return Issued{}, err
	}
	k.Prefix = apikey.DisplayPrefix(plaintext)
	if err := s.store.Create(ctx, k, apikey.Hash(plaintext)); err != nil {
		return Issued{}, err
	}
	return Issued{Key: k, Plaintext: plaintext}, nil
}

// expiryWithin reads the expiry asked for a key the caller makes: none asked
// means the caller's own, and one later than the caller's is refused, so no
// key outlives its maker.
func expiryWithin(raw *string, caller Caller, now time.Time) (*time.Time, *domain.FieldError) {
	asked, problem := parseExpiry(raw, now)
	switch {
	case problem != nil:
		return nil, problem
	case caller.ExpiresAt == nil:
		return asked, nil
	case asked == nil:
		t := caller.ExpiresAt.UTC().Truncate(time.Millisecond)
		return &t, nil
	case asked.After(*caller.ExpiresAt):
		return nil, &domain.FieldError{Field: "expiresAt", Message: "must not be later than the expiry of the key making it, " + caller.ExpiresAt.UTC().Format(time.RFC3339)}
	default:
		return asked, nil
	}
}

// checkActiveKeys refuses a new key when the account already holds
// MaxActiveKeys active ones. It reads the account's keys page by page; the
// check and the write are not one atomic step, so keys created at the same
// instant may pass the cap by a few.
func (s *Service) checkActiveKeys(ctx context.Context, account string, now time.Time) error {
	active, cursor := 0, ""
	for {
		page, err := s.store.List(ctx, account, 100, cursor)
		if err != nil {
			return err
		}
		for _, k := range page.Items {
			if k.Status(now) == StatusActive {
				active++
			}
		}
		if active >= MaxActiveKeys {
			return domain.Errorf(domain.CodeConflict, "This account already has %d active keys, the most it may hold; revoke one first", MaxActiveKeys)
		}
		if cursor = page.NextCursor; cursor == "" {
			return nil
		}
	}
}

func parseExpiry(raw *string, now time.Time) (*time.Time, *domain.FieldError) {
	if raw == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *raw)
	if err != nil {
		return nil, &domain.FieldError{Field: "expiresAt", Message: "must be an RFC 3339 timestamp"}
	}
	if !t.After(now) {
		return nil, &domain.FieldError{Field: "expiresAt", Message: "must be in the future"}
	}
	t = t.UTC().Truncate(time.Millisecond)
	return &t, nil
}

// RollRequest asks for a key's successor.
type RollRequest struct {
	GracePeriodSeconds *int64
	ExpiresAt          *string // RFC 3339; the new key's own expiry
}

// Roll issues a new key with the old one's name, scopes and rate-limit
// identity (so rolling does not reset the window), and makes the old one
// expire when the grace period ends. A caller may only roll a key whose
// scopes it holds itself: otherwise rolling would hand it a stronger key.
// Rolling a key that is not active is CONFLICT.
func (s *Service) Roll(ctx context.Context, caller Caller, keyID string, req RollRequest) (Issued, error) {
	now := s.now()
	grace := int64(0)
	var problems []domain.FieldError
	if req.GracePeriodSeconds != nil {
		grace = *req.GracePeriodSeconds
		if grace < 0 || grace > MaxGracePeriodSeconds {
			problems = append(problems, domain.FieldError{Field: "gracePeriodSeconds", Message: fmt.Sprintf("must be from 0 to %d", MaxGracePeriodSeconds)})
		}
	}
	expiresAt, problem := expiryWithin(req.ExpiresAt, caller, now)
	if problem != nil {
		problems = append(problems, *problem)
	}
	if len(problems) > 0 {
		return Issued{}, domain.Invalid(problems...)
	}
	if !ids.Valid(ids.PrefixKey, keyID) {
		return Issued{}, domain.ErrNotFound
	}
	old, err := s.store.ByID(ctx, caller.AccountID, keyID)
	if err != nil {
		return Issued{}, err
	}
	if !caller.Scopes.Covers(old.Scopes) {
		return Issued{}, domain.ErrForbidden
	}
	if status := old.Status(now); status != StatusActive {
		return Issued{}, domain.Errorf(domain.CodeConflict, "Only an active key can be rolled; this key is %s", status)
	}
	issued, err := s.issue(ctx, Key{
		ID: ids.New(ids.PrefixKey, now), AccountID: caller.AccountID, Name: old.Name, Scopes: old.Scopes,
		CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: expiresAt, RateLimitID: old.RateLimitID,
	})
	if err != nil {
		return Issued{}, err
	}
	if _, err := s.store.ExpireBy(ctx, caller.AccountID, keyID, now.Add(time.Duration(grace)*time.Second)); err != nil {
		return Issued{}, err
	}
	return issued, nil
}

// Revoke revokes one of the caller's account's keys at once. Revoking a
// revoked key answers the same. A caller may revoke itself, and otherwise
// only a key whose scopes it holds: a weak key must not be able to switch off
// a strong one.
func (s *Service) Revoke(ctx context.Context, caller Caller, keyID string) (Key, error) {
	if !ids.Valid(ids.PrefixKey, keyID) {
		return Key{}, domain.ErrNotFound
	}
	var allow func(Key) error
	if keyID != caller.KeyID {
		allow = func(target Key) error {
			if !caller.Scopes.Covers(target.Scopes) {
				return domain.ErrForbidden
			}
			return nil
		}
	}
	return s.store.Revoke(ctx, caller.AccountID, keyID, s.now(), allow)
}

// List pages through the caller's account's keys, newest first.
func (s *Service) List(ctx context.Context, caller Caller, limit int, cursor string) (domain.Page[Key], error) {
	return s.store.List(ctx, caller.AccountID, limit, cursor)
}

// Now is the service's clock: what key statuses are reported at.
func (s *Service) Now() time.Time { return s.now() }
