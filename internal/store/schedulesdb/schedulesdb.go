// Package schedulesdb is the DynamoDB adapter of the schedule markers
// (internal/schedules): one item per workflow that is or was on a schedule
// trigger (PK SCHEDULE#<shard 0-15>, SK <workflow id>), so the reconcile
// finds the schedule workflows of every account with 16 Queries, and the
// one-time backfill that finds those stored before markers existed (the
// table's only Scan, run by an operator, never by a function). Items and
// access patterns are written down in internal/store/keys.go.
package schedulesdb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/store"
)

// Store is schedules.Markers (and the backfill's scanner) on DynamoDB.
type Store struct {
	db    *dynamodb.Client
	table string
}

var (
	_ schedules.Markers     = (*Store)(nil)
	_ schedules.HeadScanner = (*Store)(nil)
)

// New returns the marker store on table.
func New(db *dynamodb.Client, table string) *Store { return &Store{db: db, table: table} }

// markerItem is a marker. MarkedAt is Unix milliseconds.
type markerItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	AccountID  string `dynamodbav:"accountId"`
	WorkflowID string `dynamodbav:"workflowId"`
	MarkedAt   int64  `dynamodbav:"markedAt"`
}

// Put writes (or rewrites) a workflow's marker: one PutItem.
func (s *Store) Put(ctx context.Context, m schedules.Marker) error {
	item, err := attributevalue.MarshalMap(markerItem{
		PK: store.ScheduleMarkerPK(m.WorkflowID), SK: m.WorkflowID,
		AccountID: m.AccountID, WorkflowID: m.WorkflowID, MarkedAt: m.MarkedAt.UnixMilli(),
	})
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("schedulesdb: put the marker of %s: %w", m.WorkflowID, err)
	}
	return nil
}

// Delete deletes a workflow's marker (one DeleteItem); an absent one is no
// error.
func (s *Store) Delete(ctx context.Context, workflowID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.ScheduleMarkerPK(workflowID)},
			"SK": &types.AttributeValueMemberS{Value: workflowID},
		},
	})
	if err != nil {
		return fmt.Errorf("schedulesdb: delete the marker of %s: %w", workflowID, err)
	}
	return nil
}

// List reads every marker: a Query per shard, each paged to its end.
func (s *Store) List(ctx context.Context) ([]schedules.Marker, error) {
	var out []schedules.Marker
	for shard := range store.ScheduleMarkerShards {
		pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: store.ScheduleMarkerShardPK(shard)},
			},
			ConsistentRead: aws.Bool(true),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("schedulesdb: list the markers: %w", err)
			}
			var items []markerItem
			if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
				return nil, err
			}
			for _, it := range items {
				out = append(out, schedules.Marker{AccountID: it.AccountID, WorkflowID: it.WorkflowID, MarkedAt: time.UnixMilli(it.MarkedAt).UTC()})
			}
		}
	}
	return out, nil
}

// headItem is what the backfill reads of a workflow head (written by
// workflowsdb): its key and its trigger type.
type headItem struct {
	PK         string `dynamodbav:"PK"`
	WorkflowID string `dynamodbav:"workflowId"`
}

// ScanScheduleWorkflows reads the whole table once for the heads of
// workflows on a schedule trigger (SK WORKFLOW#…, triggerType schedule)
// and returns them as markers. It is the backfill of the workflows stored
// before markers existed: an operator runs it once (`wfctl schedules sync
// --backfill`); no function has dynamodb:Scan.
func (s *Store) ScanScheduleWorkflows(ctx context.Context) ([]schedules.Marker, error) {
	pages := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:            aws.String(s.table),
		FilterExpression:     aws.String("begins_with(SK, :head) AND triggerType = :schedule"),
		ProjectionExpression: aws.String("PK, workflowId"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":head":     &types.AttributeValueMemberS{Value: store.PrefixWorkflow},
			":schedule": &types.AttributeValueMemberS{Value: "schedule"},
		},
	})
	var out []schedules.Marker
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("schedulesdb: scan for schedule workflows: %w", err)
		}
		var items []headItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, err
		}
		for _, it := range items {
			account, ok := store.AccountOfPK(it.PK)
			if !ok || it.WorkflowID == "" {
				continue
			}
			out = append(out, schedules.Marker{AccountID: account, WorkflowID: it.WorkflowID})
		}
	}
	return out, nil
}
