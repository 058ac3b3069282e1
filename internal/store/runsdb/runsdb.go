// Package runsdb is the DynamoDB adapter of runs (internal/runs): the run
// item in its account (with GSI1 by workflow and GSI2 by status), a step
// item per step in the run's own partition, an unfinished-run marker per
// run until it ends, and the idempotency records of run starts. The items
// and their access patterns are written down in internal/store/keys.go.
// Every write is one single-item conditional write (no transactions).
package runsdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/oklog/ulid/v2"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/idempotency"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store"
)

// MaxInlineOutputBytes is the largest run output kept in the run item. The
// run item also holds an input of up to 256 KiB, and an item holds at most
// 400 KB; a bigger output gets an item of its own (keys.go: run output).
const MaxInlineOutputBytes = 64 << 10

// Store is runs.Store and idempotency.Store on DynamoDB.
type Store struct {
	db        *dynamodb.Client
	table     string
	retention time.Duration
	now       func() time.Time
}

var (
	_ runs.Store        = (*Store)(nil)
	_ idempotency.Store = (*Store)(nil)
)

// New returns the run store on table, keeping step items for
// runs.DefaultRetention (WithRetention changes it).
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, retention: runs.DefaultRetention, now: time.Now}
}

// WithRetention returns the store keeping step items for d after their
// run was made (the run's own ExpiresAt is the service's to set; with the
// same retention both expire together).
func (s *Store) WithRetention(d time.Duration) *Store {
	c := *s
	if d > 0 {
		c.retention = d
	}
	return &c
}

// WithClock returns the store with another clock (the expiry of
// idempotency records).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// runItem is a run. Times are Unix milliseconds (0: not yet); TTL is Unix
// seconds, as DynamoDB's TTL reads it.
type runItem struct {
	PK              string     `dynamodbav:"PK"`
	SK              string     `dynamodbav:"SK"`
	GSI1PK          string     `dynamodbav:"GSI1PK"`
	GSI1SK          string     `dynamodbav:"GSI1SK"`
	GSI2PK          string     `dynamodbav:"GSI2PK"`
	GSI2SK          string     `dynamodbav:"GSI2SK"`
	RunID           string     `dynamodbav:"runId"`
	WorkflowID      string     `dynamodbav:"workflowId"`
	WorkflowVersion int        `dynamodbav:"workflowVersion"`
	Status          string     `dynamodbav:"status"`
	Trigger         string     `dynamodbav:"trigger"`
	RetryOf         string     `dynamodbav:"retryOf,omitempty"`
	ParentRunID     string     `dynamodbav:"parentRunId,omitempty"`
	ParentStepID    string     `dynamodbav:"parentStepId,omitempty"`
	Depth           int        `dynamodbav:"depth,omitempty"`
	Input           string     `dynamodbav:"input"`
	Output          string     `dynamodbav:"output,omitempty"`
	OutputRef       bool       `dynamodbav:"outputRef,omitempty"`
	Error           *errorItem `dynamodbav:"error,omitempty"`
	CreatedAt       int64      `dynamodbav:"createdAt"`
	StartedAt       int64      `dynamodbav:"startedAt,omitempty"`
	FinishedAt      int64      `dynamodbav:"finishedAt,omitempty"`
	NextStep        int        `dynamodbav:"nextStep"`
	WaitUntil       int64      `dynamodbav:"waitUntil,omitempty"`
	WaitingFor      string     `dynamodbav:"waitingFor,omitempty"`
	Deadline        int64      `dynamodbav:"deadline,omitempty"`
	// Machine is "express" for a run on the Express state machine, absent
	// for a Standard one.
	Machine string `dynamodbav:"machine,omitempty"`
	// A run of a workflow with a concurrency limit: its group, the limit,
	// the slot it holds (index + 1) and that slot's lease.
	ConcurrencyGroup string `dynamodbav:"concurrencyGroup,omitempty"`
	ConcurrencyLimit int    `dynamodbav:"concurrencyLimit,omitempty"`
	Slot             int    `dynamodbav:"slot,omitempty"`
	SlotLeaseUntil   int64  `dynamodbav:"slotLeaseUntil,omitempty"`
	// A run of a workflow with a notify: its target, and its events with
	// their deliveries.
	Notify        *notifyItem        `dynamodbav:"notify,omitempty"`
	Notifications []notificationItem `dynamodbav:"notifications,omitempty"`
	Revision      int64              `dynamodbav:"revision"`
	// HideAt is the run's ExpiresAt, when a finished run is gone for
	// readers (Unix seconds). TTL, when DynamoDB may delete the item, is
	// later: past the run's deadline too (storageTTL). Items written before
	// hideAt existed have only TTL, which was the ExpiresAt then.
	HideAt int64 `dynamodbav:"hideAt,omitempty"`
	TTL    int64 `dynamodbav:"ttl,omitempty"`
}

type errorItem struct {
	Code    string `dynamodbav:"code"`
	Message string `dynamodbav:"message"`
	Step    string `dynamodbav:"step,omitempty"`
}

