// Package workflowsdb is the DynamoDB adapter of workflows
// (internal/workflows). Its items and access patterns are written down in
// internal/store/keys.go: a head item per workflow (the current version's
// summary) and an immutable item per version (the whole definition).
package workflowsdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	stdjson "encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-json-experiment/json"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// StaleAfter is how old a version item must be, with the head never having
// reached its version, before another write may take its number over.
//
// A change writes the version item first (PutItem, attribute_not_exists),
// then moves the head to it (UpdateItem on the version it read), because
// DynamoDB here has no transactions (dynalite has none). A writer that dies
// between the two leaves a version item the head never points at; without
// this rule, every later change of the workflow would find that number
// taken and fail for ever. A writer is dead for sure long before 60 s: a
// request's work is cut off at 8 s (httpapi.DefaultRequestTimeout), every
// DynamoDB call at 4 s, and the route Lambdas at 10 s. So an item older
// than StaleAfter is overwritten, on the condition that it still carries
// the write id that was read (two requests finding the same leftover: one
// wins); a younger one is a write in flight, and the request that meets it
// loses the race (412 with If-Match, 409 without).
const StaleAfter = 60 * time.Second

// Store is workflows.Store on DynamoDB. Its methods return
// domain.ErrNotFound for a workflow that does not exist, was deleted or
// belongs to another account.
type Store struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time
}

var _ workflows.Store = (*Store)(nil)

// New returns the workflow store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// WithClock returns the store with another clock, for the staleness rule
// (tests make a leftover version item old without waiting).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// triggerItem is a trigger as the head stores it.
type triggerItem struct {
	Type     string `dynamodbav:"type"`
	Cron     string `dynamodbav:"cron,omitempty"`
	Timezone string `dynamodbav:"timezone,omitempty"`
	Every    string `dynamodbav:"every,omitempty"`
}

// headItem is a workflow's head: its current version's summary. TriggerType
// repeats trigger.type at the top level, where the webhook routes read it;
// HasNotify says the version has a notify, so the notify roll and the
// workflow routes know whether it has a notification secret without
// reading the version.
type headItem struct {
	PK          string      `dynamodbav:"PK"`
	SK          string      `dynamodbav:"SK"`
	WorkflowID  string      `dynamodbav:"workflowId"`
	Name        string      `dynamodbav:"name"`
	Description string      `dynamodbav:"description,omitempty"`
	Enabled     bool        `dynamodbav:"enabled"`
	Trigger     triggerItem `dynamodbav:"trigger"`
	TriggerType string      `dynamodbav:"triggerType"`
	HasNotify   bool        `dynamodbav:"hasNotify,omitempty"`
	Version     int         `dynamodbav:"version"`
	CreatedAt   int64       `dynamodbav:"createdAt"`
	UpdatedAt   int64       `dynamodbav:"updatedAt"`
}

// versionItem is one immutable version: the definition as JSON (what Parse
// accepted, marshalled; it reads back as itself), when it was written and by
// which write (see StaleAfter).
type versionItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	WorkflowID string `dynamodbav:"workflowId"`
	Version    int    `dynamodbav:"version"`
	Definition string `dynamodbav:"definition"`
	WriteID    string `dynamodbav:"writeId"`
	WrittenAt  int64  `dynamodbav:"writtenAt"`
}

func headOf(w workflows.Workflow) headItem {
	d := w.Definition
	return headItem{
		PK: store.AccountPK(w.AccountID), SK: store.WorkflowSK(w.ID), WorkflowID: w.ID,
		Name: d.Name, Description: d.Description, Enabled: d.IsEnabled(),
		Trigger:     triggerItem{Type: string(d.Trigger.Type), Cron: d.Trigger.Cron, Timezone: d.Trigger.Timezone, Every: d.Trigger.Every},
		TriggerType: string(d.Trigger.Type), HasNotify: d.Notify != nil, Version: w.Version,
		CreatedAt: w.CreatedAt.UnixMilli(), UpdatedAt: w.UpdatedAt.UnixMilli(),
	}
}

func (it headItem) summary(account string) workflows.Summary {
	return workflows.Summary{
		ID: it.WorkflowID, AccountID: account, Name: it.Name, Description: it.Description, Enabled: it.Enabled,
		Trigger:   workflows.Trigger{Type: workflows.TriggerType(it.Trigger.Type), Cron: it.Trigger.Cron, Timezone: it.Trigger.Timezone, Every: it.Trigger.Every},
		HasNotify: it.HasNotify, Version: it.Version, CreatedAt: time.UnixMilli(it.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(it.UpdatedAt).UTC(),
	}
}

func newWriteID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func (s *Store) versionOf(w workflows.Workflow) (map[string]types.AttributeValue, error) {
	definition, err := json.Marshal(w.Definition)
	if err != nil {
		return nil, fmt.Errorf("workflowsdb: marshal definition of %s: %w", w.ID, err)
	}
	av, err := attributevalue.MarshalMap(versionItem{
		PK: store.AccountPK(w.AccountID), SK: store.WorkflowVersionSK(w.ID, w.Version), WorkflowID: w.ID,
		Version: w.Version, Definition: string(definition), WriteID: newWriteID(), WrittenAt: w.UpdatedAt.UnixMilli(),
	})
	if err != nil {
		return nil, fmt.Errorf("workflowsdb: marshal version of %s: %w", w.ID, err)
	}
	return av, nil
}

func (s *Store) put(ctx context.Context, item map[string]types.AttributeValue, condition string, values map[string]types.AttributeValue) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeValues: values,
	})
	return err
}

