package connectionsdb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/store"
)

// Exists reports whether the account has the connection: one strongly
// consistent GetItem of its key alone, so the sealed credentials are not
// read. The workflow routes use it to refuse a step naming a connection
// that is not the account's.
func (s *Store) Exists(ctx context.Context, account, connectionID string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.table),
		Key:                  store.ItemKey(store.AccountPK(account), store.ConnectionSK(connectionID)),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String(store.AttrPK),
	})
	if err != nil {
		return false, fmt.Errorf("connectionsdb: read connection: %w", err)
	}
	return out.Item != nil, nil
}
