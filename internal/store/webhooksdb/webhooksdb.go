// Package webhooksdb is the DynamoDB adapter of a workflow's secrets
// (internal/webhooks): the signing secret item of a webhook workflow (PK
// WEBHOOK#<workflow id>, SK WEBHOOK), the notification secret item of a
// workflow with notify (PK NOTIFY#<workflow id>, SK NOTIFY), and the two
// attributes of a workflow's head it reads (triggerType, hasNotify). Items
// and access patterns are written down in internal/store/keys.go.
package webhooksdb

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
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// Store is webhooks.Store on DynamoDB, for one kind of secret: the two
// kinds' items differ only in their key, so one adapter keeps both.
type Store struct {
	db    *dynamodb.Client
	table string
	// pk is the partition of a workflow's item of this kind; sk its SK.
	pk func(workflowID string) string
	sk string
}

var _ webhooks.Store = (*Store)(nil)

// New returns the store of webhook signing secrets on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, pk: store.WebhookSecretPK, sk: store.SortWebhookSecret}
}

// NewNotify returns the store of notification secrets on table.
func NewNotify(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, pk: store.NotifySecretPK, sk: store.SortNotifySecret}
}

// Attribute names the conditions and updates refer to.
const (
	attrAccount           = "accountId"
	attrCurrent           = "current"
	attrPrevious          = "previous"
	attrPreviousExpiresAt = "previousExpiresAt"
	attrRolledAt          = "rolledAt"
	// attrTriggerType is the workflow head's attribute naming its trigger
	// type, attrHasNotify the one saying it has a notify (both written by
	// the workflows adapter).
	attrTriggerType = "triggerType"
	attrHasNotify   = "hasNotify"
)

// sealedAttr is a secrets.Sealed as a map attribute: the wrapped data key,
// nonce and ciphertext, never the plaintext.
type sealedAttr struct {
	KeyID      string `dynamodbav:"keyId"`
	WrappedKey []byte `dynamodbav:"wrappedKey"`
	Nonce      []byte `dynamodbav:"nonce"`
	Ciphertext []byte `dynamodbav:"ciphertext"`
}

func sealedAttrOf(s secrets.Sealed) sealedAttr {
	return sealedAttr{KeyID: s.KeyID, WrappedKey: s.WrappedKey, Nonce: s.Nonce, Ciphertext: s.Ciphertext}
}

func (a sealedAttr) sealed() secrets.Sealed {
	return secrets.Sealed{KeyID: a.KeyID, WrappedKey: a.WrappedKey, Nonce: a.Nonce, Ciphertext: a.Ciphertext}
}

// secretItem is a workflow's secret item. Times are Unix milliseconds.
type secretItem struct {
	PK                string      `dynamodbav:"PK"`
	SK                string      `dynamodbav:"SK"`
	WorkflowID        string      `dynamodbav:"workflowId"`
	AccountID         string      `dynamodbav:"accountId"`
	Current           sealedAttr  `dynamodbav:"current"`
	Previous          *sealedAttr `dynamodbav:"previous,omitempty"`
	PreviousExpiresAt int64       `dynamodbav:"previousExpiresAt,omitempty"`
	CreatedAt         int64       `dynamodbav:"createdAt"`
	RolledAt          int64       `dynamodbav:"rolledAt,omitempty"`
}

func (s *Store) itemKey(workflowID string) map[string]types.AttributeValue {
	return store.ItemKey(s.pk(workflowID), s.sk)
}

// Put stores a workflow's secret item with no previous secret, replacing one
// of the same account. The condition keeps one account from ever replacing
// another's item (ids are unique, so this only guards against a bug).
func (s *Store) Put(ctx context.Context, rec webhooks.Record) error {
	av, err := attributevalue.MarshalMap(secretItem{
		PK: s.pk(rec.WorkflowID), SK: s.sk,
		WorkflowID: rec.WorkflowID, AccountID: rec.AccountID, Current: sealedAttrOf(rec.Current),
		CreatedAt: rec.CreatedAt.UnixMilli(),
	})
	if err != nil {
		return fmt.Errorf("webhooksdb: marshal the secret of %s: %w", rec.WorkflowID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #account = :account"),
		ExpressionAttributeNames:  map[string]string{"#account": attrAccount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":account": &types.AttributeValueMemberS{Value: rec.AccountID}},
	})
	if store.IsConditionFailed(err) {
		return domain.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("webhooksdb: put the secret of %s: %w", rec.WorkflowID, err)
	}
	return nil
}

// Delete deletes a workflow's secret item if it is the account's. A failed
// condition (absent, or another account's) leaves nothing of the account's
// to delete, and is not an error.
func (s *Store) Delete(ctx context.Context, account, workflowID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.itemKey(workflowID),
		ConditionExpression:       aws.String("#account = :account"),
		ExpressionAttributeNames:  map[string]string{"#account": attrAccount},
		ExpressionAttributeValues: map[string]types.AttributeValue{":account": &types.AttributeValueMemberS{Value: account}},
	})
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("webhooksdb: delete the secret of %s: %w", workflowID, err)
	}
	return nil
}

