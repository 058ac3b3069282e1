// Package connectionsdb is the DynamoDB adapter of connections
// (internal/connections). Its items and access patterns are written down in
// internal/store/keys.go.
//
// A connection is one item, ACCOUNT#<account> / CONNECTION#<id>: its public
// fields, and the sealed credentials as four attributes (the wrapping key's id
// and three binary ones: the wrapped data key, the nonce and the
// ciphertext), never the plaintext. Reads for the routes project the public
// fields only, so the sealed attributes do not even travel to them.
package connectionsdb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store"
)

// Store keeps connections in the table. Its methods return
// domain.ErrNotFound for a connection that is absent or another account's.
type Store struct {
	db    *dynamodb.Client
	table string
}

var (
	_ connections.Store       = (*Store)(nil)
	_ connections.SealedStore = (*Store)(nil)
)

// New returns the connection store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table}
}

// The item's attribute names. name and type are DynamoDB reserved words, so
// expressions name every attribute through a placeholder (#name, ...).
const (
	attrID             = "connectionId"
	attrAccount        = "accountId"
	attrName           = "name"
	attrType           = "type"
	attrCreatedAt      = "createdAt"
	attrUpdatedAt      = "updatedAt"
	attrSealKeyID      = "sealKeyId"
	attrSealWrappedKey = "sealWrappedKey"
	attrSealNonce      = "sealNonce"
	attrSealCiphertext = "sealCiphertext"
)

// item is a connection as stored. Times are Unix milliseconds.
type item struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	ID             string `dynamodbav:"connectionId"`
	AccountID      string `dynamodbav:"accountId"`
	Name           string `dynamodbav:"name"`
	Type           string `dynamodbav:"type"`
	CreatedAt      int64  `dynamodbav:"createdAt"`
	UpdatedAt      int64  `dynamodbav:"updatedAt"`
	SealKeyID      string `dynamodbav:"sealKeyId,omitempty"`
	SealWrappedKey []byte `dynamodbav:"sealWrappedKey,omitempty"`
	SealNonce      []byte `dynamodbav:"sealNonce,omitempty"`
	SealCiphertext []byte `dynamodbav:"sealCiphertext,omitempty"`
}

func (it item) toDomain() connections.Connection {
	return connections.Connection{
		ID: it.ID, AccountID: it.AccountID, Name: it.Name, Type: connections.Type(it.Type),
		CreatedAt: time.UnixMilli(it.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(it.UpdatedAt).UTC(),
	}
}

func (it item) sealed() secrets.Sealed {
	return secrets.Sealed{KeyID: it.SealKeyID, WrappedKey: it.SealWrappedKey, Nonce: it.SealNonce, Ciphertext: it.SealCiphertext}
}

// publicProjection reads the fields a route shows, and no sealed attribute.
var publicProjection = struct {
	expression string
	names      map[string]string
}{
	expression: "#id, #name, #type, #createdAt, #updatedAt, #accountId",
	names: map[string]string{
		"#id": attrID, "#name": attrName, "#type": attrType, "#createdAt": attrCreatedAt,
		"#updatedAt": attrUpdatedAt, "#accountId": attrAccount,
	},
}

// Create stores a new connection with its sealed credentials; the id is
// fresh, and the condition makes sure no item is overwritten if it were not.
func (s *Store) Create(ctx context.Context, c connections.Connection, sealed secrets.Sealed) error {
	av, err := attributevalue.MarshalMap(item{
		PK: store.AccountPK(c.AccountID), SK: store.ConnectionSK(c.ID), ID: c.ID, AccountID: c.AccountID,
		Name: c.Name, Type: string(c.Type), CreatedAt: c.CreatedAt.UnixMilli(), UpdatedAt: c.UpdatedAt.UnixMilli(),
		SealKeyID: sealed.KeyID, SealWrappedKey: sealed.WrappedKey, SealNonce: sealed.Nonce, SealCiphertext: sealed.Ciphertext,
	})
	if err != nil {
		return fmt.Errorf("connectionsdb: marshal connection %s: %w", c.ID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return fmt.Errorf("connectionsdb: put connection %s: %w", c.ID, err)
	}
	return nil
}

// Get returns an account's connection without its credentials: one strongly
// consistent GetItem, so a connection just made or replaced reads back as it
// is.
func (s *Store) Get(ctx context.Context, account, connectionID string) (connections.Connection, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      store.ItemKey(store.AccountPK(account), store.ConnectionSK(connectionID)),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String(publicProjection.expression),
		ExpressionAttributeNames: publicProjection.names,
	})
	if err != nil {
		return connections.Connection{}, fmt.Errorf("connectionsdb: get connection %s: %w", connectionID, err)
	}
	return decode(out.Item, connectionID)
}

