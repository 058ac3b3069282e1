package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// A table made by an earlier release (one index, as local .data/ tables
// were) gains the indexes it lacks when the local gateway or wfctl starts,
// and keeps its items.
func TestEnsureTableAddsMissingIndexes(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t) // for its client and a fresh name
	table.Name += "-old"
	t.Cleanup(func() { _ = store.DeleteTable(context.Background(), table.Client, table.Name) })
	old := store.TableDefinition(table.Name)
	old.GlobalSecondaryIndexes = old.GlobalSecondaryIndexes[:1]
	old.AttributeDefinitions = old.AttributeDefinitions[:4]
	if _, err := table.Client.CreateTable(ctx, old); err != nil {
		t.Fatal(err)
	}
	fast := func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second }
	if err := dynamodb.NewTableExistsWaiter(table.Client, fast).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table.Name)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: store.ItemKey("ACCOUNT#a", "KEEP")}); err != nil {
		t.Fatal(err)
	}

	created, err := store.EnsureTable(ctx, table.Client, table.Name)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("EnsureTable reports it created a table that existed")
	}
	desc, err := table.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table.Name)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, gsi := range desc.Table.GlobalSecondaryIndexes {
		names = append(names, aws.ToString(gsi.IndexName))
	}
	if len(names) != 2 || !contains(names, store.IndexGSI1) || !contains(names, store.IndexGSI2) {
		t.Fatalf("indexes after EnsureTable: %v, want %s and %s", names, store.IndexGSI1, store.IndexGSI2)
	}
	got, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table.Name), Key: store.ItemKey("ACCOUNT#a", "KEEP"), ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("the item written before the upgrade is gone: %v", err)
	}
	// A second start has nothing to add.
	if _, err := store.EnsureTable(ctx, table.Client, table.Name); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
