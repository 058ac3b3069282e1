package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/ratelimit"
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
		Key:                 itemKey(rateCounterPK(bucket), sortRateCounter),
		UpdateExpression:    aws.String("ADD #cur :one SET #ttl = :ttl REMOVE #old2, #old3"),
		ConditionExpression: aws.String("attribute_not_exists(#cur) OR #cur < :limit"),
		ExpressionAttributeNames: map[string]string{
			"#cur":  rateWindowAttr(index),
			"#old2": rateWindowAttr(index - 2),
			"#old3": rateWindowAttr(index - 3),
			"#ttl":  AttrTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   numberAV(1),
			":limit": numberAV(limit),
			":ttl":   numberAV(expires.Unix()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return ratelimit.State{}, false, nil
	}
	if err != nil {
		return ratelimit.State{}, false, fmt.Errorf("store: increment rate counter: %w", err)
	}
	state := ratelimit.State{
		Previous: numberAttr(out.Attributes, rateWindowAttr(index-1)),
		Current:  numberAttr(out.Attributes, rateWindowAttr(index)),
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
		if isRateWindowAttr(name) && rateWindowOfAttr(name) < index-1 {
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
		Key:                      itemKey(rateCounterPK(bucket), sortRateCounter),
		UpdateExpression:         aws.String("REMOVE " + expr),
		ExpressionAttributeNames: names,
	})
}

// Decrement implements ratelimit.Counter.
func (c *RateCounter) Decrement(ctx context.Context, bucket string, index int64) error {
	_, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      itemKey(rateCounterPK(bucket), sortRateCounter),
		UpdateExpression:         aws.String("ADD #cur :minusOne"),
		ConditionExpression:      aws.String("#cur > :zero"),
		ExpressionAttributeNames: map[string]string{"#cur": rateWindowAttr(index)},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":minusOne": numberAV(-1),
			":zero":     numberAV(0),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: decrement rate counter: %w", err)
	}
	return nil
}

func numberAttr(item map[string]types.AttributeValue, name string) int64 {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}
