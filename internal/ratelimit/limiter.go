package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"
)

// Category groups routes that share a limit.
type Category string

// The limit categories of the contract.
const (
	CategoryRead     Category = "read"
	CategoryWrite    Category = "write"
	CategoryExecute  Category = "execute"
	CategoryWebhooks Category = "webhooks"
	// CategoryPublic is the routes that take no key and no signature (the
	// OpenAPI document), limited per source IP.
	CategoryPublic Category = "public"
)

// Categories lists every category.
var Categories = []Category{CategoryRead, CategoryWrite, CategoryExecute, CategoryWebhooks, CategoryPublic}

// Config is the limiter's configuration: requests per window per category.
type Config struct {
	Window time.Duration
	Limits map[Category]int64
}

// DefaultConfig is the contract's limits: per minute, read 1000, write 100,
// execute 500, webhooks 10000 and public 1000 (both per source IP).
func DefaultConfig() Config {
	return Config{
		Window: time.Minute,
		Limits: map[Category]int64{
			CategoryRead:     1000,
			CategoryWrite:    100,
			CategoryExecute:  500,
			CategoryWebhooks: 10000,
			CategoryPublic:   1000,
		},
	}
}

// ConfigFromEnv starts from DefaultConfig and applies RATE_LIMIT_READ,
// RATE_LIMIT_WRITE, RATE_LIMIT_EXECUTE, RATE_LIMIT_WEBHOOKS and
// RATE_LIMIT_PUBLIC where set. The
// window stays one minute: the contract and the 429 message speak per minute.
func ConfigFromEnv() (Config, error) {
	cfg := DefaultConfig()
	for _, c := range Categories {
		name := "RATE_LIMIT_" + upper(string(c))
		raw, ok := os.LookupEnv(name)
		if !ok || raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return Config{}, fmt.Errorf("ratelimit: %s must be a positive integer, got %q", name, raw)
		}
		cfg.Limits[c] = n
	}
	return cfg, nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Counter is the limiter's storage: one atomic counter per subject, category
// and fixed window.
type Counter interface {
	// Increment adds one to the count of window index for bucket, but only if
	// that count is below limit. It returns the counts of that window and the
	// one before it as they are after the write, and added=false (with a zero
	// State) if the count had already reached limit, in which case nothing
	// was written. expires is when the bucket is no longer needed.
	Increment(ctx context.Context, bucket string, index, limit int64, expires time.Time) (s State, added bool, err error)
	// Decrement takes back one request counted by Increment.
	Decrement(ctx context.Context, bucket string, index int64) error
}

// Decision is the limiter's answer for one request: whether it may proceed and
// the values of the rate-limit headers.
type Decision struct {
	Allowed   bool
	Limit     int64
	Remaining int64
	Reset     time.Time // see Window.NextAdmission
	// RetryAfter is whole seconds from the decision until Reset, at least 1:
	// the Retry-After header of a refusal.
	RetryAfter int64
}

func retryAfter(reset, now time.Time) int64 {
	secs := int64(math.Ceil(reset.Sub(now).Seconds()))
	return max(secs, 1)
}

// Limiter applies the sliding-window limits.
type Limiter struct {
	counter Counter
	config  Config
	window  Window
	now     func() time.Time
	logger  *slog.Logger
}

// New returns a Limiter. now may be nil for the wall clock.
func New(counter Counter, config Config, now func() time.Time, logger *slog.Logger) *Limiter {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Limiter{counter: counter, config: config, window: Window{Length: config.Window}, now: now, logger: logger}
}

// Limit returns the configured limit of a category.
func (l *Limiter) Limit(c Category) int64 { return l.config.Limits[c] }

// Allow decides whether one more request by subject in category may proceed,
// and counts it if so. A rejected request is not counted. If the counter
// cannot be written the request is allowed (the limiter fails open) and the
// failure is logged.
func (l *Limiter) Allow(ctx context.Context, subject string, c Category) Decision {
	now := l.now()
	limit := l.config.Limits[c]
	index := l.window.Index(now)
	bucket := subject + "#" + string(c)
	expires := l.window.Start(index + 2)

	state, added, err := l.counter.Increment(ctx, bucket, index, limit, expires)
	if err != nil {
		l.logger.ErrorContext(ctx, "rate limiter unavailable; allowing request", "category", c, "error", err)
		return Decision{Allowed: true, Limit: limit, Remaining: limit - 1, Reset: l.window.Start(index + 1)}
	}
	if !added {
		// The current window alone is full; the previous count cannot make
		// the wait shorter, so it is not needed for Reset.
		full := State{Current: limit}
		reset := l.window.NextAdmission(full, limit, now)
		return Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset, RetryAfter: retryAfter(reset, now)}
	}
	before := State{Previous: state.Previous, Current: state.Current - 1}
	if !l.window.Fits(before, limit, now) {
		// The weighted estimate is over the limit: take the count back, so a
		// rejected request uses up no quota.
		if err := l.counter.Decrement(ctx, bucket, index); err != nil {
			l.logger.ErrorContext(ctx, "rate limiter could not take back a rejected request", "category", c, "error", err)
		}
		reset := l.window.NextAdmission(before, limit, now)
		return Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset, RetryAfter: retryAfter(reset, now)}
	}
	remaining := l.window.Remaining(state, limit, now)
	spent := State{Previous: state.Previous, Current: state.Current + remaining}
	return Decision{Allowed: true, Limit: limit, Remaining: remaining, Reset: l.window.NextAdmission(spent, limit, now)}
}
