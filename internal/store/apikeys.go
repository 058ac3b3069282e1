package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
)

// APIKeys stores API keys. Its methods return domain.ErrNotFound for a key
// that does not exist or belongs to another account.
type APIKeys struct {
	db    *dynamodb.Client
	table string
}

// NewAPIKeys returns the key store on table.
func NewAPIKeys(db *dynamodb.Client, table string) *APIKeys {
	return &APIKeys{db: db, table: table}
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

func (it keyAuthItem) toDomain() domain.APIKey {
	scopes, _ := domain.NormalizeScopes(it.Scopes)
	return domain.APIKey{
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
func (s *APIKeys) Create(ctx context.Context, k domain.APIKey, hash string) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	index := keyIndexItem{PK: accountPK(k.AccountID), SK: keyIndexSK(k.ID), KeyHash: hash}
	auth := keyAuthItem{
		PK: keyHashPK(hash), SK: sortKeyHash, KeyHash: hash, KeyID: k.ID, AccountID: k.AccountID,
		Name: k.Name, Prefix: k.Prefix, Scopes: scopes, RateLimitID: k.RateLimitID,
		CreatedAt: k.CreatedAt.UnixMilli(), ExpiresAt: millis(k.ExpiresAt), RevokedAt: millis(k.RevokedAt),
	}
	for _, item := range []any{index, auth} {
		av, err := attributevalue.MarshalMap(item)
		if err != nil {
			return fmt.Errorf("store: marshal key %s: %w", k.ID, err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.table),
			Item:                av,
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		})
		if err != nil {
			return fmt.Errorf("store: put key %s: %w", k.ID, err)
		}
	}
	return nil
}

// ByHash returns the key whose plaintext hashes to hash, with one strongly
// consistent GetItem, and the hash as stored (for a constant-time compare).
func (s *APIKeys) ByHash(ctx context.Context, hash string) (domain.APIKey, string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(keyHashPK(hash), sortKeyHash),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return domain.APIKey{}, "", fmt.Errorf("store: get key by hash: %w", err)
	}
	if out.Item == nil {
		return domain.APIKey{}, "", domain.ErrNotFound
	}
	var it keyAuthItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return domain.APIKey{}, "", fmt.Errorf("store: unmarshal key: %w", err)
	}
	return it.toDomain(), it.KeyHash, nil
}

// ByID returns an account's key by id.
func (s *APIKeys) ByID(ctx context.Context, account, keyID string) (domain.APIKey, error) {
	hash, err := s.hashByID(ctx, account, keyID)
	if err != nil {
		return domain.APIKey{}, err
	}
	k, _, err := s.ByHash(ctx, hash)
	if err != nil {
		return domain.APIKey{}, err
	}
	if k.AccountID != account {
		return domain.APIKey{}, domain.ErrNotFound
	}
	return k, nil
}

// hashByID reads the index item of an account's key: the only way from a key
// id to its auth item, and what makes another account's key id a 404.
func (s *APIKeys) hashByID(ctx context.Context, account, keyID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(accountPK(account), keyIndexSK(keyID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("store: get key index %s: %w", keyID, err)
	}
	if out.Item == nil {
		return "", domain.ErrNotFound
	}
	var index keyIndexItem
	if err := attributevalue.UnmarshalMap(out.Item, &index); err != nil {
		return "", fmt.Errorf("store: unmarshal key index %s: %w", keyID, err)
	}
	return index.KeyHash, nil
}

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	// NextCursor is empty on the last page.
	NextCursor string
}

// ErrBadCursor is returned for a cursor this store did not make.
var ErrBadCursor = errors.New("store: invalid cursor")

// List returns an account's keys, newest first. cursor is "" or a
// NextCursor from an earlier page.
func (s *APIKeys) List(ctx context.Context, account string, limit int, cursor string) (Page[domain.APIKey], error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: accountPK(account)},
			":sk": &types.AttributeValueMemberS{Value: prefixKeyIndex},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
	}
	if cursor != "" {
		keyID, err := decodeCursor(cursor, ids.PrefixKey)
		if err != nil {
			return Page[domain.APIKey]{}, err
		}
		in.ExclusiveStartKey = itemKey(accountPK(account), keyIndexSK(keyID))
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return Page[domain.APIKey]{}, fmt.Errorf("store: query keys: %w", err)
	}
	var index []keyIndexItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &index); err != nil {
		return Page[domain.APIKey]{}, fmt.Errorf("store: unmarshal key index: %w", err)
	}
	byHash, err := s.batchGetAuth(ctx, index)
	if err != nil {
		return Page[domain.APIKey]{}, err
	}
	page := Page[domain.APIKey]{Items: []domain.APIKey{}}
	for _, ix := range index {
		if it, ok := byHash[ix.KeyHash]; ok && it.AccountID == account {
			page.Items = append(page.Items, it.toDomain())
		}
	}
	if out.LastEvaluatedKey != nil && len(index) > 0 {
		page.NextCursor = encodeCursor(keyIDFromIndexSK(index[len(index)-1].SK))
	}
	return page, nil
}

