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
	AttrGSI2PK = "GSI2PK"
	AttrGSI2SK = "GSI2SK"
	// AttrTTL holds, in Unix seconds, when DynamoDB may delete an item (rate
	// counters today; idempotency records later).
	AttrTTL = "ttl"
	// IndexGSI1 and IndexGSI2 are the secondary indexes, overloaded: what
	// each holds for each kind of item is planned in keys.go (runs by
	// workflow, runs by status). They are both in place before the first
	// item that uses them, because a deployed table gains one GSI per update.
	IndexGSI1 = "GSI1"
	IndexGSI2 = "GSI2"
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
			{AttributeName: aws.String(AttrGSI2PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrGSI2SK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(IndexGSI1, AttrGSI1PK, AttrGSI1SK),
			index(IndexGSI2, AttrGSI2PK, AttrGSI2SK),
		},
	}
}

// index is a global secondary index projecting every attribute: a listing
// reads whole items from it, as from the table.
func index(name, pk, sk string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
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
	if err := ensureIndexes(ctx, db, name); err != nil {
		return created, err
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

// ensureIndexes adds the indexes of TableDefinition that a table made by an
// earlier release lacks (a local .data/ table from before GSI2), so data kept
// under .data/ survives an upgrade. DynamoDB adds an index in place, one per
// UpdateTable; dynalite accepts the call but never builds the index, so there
// the table is rebuilt: its items are copied to a new table with the whole
// definition. (A deployed table gets its indexes from CloudFormation, not
// from here.)
func ensureIndexes(ctx context.Context, db *dynamodb.Client, name string) error {
	for _, want := range TableDefinition(name).GlobalSecondaryIndexes {
		table, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("store: describe table %s: %w", name, err)
		}
		if hasIndex(table.Table, *want.IndexName) {
			continue
		}
		create := &types.CreateGlobalSecondaryIndexAction{IndexName: want.IndexName, KeySchema: want.KeySchema, Projection: want.Projection}
		update := &dynamodb.UpdateTableInput{
			TableName:                   aws.String(name),
			AttributeDefinitions:        TableDefinition(name).AttributeDefinitions,
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: create}},
		}
		out, err := db.UpdateTable(ctx, update)
		if isValidation(err) {
			// dynalite wants a throughput even on an on-demand table.
			create.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}
			out, err = db.UpdateTable(ctx, update)
		}
		if err != nil {
			return fmt.Errorf("store: add index %s to %s: %w", *want.IndexName, name, err)
		}
		if !hasIndex(out.TableDescription, *want.IndexName) {
			return rebuild(ctx, db, name)
		}
		if err := waitIndexActive(ctx, db, name, *want.IndexName); err != nil {
			return err
		}
	}
	return nil
}

// rebuild gives the table name the whole TableDefinition by copying its items
// out to a new table, recreating it and copying them back. It is for the
// local engine only, which cannot add an index to a table; the one Scan of
// the code base is here, and runs once per upgrade of a local table.
func rebuild(ctx context.Context, db *dynamodb.Client, name string) error {
	spare := name + "-upgrade"
	if _, err := EnsureTable(ctx, db, spare); err != nil {
		return err
	}
	if err := copyItems(ctx, db, name, spare); err != nil {
		return err
	}
	if err := DeleteTable(ctx, db, name); err != nil {
		return err
	}
	gone := dynamodb.NewTableNotExistsWaiter(db, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := gone.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("store: wait for %s to go: %w", name, err)
	}
	if _, err := EnsureTable(ctx, db, name); err != nil {
		return err
	}
	if err := copyItems(ctx, db, spare, name); err != nil {
		return err
	}
	return DeleteTable(ctx, db, spare)
}

func copyItems(ctx context.Context, db *dynamodb.Client, from, to string) error {
	pages := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(from), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("store: copy %s: %w", from, err)
		}
		for _, item := range page.Items {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(to), Item: item}); err != nil {
				return fmt.Errorf("store: copy %s to %s: %w", from, to, err)
			}
		}
	}
	return nil
}

func isValidation(err error) bool {
	var apiErr interface{ ErrorCode() string }
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}

func hasIndex(table *types.TableDescription, index string) bool {
	for _, gsi := range table.GlobalSecondaryIndexes {
		if aws.ToString(gsi.IndexName) == index {
			return true
		}
	}
	return false
}

func waitIndexActive(ctx context.Context, db *dynamodb.Client, table, index string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("store: describe table %s: %w", table, err)
		}
		for _, gsi := range out.Table.GlobalSecondaryIndexes {
			if aws.ToString(gsi.IndexName) == index && gsi.IndexStatus == types.IndexStatusActive && out.Table.TableStatus == types.TableStatusActive {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("store: index %s of %s not active after 2 minutes", index, table)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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
