package ratelimit

import (
	"context"
	"errors"
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

// Counter is the limiter's storage: per bucket (a subject and a category),
// atomic counts of requests per Unix second.
type Counter interface {
	// Add counts one request in second of bucket and returns the bucket's
	// counts from second oldest on, later seconds included, as they are
	// right after that write: the request's own count and those of requests
	// other processes are deciding at the same moment are in them. Counts
	// before oldest are no longer needed and may be dropped. expires is when
	// the whole bucket is no longer needed if nothing else is counted.
	// An error that wraps ErrThrottled means the store refused the write
	// because the bucket is too busy.
	Add(ctx context.Context, bucket string, second, oldest int64, expires time.Time) (Counts, error)
	// TakeBack removes one request that Add counted in second.
	TakeBack(ctx context.Context, bucket string, second int64) error
}

// ErrThrottled is wrapped by a Counter's error when the store throttled the
// bucket's write: the bucket's own item is too hot, which is to say its
// subject is hammering it, so the request is refused rather than let through
// (unlike every other counter failure, which lets it through).
var ErrThrottled = errors.New("ratelimit: counter throttled")

// ThrottledWait is how long a request refused because its counter was
// throttled is told to wait (Retry-After). DynamoDB's throughput limits are
// per second, so a couple of seconds clears them; the counts themselves are
// unknown then, so a longer wait could not be justified either.
const ThrottledWait = 2 * time.Second

// Decision is the limiter's answer for one request: whether it may proceed and
// the values of the rate-limit headers.
type Decision struct {
	Allowed   bool
	Limit     int64
	Remaining int64
	Reset     time.Time // see Window.Reset
	// RetryAfter is whole seconds from the decision until Reset, at least 1:
	// the Retry-After header of a refusal.
	RetryAfter int64
}

// ceilSecond rounds t up to a whole second: X-RateLimit-Reset is in seconds,
// and rounding down would make it a promise too early.
func ceilSecond(t time.Time) time.Time {
	s := t.Truncate(time.Second)
	if s.Before(t) {
		s = s.Add(time.Second)
	}
	return s
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
// and counts it if so. It costs one Counter.Add; a refused request costs a
// TakeBack too, so it uses up no quota. If the counter cannot be written the
// request is allowed (the limiter fails open) and the failure is logged;
// except when the store throttled the counter, which refuses the request.
func (l *Limiter) Allow(ctx context.Context, subject string, c Category) Decision {
	now := l.now()
	second := now.Unix()
	limit := l.config.Limits[c]
	bucket := subject + "#" + string(c)
	// Two windows of silence: by then every count in the item is out of the
	// window, with a window's margin for processes whose clocks run behind.
	expires := time.Unix(second+2*l.window.seconds(), 0)

	counts, err := l.counter.Add(ctx, bucket, second, l.window.Oldest(second), expires)
	if errors.Is(err, ErrThrottled) {
		l.logger.WarnContext(ctx, "rate counter throttled; refusing request", "category", c, "error", err)
		reset := ceilSecond(now.Add(ThrottledWait))
		return Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset, RetryAfter: retryAfter(reset, now)}
	}
	if err != nil {
		l.logger.ErrorContext(ctx, "rate limiter unavailable; allowing request", "category", c, "error", err)
		return Decision{Allowed: true, Limit: limit, Remaining: limit - 1, Reset: l.window.Reset(nil, second)}
	}
	total := l.window.Total(counts, second)
	if total <= limit {
		// Remaining is what is left after everything counted, including
		// requests other processes are refusing right now: it may promise
		// less than will be admitted, never more.
		return Decision{Allowed: true, Limit: limit, Remaining: limit - total, Reset: l.window.Reset(counts, second)}
	}
	// Over the limit: take the count back, so a refused request uses up no
	// quota. Even if the caller has gone, the take-back must happen, so it
	// does not inherit the request's cancellation (the store still bounds
	// its time).
	if err := l.counter.TakeBack(context.WithoutCancel(ctx), bucket, second); err != nil {
		l.logger.ErrorContext(ctx, "rate limiter could not take back a refused request", "category", c, "error", err)
	}
	// The Reset of a refusal is computed without this request's own count
	// (it is not admitted), so it depends on the admitted requests at the
	// old end of the window only: every refusal sent at the same moment gets
	// the same Reset, however many of them are in flight.
	if counts[second] > 0 {
		counts[second]--
	}
	reset := l.window.Reset(counts, second)
	return Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset, RetryAfter: retryAfter(reset, now)}
}
