// Package keysdb is the DynamoDB adapter of key management (internal/keys)
// and of the authorizer's lookup by hash. Its items and access patterns are
// written down in internal/store/keys.go.
package keysdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/store"
)

// Store is keys.Store on DynamoDB. Its methods return domain.ErrNotFound
// for a key that does not exist or belongs to another account.
type Store struct {
	db    *dynamodb.Client
	table string
}

var _ keys.Store = (*Store)(nil)

// New returns the key store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table}
}

// keyAuthItem is the item the authorizer reads. Times are Unix milliseconds
// so that conditions can compare them.
type keyAuthItem struct {
	PK          string   `dynamodbav:"PK"`
	SK          string   `dynamodbav:"SK"`
	KeyHash     string   `dynamodbav:"keyHash"`
	KeyID       string   `dynamodbav:"keyId"`
	AccountID   string   `dynamodbav:"accountId"`
	Name        string   `dynamodbav:"name"`
	Prefix      string   `dynamodbav:"prefix"`
	Scopes      []string `dynamodbav:"scopes"`
	RateLimitID string   `dynamodbav:"rateLimitId"`
	CreatedAt   int64    `dynamodbav:"createdAt"`
	LastUsedAt  int64    `dynamodbav:"lastUsedAt,omitempty"`
	ExpiresAt   int64    `dynamodbav:"expiresAt,omitempty"`
	RevokedAt   int64    `dynamodbav:"revokedAt,omitempty"`
}

// keyIndexItem lists a key under its account.
type keyIndexItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	KeyHash string `dynamodbav:"keyHash"`
}

func millis(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func (it keyAuthItem) toDomain() keys.Key {
	scopes, _ := domain.NormalizeScopes(it.Scopes)
	return keys.Key{
		ID:          it.KeyID,
		AccountID:   it.AccountID,
		Name:        it.Name,
		Prefix:      it.Prefix,
		Scopes:      scopes,
		CreatedAt:   time.UnixMilli(it.CreatedAt).UTC(),
		LastUsedAt:  timeOf(it.LastUsedAt),
		ExpiresAt:   timeOf(it.ExpiresAt),
		RevokedAt:   timeOf(it.RevokedAt),
		RateLimitID: it.RateLimitID,
	}
}

// Create stores a new key given its metadata and the hash of its plaintext.
// The index item is written first, so a key never works without being
// listed (and so revocable); a failure in between leaves only an index item
// that listings skip.
func (s *Store) Create(ctx context.Context, k keys.Key, hash string) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	index := keyIndexItem{PK: store.AccountPK(k.AccountID), SK: store.KeyIndexSK(k.ID), KeyHash: hash}
	auth := keyAuthItem{
		PK: store.KeyHashPK(hash), SK: store.SortKeyHash, KeyHash: hash, KeyID: k.ID, AccountID: k.AccountID,
		Name: k.Name, Prefix: k.Prefix, Scopes: scopes, RateLimitID: k.RateLimitID,
		CreatedAt: k.CreatedAt.UnixMilli(), ExpiresAt: millis(k.ExpiresAt), RevokedAt: millis(k.RevokedAt),
	}
	for _, item := range []any{index, auth} {
		av, err := attributevalue.MarshalMap(item)
		if err != nil {
			return fmt.Errorf("keysdb: marshal key %s: %w", k.ID, err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.table),
			Item:                av,
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		})
		if err != nil {
			return fmt.Errorf("keysdb: put key %s: %w", k.ID, err)
		}
	}
	return nil
}

// ByHash returns the key whose plaintext hashes to hash, with one strongly
// consistent GetItem, and the hash as stored (for a constant-time compare).
func (s *Store) ByHash(ctx context.Context, hash string) (keys.Key, string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.KeyHashPK(hash), store.SortKeyHash),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return keys.Key{}, "", fmt.Errorf("keysdb: get key by hash: %w", err)
	}
	if out.Item == nil {
		return keys.Key{}, "", domain.ErrNotFound
	}
	var it keyAuthItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return keys.Key{}, "", fmt.Errorf("keysdb: unmarshal key: %w", err)
	}
	return it.toDomain(), it.KeyHash, nil
}

// ByID returns an account's key by id.
func (s *Store) ByID(ctx context.Context, account, keyID string) (keys.Key, error) {
	hash, err := s.hashByID(ctx, account, keyID)
	if err != nil {
		return keys.Key{}, err
	}
	k, _, err := s.ByHash(ctx, hash)
	if err != nil {
		return keys.Key{}, err
	}
	if k.AccountID != account {
		return keys.Key{}, domain.ErrNotFound
	}
	return k, nil
}

// hashByID reads the index item of an account's key: the only way from a key
// id to its auth item, and what makes another account's key id a 404.
func (s *Store) hashByID(ctx context.Context, account, keyID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(account), store.KeyIndexSK(keyID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("keysdb: get key index %s: %w", keyID, err)
	}
	if out.Item == nil {
		return "", domain.ErrNotFound
	}
	var index keyIndexItem
	if err := attributevalue.UnmarshalMap(out.Item, &index); err != nil {
		return "", fmt.Errorf("keysdb: unmarshal key index %s: %w", keyID, err)
	}
	return index.KeyHash, nil
}