// Sealed returns an account's connection with its sealed credentials, for
// connections.Opener (the runner); no route calls it.
func (s *Store) Sealed(ctx context.Context, account, connectionID string) (connections.Connection, secrets.Sealed, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(account), store.ConnectionSK(connectionID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return connections.Connection{}, secrets.Sealed{}, fmt.Errorf("connectionsdb: get sealed connection %s: %w", connectionID, err)
	}
	if out.Item == nil {
		return connections.Connection{}, secrets.Sealed{}, domain.ErrNotFound
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return connections.Connection{}, secrets.Sealed{}, fmt.Errorf("connectionsdb: unmarshal connection %s: %w", connectionID, err)
	}
	return it.toDomain(), it.sealed(), nil
}

// decode reads a connection from an item; a nil item is not found.
func decode(av map[string]types.AttributeValue, connectionID string) (connections.Connection, error) {
	if av == nil {
		return connections.Connection{}, domain.ErrNotFound
	}
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return connections.Connection{}, fmt.Errorf("connectionsdb: unmarshal connection %s: %w", connectionID, err)
	}
	return it.toDomain(), nil
}

// List returns an account's connections, newest first (ids sort by creation
// time). cursor is "" or a NextCursor of an earlier page. One strongly
// consistent Query per page, of the public fields only
// (store.QueryNewestFirst: limit+1 items, so the last page says it is the
// last, and a cursor never leads to an empty page).
func (s *Store) List(ctx context.Context, account string, limit int, cursor string) (domain.Page[connections.Connection], error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			":sk": &types.AttributeValueMemberS{Value: store.PrefixConnection},
		},
		ProjectionExpression:     aws.String(publicProjection.expression),
		ExpressionAttributeNames: publicProjection.names,
		ConsistentRead:           aws.Bool(true),
	}
	var startKey map[string]types.AttributeValue
	if cursor != "" {
		id, err := store.DecodeCursor(cursor, ids.PrefixConnection)
		if err != nil {
			return domain.Page[connections.Connection]{}, err
		}
		startKey = store.ItemKey(store.AccountPK(account), store.ConnectionSK(id))
	}
	connectionsOf := func(_ context.Context, raw []map[string]types.AttributeValue) ([]connections.Connection, error) {
		var items []item
		if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
			return nil, fmt.Errorf("unmarshal connections: %w", err)
		}
		out := make([]connections.Connection, 0, len(items))
		for _, it := range items {
			out = append(out, it.toDomain())
		}
		return out, nil
	}
	page, err := store.QueryNewestFirst(ctx, s.db, in, limit, startKey, connectionsOf, func(c connections.Connection) string { return c.ID })
	if err != nil {
		return domain.Page[connections.Connection]{}, fmt.Errorf("connectionsdb: list connections: %w", err)
	}
	return page, nil
}

// Replace sets an existing connection's name, type, updatedAt and sealed
// credentials in one UpdateItem, on the condition that it exists in the
// account (ErrNotFound otherwise, with nothing written), and returns it as
// it is afterwards.
func (s *Store) Replace(ctx context.Context, c connections.Connection, sealed secrets.Sealed) (connections.Connection, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 store.ItemKey(store.AccountPK(c.AccountID), store.ConnectionSK(c.ID)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
		UpdateExpression: aws.String("SET #name = :name, #type = :type, #updatedAt = :updatedAt, " +
			"#keyId = :keyId, #wrappedKey = :wrappedKey, #nonce = :nonce, #ciphertext = :ciphertext"),
		ExpressionAttributeNames: map[string]string{
			"#name": attrName, "#type": attrType, "#updatedAt": attrUpdatedAt, "#keyId": attrSealKeyID,
			"#wrappedKey": attrSealWrappedKey, "#nonce": attrSealNonce, "#ciphertext": attrSealCiphertext,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":name":       &types.AttributeValueMemberS{Value: c.Name},
			":type":       &types.AttributeValueMemberS{Value: string(c.Type)},
			":updatedAt":  store.NumberAV(c.UpdatedAt.UnixMilli()),
			":keyId":      &types.AttributeValueMemberS{Value: sealed.KeyID},
			":wrappedKey": &types.AttributeValueMemberB{Value: sealed.WrappedKey},
			":nonce":      &types.AttributeValueMemberB{Value: sealed.Nonce},
			":ciphertext": &types.AttributeValueMemberB{Value: sealed.Ciphertext},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		return connections.Connection{}, domain.ErrNotFound
	}
	if err != nil {
		return connections.Connection{}, fmt.Errorf("connectionsdb: replace connection %s: %w", c.ID, err)
	}
	return decode(out.Attributes, c.ID)
}

// Delete deletes an account's connection in one DeleteItem, on the
// condition that it exists (ErrNotFound otherwise), and returns it as it
// was.
func (s *Store) Delete(ctx context.Context, account, connectionID string) (connections.Connection, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.table),
		Key:                 store.ItemKey(store.AccountPK(account), store.ConnectionSK(connectionID)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
		ReturnValues:        types.ReturnValueAllOld,
	})
	if store.IsConditionFailed(err) {
		return connections.Connection{}, domain.ErrNotFound
	}
	if err != nil {
		return connections.Connection{}, fmt.Errorf("connectionsdb: delete connection %s: %w", connectionID, err)
	}
	return decode(out.Attributes, connectionID)
}