func (s *APIKeys) batchGetAuth(ctx context.Context, index []keyIndexItem) (map[string]keyAuthItem, error) {
	found := map[string]keyAuthItem{}
	if len(index) == 0 {
		return found, nil
	}
	keys := make([]map[string]types.AttributeValue, len(index))
	for i, ix := range index {
		keys[i] = itemKey(keyHashPK(ix.KeyHash), sortKeyHash)
	}
	request := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	// BatchGetItem may return part of the answer; ask again for the rest,
	// a bounded number of times.
	for attempt := 0; len(request) > 0 && attempt < 5; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return nil, fmt.Errorf("store: batch get keys: %w", err)
		}
		var items []keyAuthItem
		if err := attributevalue.UnmarshalListOfMaps(out.Responses[s.table], &items); err != nil {
			return nil, fmt.Errorf("store: unmarshal keys: %w", err)
		}
		for _, it := range items {
			found[it.KeyHash] = it
		}
		request = out.UnprocessedKeys
	}
	if len(request) > 0 {
		return nil, errors.New("store: batch get keys: unprocessed keys remain")
	}
	return found, nil
}

// Revoke revokes an account's key at `at`. Revoking a revoked key changes
// nothing and is not an error. It returns the key as it is afterwards.
func (s *APIKeys) Revoke(ctx context.Context, account, keyID string, at time.Time) (domain.APIKey, error) {
	return s.updateAuthItem(ctx, account, keyID, "SET revokedAt = :at", "attribute_not_exists(revokedAt)", at)
}

// ExpireBy makes an account's key expire at `at` unless it already expires
// sooner. Rolling uses it to end the old key's grace period.
func (s *APIKeys) ExpireBy(ctx context.Context, account, keyID string, at time.Time) (domain.APIKey, error) {
	return s.updateAuthItem(ctx, account, keyID, "SET expiresAt = :at", "(attribute_not_exists(expiresAt) OR expiresAt > :at)", at)
}

// updateAuthItem applies update to the auth item of an account's key when
// condition holds, and returns the key as it is afterwards. A failed
// condition means there was nothing to do, and is not an error.
func (s *APIKeys) updateAuthItem(ctx context.Context, account, keyID, update, condition string, at time.Time) (domain.APIKey, error) {
	hash, err := s.hashByID(ctx, account, keyID)
	if err != nil {
		return domain.APIKey{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(keyHashPK(hash), sortKeyHash),
		UpdateExpression:    aws.String(update),
		ConditionExpression: aws.String("attribute_exists(PK) AND accountId = :account AND " + condition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":      numberAV(at.UnixMilli()),
			":account": &types.AttributeValueMemberS{Value: account},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		k, _, err := s.ByHash(ctx, hash)
		if err != nil || k.AccountID != account {
			return domain.APIKey{}, domain.ErrNotFound
		}
		return k, nil
	}
	if err != nil {
		return domain.APIKey{}, fmt.Errorf("store: update key %s: %w", keyID, err)
	}
	var updated keyAuthItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &updated); err != nil {
		return domain.APIKey{}, fmt.Errorf("store: unmarshal key %s: %w", keyID, err)
	}
	return updated.toDomain(), nil
}

// TouchLastUsed records that the key with this hash was used at `at`, unless
// it was recorded less than staleAfter before: the condition makes it at most
// one write per key per staleAfter, however many callers race.
func (s *APIKeys) TouchLastUsed(ctx context.Context, hash string, at time.Time, staleAfter time.Duration) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(keyHashPK(hash), sortKeyHash),
		UpdateExpression:    aws.String("SET lastUsedAt = :at"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt <= :staleBefore)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":          numberAV(at.UnixMilli()),
			":staleBefore": numberAV(at.Add(-staleAfter).UnixMilli()),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: touch key: %w", err)
	}
	return nil
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func numberAV(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// Cursors carry only the id of the last item of a page; the store rebuilds
// the key from the caller's own account, so a cursor cannot reach another
// account's items.
func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(cursor, idPrefix string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !ids.Valid(idPrefix, string(raw)) {
		return "", ErrBadCursor
	}
	return string(raw), nil
}