// stepItem is one step of a run. The output is a string attribute (JSON
// text, up to runs.MaxStepOutputBytes).
type stepItem struct {
	PK            string        `dynamodbav:"PK"`
	SK            string        `dynamodbav:"SK"`
	RunID         string        `dynamodbav:"runId"`
	StepID        string        `dynamodbav:"stepId"`
	Index         int           `dynamodbav:"index"`
	Status        string        `dynamodbav:"status"`
	Attempts      int           `dynamodbav:"attempts"`
	StartedAt     int64         `dynamodbav:"startedAt,omitempty"`
	FinishedAt    int64         `dynamodbav:"finishedAt,omitempty"`
	NextAttemptAt int64         `dynamodbav:"nextAttemptAt,omitempty"`
	Output        string        `dynamodbav:"output,omitempty"`
	Error         *errorItem    `dynamodbav:"error,omitempty"`
	Reused        bool          `dynamodbav:"reused,omitempty"`
	ChildRunID    string        `dynamodbav:"childRunId,omitempty"`
	TaskToken     string        `dynamodbav:"taskToken,omitempty"`
	Jump          string        `dynamodbav:"jump,omitempty"`
	Items         string        `dynamodbav:"items,omitempty"`
	ItemCount     int           `dynamodbav:"itemCount,omitempty"`
	SignalNonce   string        `dynamodbav:"signalNonce,omitempty"`
	SignalHash    string        `dynamodbav:"signalHash,omitempty"`
	SignalExpires int64         `dynamodbav:"signalExpiresAt,omitempty"`
	SignalledAt   int64         `dynamodbav:"signalledAt,omitempty"`
	History       []attemptItem `dynamodbav:"history,omitempty"`
	Revision      int64         `dynamodbav:"revision"`
	TTL           int64         `dynamodbav:"ttl,omitempty"`
}

// attemptItem is one attempt of a step (runs.Attempt), in the step's item:
// short names, since a step may keep up to runs.MaxAttemptHistory.
type attemptItem struct {
	Number     int        `dynamodbav:"n"`
	Status     string     `dynamodbav:"s"`
	StartedAt  int64      `dynamodbav:"b"`
	FinishedAt int64      `dynamodbav:"e,omitempty"`
	Error      *errorItem `dynamodbav:"err,omitempty"`
}

func attemptItemsOf(h []runs.Attempt) []attemptItem {
	if len(h) == 0 {
		return nil
	}
	items := make([]attemptItem, len(h))
	for i, a := range h {
		items[i] = attemptItem{Number: a.Number, Status: string(a.Status), StartedAt: millis(a.StartedAt), FinishedAt: millis(a.FinishedAt), Error: errorItemOf(a.Error)}
	}
	return items
}

func attemptsOf(items []attemptItem) []runs.Attempt {
	if len(items) == 0 {
		return nil
	}
	h := make([]runs.Attempt, len(items))
	for i, it := range items {
		h[i] = runs.Attempt{Number: it.Number, Status: runs.StepStatus(it.Status), StartedAt: fromMillis(it.StartedAt), FinishedAt: fromMillis(it.FinishedAt), Error: it.Error.error()}
	}
	return h
}

