package pipelinedb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/store"
)

// KeyUsage records when a key was last used, on the key's auth item (the
// item the authorizer reads, so it hands the time on in its context).
type KeyUsage struct {
	db    *dynamodb.Client
	table string
}

// NewKeyUsage returns the recorder on table.
func NewKeyUsage(db *dynamodb.Client, table string) *KeyUsage {
	return &KeyUsage{db: db, table: table}
}

// RecordUse records that the key presented as plaintext was used at `at`,
// unless that was recorded less than staleAfter before: the condition makes
// it at most one write per key per staleAfter, however many callers race.
func (u *KeyUsage) RecordUse(ctx context.Context, plaintext string, at time.Time, staleAfter time.Duration) error {
	_, err := u.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(u.table),
		Key:                 store.ItemKey(store.KeyHashPK(apikey.Hash(plaintext)), store.SortKeyHash),
		UpdateExpression:    aws.String("SET lastUsedAt = :at"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt <= :staleBefore)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":          store.NumberAV(at.UnixMilli()),
			":staleBefore": store.NumberAV(at.Add(-staleAfter).UnixMilli()),
		},
	})
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("pipelinedb: record key use: %w", err)
	}
	return nil
}