// Create stores version 1, then the head: the head never points at a
// version that is not there.
func (s *Store) Create(ctx context.Context, w workflows.Workflow) error {
	version, err := s.versionOf(w)
	if err != nil {
		return err
	}
	if err := s.put(ctx, version, "attribute_not_exists(PK)", nil); err != nil {
		return fmt.Errorf("workflowsdb: put version 1 of %s: %w", w.ID, err)
	}
	head, err := attributevalue.MarshalMap(headOf(w))
	if err != nil {
		return fmt.Errorf("workflowsdb: marshal head of %s: %w", w.ID, err)
	}
	if err := s.put(ctx, head, "attribute_not_exists(PK)", nil); err != nil {
		return fmt.Errorf("workflowsdb: put head of %s: %w", w.ID, err)
	}
	return nil
}

// Head returns an account's workflow's current summary (one strongly
// consistent GetItem, so a change or delete just answered is seen).
func (s *Store) Head(ctx context.Context, account, workflowID string) (workflows.Summary, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(account), store.WorkflowSK(workflowID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return workflows.Summary{}, fmt.Errorf("workflowsdb: get head of %s: %w", workflowID, err)
	}
	if out.Item == nil {
		return workflows.Summary{}, domain.ErrNotFound
	}
	var it headItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return workflows.Summary{}, fmt.Errorf("workflowsdb: unmarshal head of %s: %w", workflowID, err)
	}
	return it.summary(account), nil
}

// Version returns one version of the workflow head describes. Version items
// are immutable once a head has pointed at them, so an eventually
// consistent read would do for an old one; the current one was maybe
// written a moment ago, so every read is strongly consistent (the same
// cost for items under 4 KB, twice for larger ones).
func (s *Store) Version(ctx context.Context, head workflows.Summary, version int) (workflows.Workflow, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(head.AccountID), store.WorkflowVersionSK(head.ID, version)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return workflows.Workflow{}, fmt.Errorf("workflowsdb: get version %d of %s: %w", version, head.ID, err)
	}
	if out.Item == nil {
		return workflows.Workflow{}, domain.ErrNotFound
	}
	var it versionItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return workflows.Workflow{}, fmt.Errorf("workflowsdb: unmarshal version %d of %s: %w", version, head.ID, err)
	}
	// encoding/json, not the strict decoder that writes it: a stored
	// definition is this API's own output (exact names, each once, valid
	// UTF-8), and the strict decoder's reflection is about 0.3 MiB that a
	// read route would link for nothing (docs/performance.md, issue 17).
	var d workflows.Definition
	if err := stdjson.Unmarshal([]byte(it.Definition), &d); err != nil {
		return workflows.Workflow{}, fmt.Errorf("workflowsdb: unmarshal definition %d of %s: %w", version, head.ID, err)
	}
	return workflows.Workflow{
		ID: head.ID, AccountID: head.AccountID, Definition: d, Version: it.Version,
		CreatedAt: head.CreatedAt, UpdatedAt: time.UnixMilli(it.WrittenAt).UTC(),
	}, nil
}

// List returns an account's workflows, newest first (ids sort by creation
// time). cursor is "" or a NextCursor from an earlier page; it carries only
// the last id, and the key is rebuilt in the caller's own account. One
// Query per page (store.QueryNewestFirst: limit+1 heads, so a cursor always
// leads to a non-empty page).
func (s *Store) List(ctx context.Context, account string, limit int, cursor string) (domain.Page[workflows.Summary], error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			":sk": &types.AttributeValueMemberS{Value: store.PrefixWorkflow},
		},
	}
	var startKey map[string]types.AttributeValue
	if cursor != "" {
		id, err := store.DecodeCursor(cursor, ids.PrefixWorkflow)
		if err != nil {
			return domain.Page[workflows.Summary]{}, err
		}
		startKey = store.ItemKey(store.AccountPK(account), store.WorkflowSK(id))
	}
	summaries := func(_ context.Context, raw []map[string]types.AttributeValue) ([]workflows.Summary, error) {
		var items []headItem
		if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
			return nil, fmt.Errorf("unmarshal workflows: %w", err)
		}
		out := make([]workflows.Summary, 0, len(items))
		for _, it := range items {
			out = append(out, it.summary(account))
		}
		return out, nil
	}
	page, err := store.QueryNewestFirst(ctx, s.db, in, limit, startKey, summaries, func(w workflows.Summary) string { return w.ID })
	if err != nil {
		return domain.Page[workflows.Summary]{}, fmt.Errorf("workflowsdb: list workflows: %w", err)
	}
	return page, nil
}

