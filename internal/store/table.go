package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's attribute names. The key attributes are generic (single-table
// design); what they hold for each kind of item is written in keys.go.
const (
	AttrPK     = "PK"
	AttrSK     = "SK"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	// AttrTTL holds, in Unix seconds, when DynamoDB may delete an item (rate
	// counters today; idempotency records later).
	AttrTTL = "ttl"
	// IndexGSI1 is the one secondary index, for listings that are not by
	// account partition (runs by workflow, in a later release).
	IndexGSI1 = "GSI1"
)

// TableDefinition is the table's one definition: the operator tool and the
// tests create the table from it, and the CDK stack mirrors it.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI1PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI1SK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexGSI1),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrGSI1PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrGSI1SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// EnsureTable creates the table if it does not exist, waits until it is
// active, and turns on TTL. It reports whether it created the table. An
// engine without UpdateTimeToLive (dynalite) is fine: expired items are then
// simply never deleted, and nothing reads them as live.
func EnsureTable(ctx context.Context, db *dynamodb.Client, name string) (created bool, err error) {
	_, err = db.CreateTable(ctx, TableDefinition(name))
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
	case err != nil:
		return false, fmt.Errorf("store: create table %s: %w", name, err)
	default:
		created = true
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return created, fmt.Errorf("store: wait for table %s: %w", name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !ttlUnsupportedOrSet(err) {
		return created, fmt.Errorf("store: enable TTL on %s: %w", name, err)
	}
	return created, nil
}

// ttlUnsupportedOrSet recognises the answers that leave nothing to do: the
// engine has no TTL (dynalite answers UnknownOperationException), or TTL is
// already on (DynamoDB answers ValidationException).
func ttlUnsupportedOrSet(err error) bool {
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "UnknownOperationException", "ValidationException":
		return true
	}
	return false
}

// DeleteTable drops the table; tests use it to clean up.
func DeleteTable(ctx context.Context, db *dynamodb.Client, name string) error {
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
		return fmt.Errorf("store: delete table %s: %w", name, err)
	}
	return nil
}