// signalItem is a signal token's lookup item (runs.SignalRef), by the
// token's hash.
type signalItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	AccountID string `dynamodbav:"accountId"`
	RunID     string `dynamodbav:"runId"`
	StepID    string `dynamodbav:"stepId"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	TTL       int64  `dynamodbav:"ttl"`
}

// fanOutItem is one item of a fan-out step, beside the steps in the run's
// partition (store.ItemSK).
type fanOutItem struct {
	PK            string     `dynamodbav:"PK"`
	SK            string     `dynamodbav:"SK"`
	RunID         string     `dynamodbav:"runId"`
	StepID        string     `dynamodbav:"stepId"`
	Index         int        `dynamodbav:"index"`
	ID            string     `dynamodbav:"id,omitempty"`
	Status        string     `dynamodbav:"status"`
	Attempts      int        `dynamodbav:"attempts"`
	StartedAt     int64      `dynamodbav:"startedAt,omitempty"`
	FinishedAt    int64      `dynamodbav:"finishedAt,omitempty"`
	NextAttemptAt int64      `dynamodbav:"nextAttemptAt,omitempty"`
	Output        string     `dynamodbav:"output,omitempty"`
	Error         *errorItem `dynamodbav:"error,omitempty"`
	Reused        bool       `dynamodbav:"reused,omitempty"`
	Revision      int64      `dynamodbav:"revision"`
	TTL           int64      `dynamodbav:"ttl,omitempty"`
}

// childItem is a parent's record of a child run (runs.ChildRef), in the
// parent's partition: written before the child, so a child is never stored
// without it.
type childItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	ChildRunID string `dynamodbav:"childRunId"`
	StepID     string `dynamodbav:"stepId"`
	AccountID  string `dynamodbav:"accountId"`
	TTL        int64  `dynamodbav:"ttl,omitempty"`
}

// markerItem says a run has not finished. No TTL: a marker must outlive
// anything that could leave its run unfinished, and it is deleted when the
// run ends.
type markerItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	AccountID string `dynamodbav:"accountId"`
	RunID     string `dynamodbav:"runId"`
}

type outputItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	Output string `dynamodbav:"output"`
	TTL    int64  `dynamodbav:"ttl,omitempty"`
}

// idempotencyItem is an Idempotency-Key's record. ResultID is stored as
// runId: what every POST with a key creates so far is a run, and records
// written before the name changed stay readable.
type idempotencyItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	RequestHash string `dynamodbav:"requestHash"`
	ResultID    string `dynamodbav:"runId"`
	TTL         int64  `dynamodbav:"ttl"`
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// storageTTL is when DynamoDB may delete a run's items: never before its
// visible expiry, nor while the run may still be open. A run's retention
// counts from its start while it may last up to its deadline (a workflow's
// timeout, up to 30 days): with RUN_RETENTION_DAYS=1 and a week's delay, a
// TTL of the expiry alone would delete the run while it waits.
func storageTTL(run runs.Run) int64 {
	if run.ExpiresAt.IsZero() {
		return 0
	}
	until := run.ExpiresAt
	if run.Deadline.After(until) {
		until = run.Deadline
	}
	return until.Add(runs.StoreGrace).Unix()
}

func ttlOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func errorItemOf(e *runs.Error) *errorItem {
	if e == nil {
		return nil
	}
	return &errorItem{Code: e.Code, Message: e.Message, Step: e.Step}
}

func (e *errorItem) error() *runs.Error {
	if e == nil {
		return nil
	}
	return &runs.Error{Code: e.Code, Message: e.Message, Step: e.Step}
}

func jsonValue(s string) jsontext.Value {
	if s == "" {
		return nil
	}
	return jsontext.Value(s)
}

func itemOf(run runs.Run) runItem {
	it := runItem{
		PK: store.AccountPK(run.AccountID), SK: store.RunSK(run.ID),
		GSI1PK: store.WorkflowRunsPK(run.AccountID, run.WorkflowID), GSI1SK: run.ID,
		GSI2PK: store.RunStatusPK(run.AccountID, string(run.Status)), GSI2SK: run.ID,
		RunID: run.ID, WorkflowID: run.WorkflowID, WorkflowVersion: run.WorkflowVersion,
		Status: string(run.Status), Trigger: string(run.Trigger), RetryOf: run.RetryOf,
		ParentRunID: run.ParentRunID, ParentStepID: run.ParentStepID, Depth: run.Depth,
		Input: string(run.Input), Output: string(run.Output), Error: errorItemOf(run.Error),
		CreatedAt: millis(run.CreatedAt), StartedAt: millis(run.StartedAt), FinishedAt: millis(run.FinishedAt),
		NextStep: run.NextStep, WaitUntil: millis(run.WaitUntil), WaitingFor: run.WaitingFor, Deadline: millis(run.Deadline), Machine: string(run.Machine),
		Revision: run.Revision, HideAt: ttlOf(run.ExpiresAt), TTL: storageTTL(run),
		ConcurrencyGroup: run.ConcurrencyGroup, ConcurrencyLimit: run.ConcurrencyLimit, Slot: run.Slot, SlotLeaseUntil: millis(run.SlotLeaseUntil),
		Notify: notifyItemOf(run.Notify), Notifications: notificationItemsOf(run.Notifications),
	}
	if len(it.Output) > MaxInlineOutputBytes {
		it.Output, it.OutputRef = "", true
	}
	return it
}

func (it runItem) run(account string) runs.Run {
	return runs.Run{
		ID: it.RunID, AccountID: account, WorkflowID: it.WorkflowID, WorkflowVersion: it.WorkflowVersion,
		Status: runs.Status(it.Status), Trigger: runs.Trigger(it.Trigger), RetryOf: it.RetryOf,
		ParentRunID: it.ParentRunID, ParentStepID: it.ParentStepID, Depth: it.Depth,
		Input: jsonValue(it.Input), Output: jsonValue(it.Output), Error: it.Error.error(),
		CreatedAt: fromMillis(it.CreatedAt), StartedAt: fromMillis(it.StartedAt), FinishedAt: fromMillis(it.FinishedAt),
		NextStep: it.NextStep, WaitUntil: fromMillis(it.WaitUntil), WaitingFor: it.WaitingFor, Deadline: fromMillis(it.Deadline), Machine: orchestrator.Machine(it.Machine),
		Revision: it.Revision, ExpiresAt: it.expiresAt(),
		ConcurrencyGroup: it.ConcurrencyGroup, ConcurrencyLimit: it.ConcurrencyLimit, Slot: it.Slot, SlotLeaseUntil: fromMillis(it.SlotLeaseUntil),
		Notify: it.Notify.target(), Notifications: notificationsOf(it.Notifications),
	}
}

func (it runItem) expiresAt() time.Time {
	if it.HideAt != 0 {
		return fromTTL(it.HideAt)
	}
	return fromTTL(it.TTL)
}

func fromTTL(ttl int64) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return time.Unix(ttl, 0).UTC()
}

// createdAtOf is when a run id was made (ids are ULIDs).
func createdAtOf(runID string) time.Time {
	id, err := ulid.ParseStrict(strings.ToUpper(strings.TrimPrefix(runID, ids.PrefixRun)))
	if err != nil {
		return time.Time{}
	}
	return ulid.Time(id.Time()).UTC()
}

func (s *Store) stepItemOf(st runs.Step) stepItem {
	it := stepItem{
		PK: store.RunStepsPK(st.RunID), SK: store.StepSK(st.StepID), RunID: st.RunID, StepID: st.StepID,
		Index: st.Index, Status: string(st.Status), Attempts: st.Attempts,
		StartedAt: millis(st.StartedAt), FinishedAt: millis(st.FinishedAt), NextAttemptAt: millis(st.NextAttemptAt),
		Output: string(st.Output), Error: errorItemOf(st.Error), Reused: st.Reused, Revision: st.Revision,
		Jump: st.Jump, Items: string(st.Items), ItemCount: st.ItemCount, ChildRunID: st.ChildRunID, TaskToken: st.TaskToken,
		SignalNonce: st.SignalNonce, SignalHash: st.SignalHash, SignalExpires: millis(st.SignalExpiresAt), SignalledAt: millis(st.SignalledAt),
		History: attemptItemsOf(st.History),
	}
	it.TTL = s.partitionTTL(st.RunID)
	return it
}

// partitionTTL is when the items of a run's partition (steps, fan-out
// items) may be deleted: no earlier than the run, so the run's retention
// from when it was made (which its id tells without a read), or the longest
// a run may stay open, whichever is later, and the grace.
func (s *Store) partitionTTL(runID string) int64 {
	if created := createdAtOf(runID); !created.IsZero() {
		return created.Add(max(s.retention, runs.MaxLifetime) + runs.StoreGrace).Unix()
	}
	return 0
}

func (s *Store) fanOutItemOf(it runs.Item) fanOutItem {
	return fanOutItem{
		PK: store.RunStepsPK(it.RunID), SK: store.ItemSK(it.StepID, it.Index), RunID: it.RunID, StepID: it.StepID,
		Index: it.Index, ID: it.ID, Status: string(it.Status), Attempts: it.Attempts,
		StartedAt: millis(it.StartedAt), FinishedAt: millis(it.FinishedAt), NextAttemptAt: millis(it.NextAttemptAt),
		Output: string(it.Output), Error: errorItemOf(it.Error), Reused: it.Reused, Revision: it.Revision,
		TTL: s.partitionTTL(it.RunID),
	}
}

func (it fanOutItem) item() runs.Item {
	return runs.Item{
		RunID: it.RunID, StepID: it.StepID, Index: it.Index, ID: it.ID, Status: runs.StepStatus(it.Status), Attempts: it.Attempts,
		StartedAt: fromMillis(it.StartedAt), FinishedAt: fromMillis(it.FinishedAt), NextAttemptAt: fromMillis(it.NextAttemptAt),
		Output: jsonValue(it.Output), Error: it.Error.error(), Reused: it.Reused, Revision: it.Revision,
	}
}

func (it stepItem) step() runs.Step {
	return runs.Step{
		RunID: it.RunID, StepID: it.StepID, Index: it.Index, Status: runs.StepStatus(it.Status), Attempts: it.Attempts,
		StartedAt: fromMillis(it.StartedAt), FinishedAt: fromMillis(it.FinishedAt), NextAttemptAt: fromMillis(it.NextAttemptAt),
		Output: jsonValue(it.Output), Error: it.Error.error(), Reused: it.Reused, Revision: it.Revision,
		Jump: it.Jump, Items: jsonValue(it.Items), ItemCount: it.ItemCount, ChildRunID: it.ChildRunID, TaskToken: it.TaskToken,
		SignalNonce: it.SignalNonce, SignalHash: it.SignalHash, SignalExpiresAt: fromMillis(it.SignalExpires), SignalledAt: fromMillis(it.SignalledAt),
		History: attemptsOf(it.History),
	}
}

func (s *Store) put(ctx context.Context, item any, condition string, names map[string]string, values map[string]types.AttributeValue) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("runsdb: marshal %T: %w", item, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av, ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	if condition != "" {
		in.ConditionExpression = aws.String(condition)
	}
	_, err = s.db.PutItem(ctx, in)
	return err
}

func markerOf(account, runID string) markerItem {
	return markerItem{PK: store.UnfinishedPK(store.UnfinishedShard(runID)), SK: runID, AccountID: account, RunID: runID}
}

// Create writes the marker, then the run (only if its id is new), then the
// reused steps. The marker goes first so that no run is ever stored
// without one: a process dying between the two leaves a marker without a
// run, which Unfinished's readers find absent and drop (Get: NOT_FOUND).
// A repeated Create of a run that has since finished writes its marker
// again before finding the id taken; the reader of Unfinished finds the run
// finished and drops the marker with Update (see Update).
func (s *Store) Create(ctx context.Context, run runs.Run, reused runs.Reused) error {
	if err := s.put(ctx, markerOf(run.AccountID, run.ID), "", nil, nil); err != nil {
		return fmt.Errorf("runsdb: put marker of %s: %w", run.ID, err)
	}
	run.Revision = 1
	if run.ParentRunID != "" {
		child := childItem{PK: store.RunStepsPK(run.ParentRunID), SK: store.ChildSK(run.ID), ChildRunID: run.ID,
			StepID: run.ParentStepID, AccountID: run.AccountID, TTL: s.partitionTTL(run.ParentRunID)}
		if err := s.put(ctx, child, "", nil, nil); err != nil {
			return fmt.Errorf("runsdb: put child %s of %s: %w", run.ID, run.ParentRunID, err)
		}
	}
	if err := s.putOutput(ctx, run); err != nil {
		return err
	}
	err := s.put(ctx, itemOf(run), "attribute_not_exists(PK)", nil, nil)
	if store.IsConditionFailed(err) {
		return runs.ErrExists
	}
	if err != nil {
		return fmt.Errorf("runsdb: put run %s: %w", run.ID, err)
	}
	for _, st := range reused.Steps {
		st.RunID, st.Revision = run.ID, 1
		if err := s.put(ctx, s.stepItemOf(st), "", nil, nil); err != nil {
			return fmt.Errorf("runsdb: put reused step %s of %s: %w", st.StepID, run.ID, err)
		}
	}
	for _, it := range reused.Items {
		it.RunID, it.Revision = run.ID, 1
		if err := s.put(ctx, s.fanOutItemOf(it), "", nil, nil); err != nil {
			return fmt.Errorf("runsdb: put reused item %s/%d of %s: %w", it.StepID, it.Index, run.ID, err)
		}
	}
	return nil
}

// putOutput writes a run's output to its own item when it is too big for
// the run item.
func (s *Store) putOutput(ctx context.Context, run runs.Run) error {
	if len(run.Output) <= MaxInlineOutputBytes || run.StoredOutputDigest == outputDigest(run.Output) {
		return nil
	}
	it := outputItem{PK: store.RunStepsPK(run.ID), SK: store.SortRunOutput, Output: string(run.Output), TTL: storageTTL(run)}
	if err := s.put(ctx, it, "", nil, nil); err != nil {
		return fmt.Errorf("runsdb: put output of %s: %w", run.ID, err)
	}
	return nil
}

// outputDigest names an output kept in its own item (runs.Run.StoredOutputDigest).
func outputDigest(output []byte) string {
	sum := sha256.Sum256(output)
	return hex.EncodeToString(sum[:])
}

// Get reads a run of the account (strongly consistent), and its output
// item when the output is kept apart.
func (s *Store) Get(ctx context.Context, account, runID string) (runs.Run, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.AccountPK(account), store.RunSK(runID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return runs.Run{}, fmt.Errorf("runsdb: get run %s: %w", runID, err)
	}
	if out.Item == nil {
		return runs.Run{}, domain.ErrNotFound
	}
	var it runItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return runs.Run{}, fmt.Errorf("runsdb: unmarshal run %s: %w", runID, err)
	}
	run := it.run(account)
	if s.expired(run) {
		return runs.Run{}, domain.ErrNotFound
	}
	if it.OutputRef {
		o, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            store.ItemKey(store.RunStepsPK(runID), store.SortRunOutput),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return runs.Run{}, fmt.Errorf("runsdb: get output of %s: %w", runID, err)
		}
		var oi outputItem
		if err := attributevalue.UnmarshalMap(o.Item, &oi); err != nil {
			return runs.Run{}, fmt.Errorf("runsdb: unmarshal output of %s: %w", runID, err)
		}
		run.Output = jsonValue(oi.Output)
		run.StoredOutputDigest = outputDigest(run.Output)
	}
	return run, nil
}

// List pages through an account's runs, newest first (run ids sort by
// creation time). With a workflow it queries GSI1, with a status GSI2, with
// both GSI1 filtered on status: a workflow has fewer runs than an account
// has in a status. The filter (that status, and the retention below) is
// applied after DynamoDB reads, so a page is read with as many Queries as
// it takes to find limit runs and one more (store.QueryNewestFirst): a page
// holds limit runs unless it is the last, and a cursor always leads to a
// non-empty page. Indexes are eventually consistent: a run started a moment
// ago may be missing for that moment.
func (s *Store) List(ctx context.Context, account string, filter runs.Filter, limit int, cursor string) (domain.Page[runs.Run], error) {
	if filter.ParentRunID != "" {
		return s.listChildren(ctx, account, filter, limit, cursor)
	}
	in := &dynamodb.QueryInput{TableName: aws.String(s.table)}
	var startKey func(runID string) map[string]types.AttributeValue
	base := func(runID string) map[string]types.AttributeValue {
		return store.ItemKey(store.AccountPK(account), store.RunSK(runID))
	}
	switch {
	case filter.WorkflowID != "":
		pk := store.WorkflowRunsPK(account, filter.WorkflowID)
		in.IndexName = aws.String(store.IndexGSI1)
		in.KeyConditionExpression = aws.String("GSI1PK = :pk")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}
		if filter.Status != "" {
			in.FilterExpression = aws.String("#status = :status")
			in.ExpressionAttributeNames = map[string]string{"#status": "status"}
			in.ExpressionAttributeValues[":status"] = &types.AttributeValueMemberS{Value: string(filter.Status)}
		}
		startKey = func(runID string) map[string]types.AttributeValue {
			k := base(runID)
			k[store.AttrGSI1PK] = &types.AttributeValueMemberS{Value: pk}
			k[store.AttrGSI1SK] = &types.AttributeValueMemberS{Value: runID}
			return k
		}
	case filter.Status != "":
		pk := store.RunStatusPK(account, string(filter.Status))
		in.IndexName = aws.String(store.IndexGSI2)
		in.KeyConditionExpression = aws.String("GSI2PK = :pk")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}
		startKey = func(runID string) map[string]types.AttributeValue {
			k := base(runID)
			k[store.AttrGSI2PK] = &types.AttributeValueMemberS{Value: pk}
			k[store.AttrGSI2SK] = &types.AttributeValueMemberS{Value: runID}
			return k
		}
	default:
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :sk)")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			":sk": &types.AttributeValueMemberS{Value: store.PrefixRun},
		}
		startKey = base
	}
	// A finished run past its retention is gone for readers at once, not
	// when DynamoDB's TTL deletes it (up to about 48 hours later), as Get
	// answers; an unfinished run is never hidden, whatever its ttl.
	expiry := "(attribute_not_exists(#finishedAt) OR #hideAt > :now OR " +
		"(attribute_not_exists(#hideAt) AND (attribute_not_exists(#ttl) OR #ttl > :now)))"
	if in.FilterExpression != nil {
		expiry = *in.FilterExpression + " AND " + expiry
	}
	in.FilterExpression = aws.String(expiry)
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
	}
	in.ExpressionAttributeNames["#ttl"], in.ExpressionAttributeNames["#finishedAt"] = store.AttrTTL, "finishedAt"
	in.ExpressionAttributeNames["#hideAt"] = "hideAt"
	in.ExpressionAttributeValues[":now"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.now().Unix(), 10)}
	var start map[string]types.AttributeValue
	if cursor != "" {
		id, err := store.DecodeCursor(cursor, ids.PrefixRun)
		if err != nil {
			return domain.Page[runs.Run]{}, err
		}
		start = startKey(id)
	}
	runsOf := func(_ context.Context, raw []map[string]types.AttributeValue) ([]runs.Run, error) {
		var items []runItem
		if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
			return nil, fmt.Errorf("unmarshal runs: %w", err)
		}
		out := make([]runs.Run, 0, len(items))
		for _, it := range items {
			run := it.run(account)
			run.Output = nil // a listing shows no outputs (runs.Handlers), and big ones are not here
			out = append(out, run)
		}
		return out, nil
	}
	page, err := store.QueryNewestFirst(ctx, s.db, in, limit, start, runsOf, func(r runs.Run) string { return r.ID })
	if err != nil {
		return domain.Page[runs.Run]{}, fmt.Errorf("runsdb: list runs: %w", err)
	}
	return page, nil
}

// listChildren pages through the children of a run of the account, newest
// first: the parent's child records (one Query of its partition; a run has
// at most one child per step, so at most workflows.MaxSteps), then the
// children themselves (BatchGetItem). Another account's run, or none, has
// no children here: the filter narrows the caller's own runs.
func (s *Store) listChildren(ctx context.Context, account string, filter runs.Filter, limit int, cursor string) (domain.Page[runs.Run], error) {
	page := domain.Page[runs.Run]{Items: []runs.Run{}}
	after := ""
	if cursor != "" {
		id, err := store.DecodeCursor(cursor, ids.PrefixRun)
		if err != nil {
			return page, err
		}
		after = id
	}
	if _, err := s.Get(ctx, account, filter.ParentRunID); errors.Is(err, domain.ErrNotFound) {
		return page, nil
	} else if err != nil {
		return page, err
	}
	refs, err := s.Children(ctx, filter.ParentRunID)
	if err != nil {
		return page, err
	}
	var keys []map[string]types.AttributeValue
	for i := len(refs) - 1; i >= 0; i-- { // newest first
		if refs[i].AccountID != account || (after != "" && refs[i].ChildRunID >= after) {
			continue
		}
		keys = append(keys, store.ItemKey(store.AccountPK(account), store.RunSK(refs[i].ChildRunID)))
	}
	found := map[string]runs.Run{}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 100)]
		keys = keys[len(batch):]
		request := map[string]types.KeysAndAttributes{s.table: {Keys: batch, ConsistentRead: aws.Bool(true)}}
		for len(request) > 0 {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
			if err != nil {
				return page, fmt.Errorf("runsdb: batch get children of %s: %w", filter.ParentRunID, err)
			}
			var items []runItem
			if err := attributevalue.UnmarshalListOfMaps(out.Responses[s.table], &items); err != nil {
				return page, fmt.Errorf("runsdb: unmarshal children of %s: %w", filter.ParentRunID, err)
			}
			for _, it := range items {
				run := it.run(account)
				run.Output, run.Input = nil, nil
				found[run.ID] = run
			}
			request = out.UnprocessedKeys
		}
	}
	for i := len(refs) - 1; i >= 0; i-- {
		run, ok := found[refs[i].ChildRunID]
		if !ok || s.expired(run) || (filter.WorkflowID != "" && run.WorkflowID != filter.WorkflowID) || (filter.Status != "" && run.Status != filter.Status) {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(page.Items[len(page.Items)-1].ID)
			break
		}
		page.Items = append(page.Items, run)
	}
	return page, nil
}

// Children reads a run's child records (one Query, paged), oldest first.
func (s *Store) Children(ctx context.Context, parentRunID string) ([]runs.ChildRef, error) {
	items, err := partitionQuery[childItem](ctx, s, parentRunID, store.PrefixChild, "children")
	refs := make([]runs.ChildRef, 0, len(items))
	for _, it := range items {
		refs = append(refs, runs.ChildRef{ParentRunID: parentRunID, ChildRunID: it.ChildRunID, StepID: it.StepID, AccountID: it.AccountID})
	}
	return refs, err
}

// partitionQuery reads every item of a run's partition whose SK begins
// with prefix (one strongly consistent Query, paged at 1 MB), in SK order;
// what names them in errors.
func partitionQuery[T any](ctx context.Context, s *Store, runID, prefix, what string) ([]T, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.RunStepsPK(runID)},
			":sk": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	}
	var all []T
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("runsdb: query %s of %s: %w", what, runID, err)
		}
		var page []T
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return nil, fmt.Errorf("runsdb: unmarshal %s of %s: %w", what, runID, err)
		}
		all = append(all, page...)
		if out.LastEvaluatedKey == nil {
			return all, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// expired says whether a finished run is past its retention: readers are
// then told it is not found, as they will be once DynamoDB's TTL, which
// deletes up to about 48 hours late, has removed it. An unfinished run is
// never expired here, so no writer loses a run it is still advancing.
func (s *Store) expired(run runs.Run) bool {
	return run.Status.Finished() && !run.ExpiresAt.IsZero() && !run.ExpiresAt.After(s.now())
}

// mutableRunAttrs are the run item's attributes that Update may change;
// the rest (keys of the base table and GSI1, workflow, version, trigger,
// retryOf, input, createdAt) are written once by Create.
var mutableRunAttrs = []string{
	"GSI2PK", "status", "output", "outputRef", "error", "startedAt", "finishedAt",
	"nextStep", "waitUntil", "waitingFor", "deadline", "revision", "hideAt", "ttl",
	"concurrencyGroup", "concurrencyLimit", "slot", "slotLeaseUntil", "notifications",
}

// Update writes the run's changing attributes (one UpdateItem, conditional
// on the revision read) and returns the run as written. A finished run
// then loses its marker, once no event of it is left to deliver; Update of
// a run already finished, with nothing changed, is how a reader of
// Unfinished drops a marker that outlived its run (its deletion failed, or
// a repeated Create wrote it again).
func (s *Store) Update(ctx context.Context, run runs.Run) (runs.Run, error) {
	written := run
	written.Revision = run.Revision + 1
	if err := s.putOutput(ctx, written); err != nil {
		return runs.Run{}, err
	}
	item, err := attributevalue.MarshalMap(itemOf(written))
	if err != nil {
		return runs.Run{}, fmt.Errorf("runsdb: marshal run %s: %w", run.ID, err)
	}
	names := map[string]string{"#revision": "revision"}
	values := map[string]types.AttributeValue{":read": store.NumberAV(run.Revision)}
	condition := "#revision = :read"
	if written.Status.Finished() && written.Status != runs.StatusCancelled {
		// Cancel must win: a run stored cancelling ends cancelled and no
		// other way. The revision read already pins the status read; this
		// holds the rule in the store itself, against any writer that
		// would end a cancelling run otherwise.
		condition += " AND #status <> :cancelling"
		names["#status"] = "status"
		values[":cancelling"] = &types.AttributeValueMemberS{Value: string(runs.StatusCancelling)}
	}
	var set, remove []string
	for i, attr := range mutableRunAttrs {
		name := "#a" + strconv.Itoa(i)
		names[name] = attr
		if v, ok := item[attr]; ok {
			values[":v"+strconv.Itoa(i)] = v
			set = append(set, name+" = :v"+strconv.Itoa(i))
		} else {
			remove = append(remove, name)
		}
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.ItemKey(store.AccountPK(run.AccountID), store.RunSK(run.ID)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if store.IsConditionFailed(err) {
		// Also when the run is absent: UpdateItem never makes one, and a
		// missing revision is not the one read.
		return runs.Run{}, runs.ErrRevision
	}
	if err != nil {
		return runs.Run{}, fmt.Errorf("runsdb: update run %s: %w", run.ID, err)
	}
	if written.Status.Finished() && !written.NotificationsPending() {
		// A finished run whose events are not all delivered keeps its
		// marker: the start check finds it there if its delivery stops.
		marker := markerOf(run.AccountID, run.ID)
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: store.ItemKey(marker.PK, marker.SK),
		}); err != nil {
			// The run's end is written; the marker lingers until a reader
			// of Unfinished finds the run finished and updates it again.
			return written, fmt.Errorf("runsdb: delete marker of finished run %s: %w", run.ID, err)
		}
	}
	if len(written.Output) > MaxInlineOutputBytes {
		written.StoredOutputDigest = outputDigest(written.Output)
	}
	return written, nil
}

// Steps reads every step item of a run (one Query, paged if over 1 MB), in
// workflow order.
func (s *Store) Steps(ctx context.Context, runID string) ([]runs.Step, error) {
	items, err := partitionQuery[stepItem](ctx, s, runID, store.PrefixStep, "steps")
	if err != nil {
		return nil, err
	}
	steps := make([]runs.Step, 0, len(items))
	for _, it := range items {
		steps = append(steps, it.step())
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Index < steps[j].Index })
	return steps, nil
}

// Step reads one step item (strongly consistent).
func (s *Store) Step(ctx context.Context, runID, stepID string) (runs.Step, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.RunStepsPK(runID), store.StepSK(stepID)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return runs.Step{}, fmt.Errorf("runsdb: get step %s of %s: %w", stepID, runID, err)
	}
	if out.Item == nil {
		return runs.Step{}, domain.ErrNotFound
	}
	var it stepItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return runs.Step{}, fmt.Errorf("runsdb: unmarshal step %s of %s: %w", stepID, runID, err)
	}
	return it.step(), nil
}

// PutStep writes a step with Revision+1, if the stored revision is still
// step.Revision (0: if there is no item yet).
func (s *Store) PutStep(ctx context.Context, step runs.Step) (runs.Step, error) {
	written := step
	written.Revision = step.Revision + 1
	condition, names, values := revisionCondition(step.Revision)
	err := s.put(ctx, s.stepItemOf(written), condition, names, values)
	if store.IsConditionFailed(err) {
		return runs.Step{}, runs.ErrRevision
	}
	if err != nil {
		return runs.Step{}, fmt.Errorf("runsdb: put step %s of %s: %w", step.StepID, step.RunID, err)
	}
	return written, nil
}

// Items reads every item of a fan-out step (one Query, paged), in index
// order (their sort keys are).
func (s *Store) Items(ctx context.Context, runID, stepID string) ([]runs.Item, error) {
	page, err := partitionQuery[fanOutItem](ctx, s, runID, store.ItemsPrefix(stepID), "items of "+stepID)
	if err != nil {
		return nil, err
	}
	items := make([]runs.Item, 0, len(page))
	for _, it := range page {
		items = append(items, it.item())
	}
	return items, nil
}

// PutItem writes a fan-out item with Revision+1, if the stored revision is
// still item.Revision (0: if there is no item yet).
func (s *Store) PutItem(ctx context.Context, item runs.Item) (runs.Item, error) {
	written := item
	written.Revision = item.Revision + 1
	condition, names, values := revisionCondition(item.Revision)
	err := s.put(ctx, s.fanOutItemOf(written), condition, names, values)
	if store.IsConditionFailed(err) {
		return runs.Item{}, runs.ErrRevision
	}
	if err != nil {
		return runs.Item{}, fmt.Errorf("runsdb: put item %s/%d of %s: %w", item.StepID, item.Index, item.RunID, err)
	}
	return written, nil
}

// revisionCondition is the condition of a write of a record read at
// revision (0: it must not exist yet).
func revisionCondition(revision int64) (string, map[string]string, map[string]types.AttributeValue) {
	if revision == 0 {
		return "attribute_not_exists(PK)", nil, nil
	}
	return "#revision = :read", map[string]string{"#revision": "revision"}, map[string]types.AttributeValue{":read": store.NumberAV(revision)}
}

// Unfinished reads the markers of every shard (one Query each, paged),
// oldest run first.
func (s *Store) Unfinished(ctx context.Context) ([]runs.RunRef, error) {
	var refs []runs.RunRef
	for shard := range store.UnfinishedShards {
		in := &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: store.UnfinishedPK(shard)},
			},
		}
		for {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("runsdb: query unfinished shard %d: %w", shard, err)
			}
			var items []markerItem
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
				return nil, fmt.Errorf("runsdb: unmarshal unfinished shard %d: %w", shard, err)
			}
			for _, it := range items {
				refs = append(refs, runs.RunRef{AccountID: it.AccountID, RunID: it.RunID, CreatedAt: createdAtOf(it.RunID)})
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].RunID < refs[j].RunID })
	return refs, nil
}

// Idempotency reads the record of a key (strongly consistent); an expired
// one is absent, whether or not DynamoDB's TTL has deleted it yet.
func (s *Store) Idempotency(ctx context.Context, account, keyHash string) (idempotency.Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.IdempotencyPK(account, keyHash), store.SortIdempotency),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("runsdb: get idempotency record: %w", err)
	}
	if out.Item == nil {
		return idempotency.Record{}, domain.ErrNotFound
	}
	var it idempotencyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return idempotency.Record{}, fmt.Errorf("runsdb: unmarshal idempotency record: %w", err)
	}
	if it.TTL <= s.now().Unix() {
		return idempotency.Record{}, domain.ErrNotFound
	}
	return idempotency.Record{
		AccountID: account, KeyHash: keyHash, RequestHash: it.RequestHash, ResultID: it.ResultID, ExpiresAt: fromTTL(it.TTL),
	}, nil
}

// PutIdempotency stores a record unless a live one holds the key (an
// expired one is overwritten).
func (s *Store) PutIdempotency(ctx context.Context, rec idempotency.Record) error {
	it := idempotencyItem{
		PK: store.IdempotencyPK(rec.AccountID, rec.KeyHash), SK: store.SortIdempotency,
		RequestHash: rec.RequestHash, ResultID: rec.ResultID, TTL: ttlOf(rec.ExpiresAt),
	}
	err := s.put(ctx, it, "attribute_not_exists(PK) OR #ttl <= :now", map[string]string{"#ttl": store.AttrTTL},
		map[string]types.AttributeValue{":now": store.NumberAV(s.now().Unix())})
	if store.IsConditionFailed(err) {
		return idempotency.ErrTaken
	}
	if err != nil {
		return fmt.Errorf("runsdb: put idempotency record: %w", err)
	}
	return nil
}

// PutSignal writes a signal token's lookup item. It is written once per
// token (a token is new with each wait), so unconditionally: a repeat
// writes the same item.
func (s *Store) PutSignal(ctx context.Context, ref runs.SignalRef) error {
	it := signalItem{PK: store.SignalPK(ref.Hash), SK: store.SortSignal, AccountID: ref.AccountID, RunID: ref.RunID, StepID: ref.StepID,
		ExpiresAt: millis(ref.ExpiresAt), TTL: ttlOf(ref.ExpiresAt)}
	if err := s.put(ctx, it, "", nil, nil); err != nil {
		return fmt.Errorf("runsdb: put signal of %s: %w", ref.RunID, err)
	}
	return nil
}

// Signal reads a signal token's lookup item by the token's hash
// (domain.ErrNotFound if none: never made, used, or deleted by its TTL).
func (s *Store) Signal(ctx context.Context, hash string) (runs.SignalRef, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            store.ItemKey(store.SignalPK(hash), store.SortSignal),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return runs.SignalRef{}, fmt.Errorf("runsdb: get signal: %w", err)
	}
	if out.Item == nil {
		return runs.SignalRef{}, domain.ErrNotFound
	}
	var it signalItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return runs.SignalRef{}, fmt.Errorf("runsdb: unmarshal signal: %w", err)
	}
	return runs.SignalRef{Hash: hash, AccountID: it.AccountID, RunID: it.RunID, StepID: it.StepID, ExpiresAt: fromMillis(it.ExpiresAt)}, nil
}

// DeleteSignal deletes a signal token's lookup item (none is no error).
func (s *Store) DeleteSignal(ctx context.Context, hash string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       store.ItemKey(store.SignalPK(hash), store.SortSignal),
	})
	if err != nil {
		return fmt.Errorf("runsdb: delete signal: %w", err)
	}
	return nil
}
