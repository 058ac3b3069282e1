package runsdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store"
)

// slotItem is a taken slot of a concurrency group, or a queued run
// (queued: no index, no lease): both live in the group's partition.
type slotItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	RunID      string `dynamodbav:"runId"`
	AccountID  string `dynamodbav:"accountId"`
	Index      int    `dynamodbav:"index,omitempty"`
	LeaseUntil int64  `dynamodbav:"leaseUntil,omitempty"`
	TaskToken  string `dynamodbav:"taskToken,omitempty"`
	TTL        int64  `dynamodbav:"ttl,omitempty"`
}

// Slots reads a concurrency group: one strongly consistent Query of its
// partition (paged; a limit of 1000 slots is about 100 KB), slots then
// queued runs, each in SK order.
func (s *Store) Slots(ctx context.Context, group string) (runs.SlotState, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.ConcurrencyPK(group)}},
		ConsistentRead:            aws.Bool(true),
	}
	var state runs.SlotState
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return runs.SlotState{}, fmt.Errorf("runsdb: query concurrency group: %w", err)
		}
		var page []slotItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return runs.SlotState{}, fmt.Errorf("runsdb: unmarshal concurrency group: %w", err)
		}
		for _, it := range page {
			switch {
			case strings.HasPrefix(it.SK, store.PrefixSlot):
				state.Held = append(state.Held, runs.Slot{Index: it.Index, RunID: it.RunID, AccountID: it.AccountID, LeaseUntil: fromMillis(it.LeaseUntil)})
			case strings.HasPrefix(it.SK, store.PrefixQueued):
				state.Queue = append(state.Queue, runs.QueuedRun{RunID: it.RunID, AccountID: it.AccountID, TaskToken: it.TaskToken})
			}
		}
		if out.LastEvaluatedKey == nil {
			return state, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// TakeSlot writes the slot, if it is absent, its lease is over or it is
// the run's already.
func (s *Store) TakeSlot(ctx context.Context, group string, slot runs.Slot, now time.Time) error {
	it := slotItem{PK: store.ConcurrencyPK(group), SK: store.SlotSK(slot.Index), RunID: slot.RunID, AccountID: slot.AccountID,
		Index: slot.Index, LeaseUntil: millis(slot.LeaseUntil), TTL: ttlOf(slot.LeaseUntil.Add(runs.StoreGrace))}
	err := s.put(ctx, it, "attribute_not_exists(PK) OR runId = :me OR leaseUntil <= :now", nil, map[string]types.AttributeValue{
		":me": &types.AttributeValueMemberS{Value: slot.RunID}, ":now": store.NumberAV(millis(now)),
	})
	if store.IsConditionFailed(err) {
		return runs.ErrRevision
	}
	if err != nil {
		return fmt.Errorf("runsdb: take slot %d: %w", slot.Index, err)
	}
	return nil
}

// FreeSlot deletes the slot if runID holds it.
func (s *Store) FreeSlot(ctx context.Context, group string, index int, runID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.ItemKey(store.ConcurrencyPK(group), store.SlotSK(index)),
		ConditionExpression:       aws.String("runId = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": &types.AttributeValueMemberS{Value: runID}},
	})
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("runsdb: free slot %d: %w", index, err)
	}
	return nil
}

// Enqueue writes a run's queue entry unless it has one (which may hold its
// task token already).
func (s *Store) Enqueue(ctx context.Context, group string, q runs.QueuedRun, expires time.Time) error {
	it := slotItem{PK: store.ConcurrencyPK(group), SK: store.QueuedSK(q.RunID), RunID: q.RunID, AccountID: q.AccountID, TTL: ttlOf(expires)}
	err := s.put(ctx, it, "attribute_not_exists(PK)", nil, nil)
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("runsdb: enqueue %s: %w", q.RunID, err)
	}
	return nil
}

// Dequeue deletes a run's queue entry.
func (s *Store) Dequeue(ctx context.Context, group, runID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       store.ItemKey(store.ConcurrencyPK(group), store.QueuedSK(runID)),
	})
	if err != nil {
		return fmt.Errorf("runsdb: dequeue %s: %w", runID, err)
	}
	return nil
}

// KeepQueueToken sets the task token of a run's queue entry.
func (s *Store) KeepQueueToken(ctx context.Context, group, runID, token string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.ItemKey(store.ConcurrencyPK(group), store.QueuedSK(runID)),
		UpdateExpression:          aws.String("SET taskToken = :token"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": &types.AttributeValueMemberS{Value: token}},
	})
	if store.IsConditionFailed(err) {
		return domain.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("runsdb: keep the queue token of %s: %w", runID, err)
	}
	return nil
}
