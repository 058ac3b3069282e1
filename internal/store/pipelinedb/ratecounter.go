// Package pipelinedb is the DynamoDB side of the request pipeline that every
// route function runs: the limiter's counters and the calling key's
// lastUsedAt. It links no feature.
package pipelinedb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
)

// RateCounter is the limiter's DynamoDB counter. A bucket is one item with one
// number attribute per second that has requests (store.RateSecondAttr), so one
// UpdateItem both counts a request and returns every count of the window.
type RateCounter struct {
	db    *dynamodb.Client
	table string
	// last is the attribute names of the last Add's window: every Add in
	// the same second has the same 62, so they are built once a second,
	// not once a request (they were a fifth of the gateway's own
	// allocations). The SDK only reads the map, so Adds share it.
	last atomic.Pointer[windowNames]
}

// windowNames are the expression attribute names of one window.
type windowNames struct {
	second, oldest int64
	names          map[string]string
}

// removeExpression is every Add's update expression: its names are
// placeholders (#r0 to #r59), the same for every window.
var removeExpression = sync.OnceValue(func() string {
	removed := make([]string, removedPerAdd)
	for i := range removed {
		removed[i] = "#r" + strconv.Itoa(i)
	}
	return "ADD #now :one SET #ttl = :ttl REMOVE " + strings.Join(removed, ", ")
})

// namesOf are the attribute names of the window of second, starting at
// oldest: the second counted, the TTL, and the removedPerAdd seconds before
// the window.
func (c *RateCounter) namesOf(second, oldest int64) map[string]string {
	if w := c.last.Load(); w != nil && w.second == second && w.oldest == oldest {
		return w.names
	}
	names := make(map[string]string, removedPerAdd+2)
	names["#now"], names["#ttl"] = store.RateSecondAttr(second), store.AttrTTL
	for i := range removedPerAdd {
		names["#r"+strconv.Itoa(i)] = store.RateSecondAttr(oldest - 2 - int64(i))
	}
	c.last.Store(&windowNames{second: second, oldest: oldest, names: names})
	return names
}

var _ ratelimit.Counter = (*RateCounter)(nil)

// NewRateCounter returns the counter on table.
func NewRateCounter(db *dynamodb.Client, table string) *RateCounter {
	return &RateCounter{db: db, table: table}
}

// removedPerAdd is how many seconds before the window every Add removes. Each
// Add removes the 60 seconds that end two seconds before oldest (the second
// just before oldest is kept, so that a process whose clock runs up to a
// second ahead never removes a count still in another's window). REMOVE of an
// absent attribute costs nothing, so with one request a minute or more the
// item never holds more than the 62 seconds from oldest-1 on, and only a
// bucket left alone for over a minute leaves counts this cannot reach.
const removedPerAdd = 60

// Add implements ratelimit.Counter with one UpdateItem: ADD 1 to the
// second's count, REMOVE the seconds before the window, refresh the TTL,
// and return the whole item. There is no condition: the window's total is a
// sum DynamoDB cannot compute, so the limiter decides from what is returned
// and takes the count back if it is over. The update's paths never overlap
// (second is after oldest, the removed seconds before it), as one update
// expression requires.
func (c *RateCounter) Add(ctx context.Context, bucket string, second, oldest int64, expires time.Time) (ratelimit.Counts, error) {
	out, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:         aws.String(removeExpression()),
		ExpressionAttributeNames: c.namesOf(second, oldest),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": store.NumberAV(1),
			":ttl": store.NumberAV(expires.Unix()),
		},
		ReturnValues: types.ReturnValueAllNew,
	}, store.NoThrottleRetries)
	if err != nil {
		return nil, counterError("count a request", err)
	}
	counts := ratelimit.Counts{}
	var stale []string
	for name := range out.Attributes {
		s, ok := store.RateSecondOfAttr(name)
		switch {
		case ok && s >= oldest:
			counts[s] = store.NumberAttr(out.Attributes, name)
		case ok && s < oldest-1, store.IsLegacyRateWindowAttr(name):
			stale = append(stale, name)
		}
	}
	if len(stale) > 0 {
		c.dropStale(ctx, bucket, stale)
	}
	return counts, nil
}

// counterError wraps a failed counter write, marking throttling so the
// limiter refuses the request instead of letting it through.
func counterError(what string, err error) error {
	if store.IsThrottled(err) {
		return fmt.Errorf("store: %s: %w: %w", what, ratelimit.ErrThrottled, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// dropStale removes counts the REMOVE in Add cannot reach: left by a bucket
// unused for over a minute (or by the earlier per-minute limiter), so this
// extra write comes at most once per idle spell. Failing it costs nothing but
// a few bytes, so its error is ignored.
func (c *RateCounter) dropStale(ctx context.Context, bucket string, attrs []string) {
	names := make(map[string]string, len(attrs))
	placeholders := make([]string, len(attrs))
	for i, name := range attrs {
		placeholders[i] = "#s" + strconv.Itoa(i)
		names[placeholders[i]] = name
	}
	_, _ = c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:         aws.String("REMOVE " + strings.Join(placeholders, ", ")),
		ExpressionAttributeNames: names,
	}, store.NoThrottleRetries)
}

// TakeBack implements ratelimit.Counter: ADD -1 to the second's count, on the
// condition that it is above zero, so that a take-back arriving after the
// second was removed (by a process whose clock is ahead) cannot leave a
// negative count behind.
func (c *RateCounter) TakeBack(ctx context.Context, bucket string, second int64) error {
	_, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:         aws.String("ADD #now :minusOne"),
		ConditionExpression:      aws.String("#now > :zero"),
		ExpressionAttributeNames: map[string]string{"#now": store.RateSecondAttr(second)},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":minusOne": store.NumberAV(-1),
			":zero":     store.NumberAV(0),
		},
	}, store.NoThrottleRetries)
	if err != nil && !store.IsConditionFailed(err) {
		return counterError("take back a refused request", err)
	}
	return nil
}