// Update stores w as a new version, then moves the head from w.Version-1 to
// it. See StaleAfter for a version item a dead writer left behind.
func (s *Store) Update(ctx context.Context, w workflows.Workflow) error {
	version, err := s.versionOf(w)
	if err != nil {
		return err
	}
	err = s.put(ctx, version, "attribute_not_exists(PK)", nil)
	if store.IsConditionFailed(err) {
		err = s.takeOverLeftover(ctx, w, version)
	}
	if err != nil {
		return err
	}
	head := headOf(w)
	update := "SET #name = :name, enabled = :enabled, #trigger = :trigger, triggerType = :triggerType, version = :version, updatedAt = :updatedAt"
	values := map[string]types.AttributeValue{
		":name":        &types.AttributeValueMemberS{Value: head.Name},
		":enabled":     &types.AttributeValueMemberBOOL{Value: head.Enabled},
		":triggerType": &types.AttributeValueMemberS{Value: head.TriggerType},
		":version":     store.NumberAV(int64(head.Version)),
		":previous":    store.NumberAV(int64(head.Version - 1)),
		":updatedAt":   store.NumberAV(head.UpdatedAt),
	}
	if values[":trigger"], err = attributevalue.Marshal(head.Trigger); err != nil {
		return fmt.Errorf("workflowsdb: marshal trigger of %s: %w", w.ID, err)
	}
	// An empty description and a false hasNotify are removed rather than
	// stored, as the head written by Create leaves them out.
	var remove []string
	if head.Description != "" {
		update += ", description = :description"
		values[":description"] = &types.AttributeValueMemberS{Value: head.Description}
	} else {
		remove = append(remove, "description")
	}
	if head.HasNotify {
		update += ", hasNotify = :hasNotify"
		values[":hasNotify"] = &types.AttributeValueMemberBOOL{Value: true}
	} else {
		remove = append(remove, "hasNotify")
	}
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.ItemKey(head.PK, head.SK),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("version = :previous"),
		ExpressionAttributeNames:  map[string]string{"#name": "name", "#trigger": "trigger"},
		ExpressionAttributeValues: values,
	})
	if store.IsConditionFailed(err) {
		// Another write moved the head first, or the workflow was deleted
		// (a missing head fails the condition too: UpdateItem never makes
		// one). The version item written above stays, never pointed at: a
		// later write takes its number over once it is StaleAfter old.
		return workflows.ErrHeadMoved
	}
	if err != nil {
		return fmt.Errorf("workflowsdb: update head of %s: %w", w.ID, err)
	}
	return nil
}

// takeOverLeftover is called when w's version number is already taken. A
// version item younger than StaleAfter is another write in flight; an older
// one was left by a writer that died before moving the head, and is
// overwritten if nobody else took it over first.
func (s *Store) takeOverLeftover(ctx context.Context, w workflows.Workflow, version map[string]types.AttributeValue) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.table),
		Key:                  store.ItemKey(store.AccountPK(w.AccountID), store.WorkflowVersionSK(w.ID, w.Version)),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("writeId, writtenAt"),
	})
	if err != nil {
		return fmt.Errorf("workflowsdb: get version %d of %s: %w", w.Version, w.ID, err)
	}
	written := time.UnixMilli(store.NumberAttr(out.Item, "writtenAt"))
	writeID, _ := out.Item["writeId"].(*types.AttributeValueMemberS)
	if out.Item == nil || writeID == nil || s.now().Sub(written) < StaleAfter {
		return workflows.ErrWriteInFlight
	}
	err = s.put(ctx, version, "writeId = :leftover", map[string]types.AttributeValue{":leftover": writeID})
	if store.IsConditionFailed(err) {
		return workflows.ErrWriteInFlight // another request took it over first
	}
	if err != nil {
		return fmt.Errorf("workflowsdb: take over version %d of %s: %w", w.Version, w.ID, err)
	}
	return nil
}

// Delete deletes the head (one DeleteItem returning the old item, which
// tells whether there was one and whether it was a webhook workflow). The
// version items stay: runs read the version they pinned.
func (s *Store) Delete(ctx context.Context, account, workflowID string) (workflows.Summary, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    aws.String(s.table),
		Key:          store.ItemKey(store.AccountPK(account), store.WorkflowSK(workflowID)),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return workflows.Summary{}, fmt.Errorf("workflowsdb: delete head of %s: %w", workflowID, err)
	}
	if len(out.Attributes) == 0 {
		return workflows.Summary{}, domain.ErrNotFound
	}
	var it headItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return workflows.Summary{}, fmt.Errorf("workflowsdb: unmarshal head of %s: %w", workflowID, err)
	}
	return it.summary(account), nil
}