// WorkflowHead reads the workflow's head in the account (one strongly
// consistent GetItem of its triggerType and hasNotify alone, so a roll
// right after the PUT that gave a workflow its secret sees it). Another
// account's workflow is simply absent under this account's partition:
// domain.ErrNotFound.
func (s *Store) WorkflowHead(ctx context.Context, account, workflowID string) (webhooks.Head, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(account), store.WorkflowSK(workflowID)),
		ConsistentRead: aws.Bool(true),
		// PK too: a head without either attribute must still read as
		// present (an engine may answer no item at all for an empty
		// projection).
		ProjectionExpression:     aws.String("#pk, #trigger, #hasNotify"),
		ExpressionAttributeNames: map[string]string{"#pk": store.AttrPK, "#trigger": attrTriggerType, "#hasNotify": attrHasNotify},
	})
	if err != nil {
		return webhooks.Head{}, fmt.Errorf("webhooksdb: read the head of %s: %w", workflowID, err)
	}
	if out.Item == nil {
		return webhooks.Head{}, domain.ErrNotFound
	}
	// A head written before triggerType (or hasNotify) reads as on no
	// webhook trigger (or without notify).
	var head webhooks.Head
	if trigger, ok := out.Item[attrTriggerType].(*types.AttributeValueMemberS); ok {
		head.TriggerType = trigger.Value
	}
	if hasNotify, ok := out.Item[attrHasNotify].(*types.AttributeValueMemberBOOL); ok {
		head.HasNotify = hasNotify.Value
	}
	return head, nil
}

// Roll makes current the workflow's secret in one UpdateItem conditioned on
// the item being the account's: with keepPreviousUntil set, the secret it
// replaces becomes the previous one (DynamoDB evaluates `previous = current`
// on the item as it was, so no read is needed); without, any previous one
// is removed.
//
// An absent item (a workflow whose secret write was lost, say to a failure
// between the workflow's writes) is made anew by a second UpdateItem
// conditioned on its absence, so a roll repairs it rather than leaving the
// workflow unable to receive deliveries (or sign notifications). Another
// account's item is domain.ErrNotFound.
func (s *Store) Roll(ctx context.Context, account, workflowID string, current secrets.Sealed, keepPreviousUntil, at time.Time) error {
	currentAV, err := attributevalue.Marshal(sealedAttrOf(current))
	if err != nil {
		return fmt.Errorf("webhooksdb: marshal the secret of %s: %w", workflowID, err)
	}
	names := map[string]string{
		"#account": attrAccount, "#current": attrCurrent, "#previous": attrPrevious,
		"#previousExpiresAt": attrPreviousExpiresAt, "#rolledAt": attrRolledAt,
	}
	values := map[string]types.AttributeValue{
		":account": &types.AttributeValueMemberS{Value: account},
		":current": currentAV,
		":at":      store.NumberAV(at.UnixMilli()),
	}
	update := "SET #current = :current, #rolledAt = :at REMOVE #previous, #previousExpiresAt"
	if !keepPreviousUntil.IsZero() {
		update = "SET #previous = #current, #previousExpiresAt = :until, #current = :current, #rolledAt = :at"
		values[":until"] = store.NumberAV(keepPreviousUntil.UnixMilli())
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.itemKey(workflowID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#account = :account"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return nil
	}
	if !store.IsConditionFailed(err) {
		return fmt.Errorf("webhooksdb: roll the secret of %s: %w", workflowID, err)
	}
	return s.recreate(ctx, account, workflowID, currentAV, at)
}

// recreate writes a secret item that is absent, with no previous secret.
func (s *Store) recreate(ctx context.Context, account, workflowID string, currentAV types.AttributeValue, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 s.itemKey(workflowID),
		UpdateExpression:    aws.String("SET #account = :account, #workflow = :workflow, #current = :current, #createdAt = :at, #rolledAt = :at"),
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
		ExpressionAttributeNames: map[string]string{
			"#account": attrAccount, "#workflow": "workflowId", "#current": attrCurrent,
			"#createdAt": "createdAt", "#rolledAt": attrRolledAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":account":  &types.AttributeValueMemberS{Value: account},
			":workflow": &types.AttributeValueMemberS{Value: workflowID},
			":current":  currentAV,
			":at":       store.NumberAV(at.UnixMilli()),
		},
	})
	if store.IsConditionFailed(err) {
		return domain.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("webhooksdb: recreate the secret of %s: %w", workflowID, err)
	}
	return nil
}

// Get returns a workflow's secret item, read strongly consistently so a
// secret just made or rolled verifies at once.
func (s *Store) Get(ctx context.Context, workflowID string) (webhooks.Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            s.itemKey(workflowID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return webhooks.Record{}, fmt.Errorf("webhooksdb: get the secret of %s: %w", workflowID, err)
	}
	if out.Item == nil {
		return webhooks.Record{}, domain.ErrNotFound
	}
	var it secretItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return webhooks.Record{}, fmt.Errorf("webhooksdb: unmarshal the secret of %s: %w", workflowID, err)
	}
	if it.AccountID == "" || len(it.Current.Ciphertext) == 0 {
		return webhooks.Record{}, errors.New("webhooksdb: the secret item of " + workflowID + " lacks its account or secret")
	}
	rec := webhooks.Record{
		WorkflowID: workflowID, AccountID: it.AccountID, Current: it.Current.sealed(),
		CreatedAt: time.UnixMilli(it.CreatedAt).UTC(),
	}
	if it.Previous != nil {
		previous := it.Previous.sealed()
		rec.Previous, rec.PreviousExpiresAt = &previous, time.UnixMilli(it.PreviousExpiresAt).UTC()
	}
	return rec, nil
}
