// Package pipelinedb is the DynamoDB side of the request pipeline that every
// route function runs: the limiter's counters and the calling key's
// lastUsedAt. It links no feature.
package pipelinedb

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
)

// RateCounter is the limiter's DynamoDB counter. A bucket is one item whose
// attribute n<window> counts the window's admitted requests, so one UpdateItem
// both adds to the current window and returns the previous one.
type RateCounter struct {
	db    *dynamodb.Client
	table string
}

var _ ratelimit.Counter = (*RateCounter)(nil)

// NewRateCounter returns the counter on table.
func NewRateCounter(db *dynamodb.Client, table string) *RateCounter {
	return &RateCounter{db: db, table: table}
}

// Increment implements ratelimit.Counter with one conditional UpdateItem:
// ADD to the current window's count if it is below limit, drop the windows
// two and three back (REMOVE of an absent attribute is a no-op), refresh the
// TTL, and return the whole item.
func (c *RateCounter) Increment(ctx context.Context, bucket string, index, limit int64, expires time.Time) (ratelimit.State, bool, error) {
	out, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(c.table),
		Key:                 store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:    aws.String("ADD #cur :one SET #ttl = :ttl REMOVE #old2, #old3"),
		ConditionExpression: aws.String("attribute_not_exists(#cur) OR #cur < :limit"),
		ExpressionAttributeNames: map[string]string{
			"#cur":  store.RateWindowAttr(index),
			"#old2": store.RateWindowAttr(index - 2),
			"#old3": store.RateWindowAttr(index - 3),
			"#ttl":  store.AttrTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   store.NumberAV(1),
			":limit": store.NumberAV(limit),
			":ttl":   store.NumberAV(expires.Unix()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		return ratelimit.State{}, false, nil
	}
	if err != nil {
		return ratelimit.State{}, false, fmt.Errorf("store: increment rate counter: %w", err)
	}
	state := ratelimit.State{
		Previous: store.NumberAttr(out.Attributes, store.RateWindowAttr(index-1)),
		Current:  store.NumberAttr(out.Attributes, store.RateWindowAttr(index)),
	}
	c.dropStaleWindows(ctx, bucket, index, out.Attributes)
	return state, true, nil
}

// dropStaleWindows removes window counts older than the REMOVE in Increment
// reaches. They are left only by a bucket that went unused for more than
// three windows, so this extra write is rare; failing it costs nothing but
// a few bytes, so its error is ignored.
func (c *RateCounter) dropStaleWindows(ctx context.Context, bucket string, index int64, item map[string]types.AttributeValue) {
	names := map[string]string{}
	expr := ""
	for name := range item {
		if store.IsRateWindowAttr(name) && store.RateWindowOfAttr(name) < index-1 {
			placeholder := "#s" + strconv.Itoa(len(names))
			names[placeholder] = name
			if expr != "" {
				expr += ", "
			}
			expr += placeholder
		}
	}
	if expr == "" {
		return
	}
	_, _ = c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:         aws.String("REMOVE " + expr),
		ExpressionAttributeNames: names,
	})
}

// Decrement implements ratelimit.Counter.
func (c *RateCounter) Decrement(ctx context.Context, bucket string, index int64) error {
	_, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		UpdateExpression:         aws.String("ADD #cur :minusOne"),
		ConditionExpression:      aws.String("#cur > :zero"),
		ExpressionAttributeNames: map[string]string{"#cur": store.RateWindowAttr(index)},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":minusOne": store.NumberAV(-1),
			":zero":     store.NumberAV(0),
		},
	})
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("store: decrement rate counter: %w", err)
	}
	return nil
}