// List returns an account's keys, newest first. cursor is "" or a
// NextCursor from an earlier page. It Queries the account's index items and
// BatchGetItems their auth items (store.QueryNewestFirst: limit+1 of them,
// so a cursor always leads to a non-empty page), leaving out an index item
// whose auth item is missing (a create that failed in between) or of
// another account.
func (s *Store) List(ctx context.Context, account string, limit int, cursor string) (domain.Page[keys.Key], error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			":sk": &types.AttributeValueMemberS{Value: store.PrefixKeyIndex},
		},
	}
	var startKey map[string]types.AttributeValue
	if cursor != "" {
		keyID, err := store.DecodeCursor(cursor, ids.PrefixKey)
		if err != nil {
			return domain.Page[keys.Key]{}, err
		}
		startKey = store.ItemKey(store.AccountPK(account), store.KeyIndexSK(keyID))
	}
	keep := func(ctx context.Context, raw []map[string]types.AttributeValue) ([]keys.Key, error) {
		var index []keyIndexItem
		if err := attributevalue.UnmarshalListOfMaps(raw, &index); err != nil {
			return nil, fmt.Errorf("unmarshal key index: %w", err)
		}
		byHash, err := s.batchGetAuth(ctx, index)
		if err != nil {
			return nil, err
		}
		kept := make([]keys.Key, 0, len(index))
		for _, ix := range index {
			if it, ok := byHash[ix.KeyHash]; ok && it.AccountID == account {
				kept = append(kept, it.toDomain())
			}
		}
		return kept, nil
	}
	page, err := store.QueryNewestFirst(ctx, s.db, in, limit, startKey, keep, func(k keys.Key) string { return k.ID })
	if err != nil {
		return domain.Page[keys.Key]{}, fmt.Errorf("keysdb: list keys: %w", err)
	}
	return page, nil
}

// maxBatchGetKeys is the most keys one BatchGetItem may name; a page of 100
// keys reads 101 index items (the one more says whether a next page exists).
const maxBatchGetKeys = 100

func (s *Store) batchGetAuth(ctx context.Context, index []keyIndexItem) (map[string]keyAuthItem, error) {
	found := map[string]keyAuthItem{}
	for len(index) > 0 {
		batch := index[:min(len(index), maxBatchGetKeys)]
		index = index[len(batch):]
		if err := s.batchGetAuthInto(ctx, batch, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func (s *Store) batchGetAuthInto(ctx context.Context, index []keyIndexItem, found map[string]keyAuthItem) error {
	keys := make([]map[string]types.AttributeValue, len(index))
	for i, ix := range index {
		keys[i] = store.ItemKey(store.KeyHashPK(ix.KeyHash), store.SortKeyHash)
	}
	request := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	// BatchGetItem may return part of the answer; ask again for the rest,
	// a bounded number of times.
	for attempt := 0; len(request) > 0 && attempt < 5; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return fmt.Errorf("keysdb: batch get keys: %w", err)
		}
		var items []keyAuthItem
		if err := attributevalue.UnmarshalListOfMaps(out.Responses[s.table], &items); err != nil {
			return fmt.Errorf("keysdb: unmarshal keys: %w", err)
		}
		for _, it := range items {
			found[it.KeyHash] = it
		}
		request = out.UnprocessedKeys
	}
	if len(request) > 0 {
		return errors.New("keysdb: batch get keys: unprocessed keys remain")
	}
	return nil
}

// Revoke revokes an account's key at `at`. Revoking a revoked key changes
// nothing and is not an error. It returns the key as it is afterwards.
func (s *Store) Revoke(ctx context.Context, account, keyID string, at time.Time, allow func(keys.Key) error) (keys.Key, error) {
	return s.updateAuthItem(ctx, account, keyID, "SET revokedAt = :at", "attribute_not_exists(revokedAt)", at, allow)
}

// ExpireBy makes an account's key expire at `at` unless it already expires
// sooner. Rolling uses it to end the old key's grace period.
func (s *Store) ExpireBy(ctx context.Context, account, keyID string, at time.Time) (keys.Key, error) {
	return s.updateAuthItem(ctx, account, keyID, "SET expiresAt = :at", "(attribute_not_exists(expiresAt) OR expiresAt > :at)", at, nil)
}

// updateAuthItem applies update to the auth item of an account's key when
// condition holds, and returns the key as it is afterwards. A failed
// condition means there was nothing to do, and is not an error. If allow is
// given, the key is read first and handed to it; its error stops the update.
func (s *Store) updateAuthItem(ctx context.Context, account, keyID, update, condition string, at time.Time, allow func(keys.Key) error) (keys.Key, error) {
	hash, err := s.hashByID(ctx, account, keyID)
	if err != nil {
		return keys.Key{}, err
	}
	if allow != nil {
		k, _, err := s.ByHash(ctx, hash)
		if err == nil && k.AccountID != account {
			err = domain.ErrNotFound
		}
		if err != nil {
			return keys.Key{}, err
		}
		if err := allow(k); err != nil {
			return keys.Key{}, err
		}
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 store.ItemKey(store.KeyHashPK(hash), store.SortKeyHash),
		UpdateExpression:    aws.String(update),
		ConditionExpression: aws.String("attribute_exists(PK) AND accountId = :account AND " + condition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":      store.NumberAV(at.UnixMilli()),
			":account": &types.AttributeValueMemberS{Value: account},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		k, _, err := s.ByHash(ctx, hash)
		if err != nil || k.AccountID != account {
			return keys.Key{}, domain.ErrNotFound
		}
		return k, nil
	}
	if err != nil {
		return keys.Key{}, fmt.Errorf("keysdb: update key %s: %w", keyID, err)
	}
	var updated keyAuthItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &updated); err != nil {
		return keys.Key{}, fmt.Errorf("keysdb: unmarshal key %s: %w", keyID, err)
	}
	return updated.toDomain(), nil
}
