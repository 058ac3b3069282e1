package webhooksdb_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

var ctx = context.Background()

func sealed(tag string) secrets.Sealed {
	return secrets.Sealed{KeyID: "local:test", WrappedKey: []byte("wrapped-" + tag), Nonce: bytes.Repeat([]byte{1}, 12), Ciphertext: []byte("ciphertext-" + tag)}
}

// kind is one kind of secret item: its store, its key and its service.
type kind struct {
	name       string
	newStore   func(db *dynamodb.Client, table string) *webhooksdb.Store
	pk         func(workflowID string) string
	sk         string
	newSecrets func(webhooks.Store, secrets.Sealer) *webhooks.Secrets
	prefix     string
}

// kinds are the two kinds of secret: every test of the items runs on each,
// since one adapter keeps both.
var kinds = []kind{
	{"webhook secrets", webhooksdb.New, store.WebhookSecretPK, store.SortWebhookSecret, webhooks.NewSecrets, webhooks.SecretPrefix},
	{"notification secrets", webhooksdb.NewNotify, store.NotifySecretPK, store.SortNotifySecret, webhooks.NewNotifySecrets, webhooks.NotifySecretPrefix},
}

// eachKind runs test once per kind, on a table of its own.
func eachKind(t *testing.T, test func(t *testing.T, k kind, table dynamotest.Table, s *webhooksdb.Store)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			table := dynamotest.MustTable(t)
			test(t, k, table, k.newStore(table.Client, table.Name))
		})
	}
}

// mustPutHead writes a workflow's head as the workflows adapter does: the
// attributes this adapter reads among them (hasNotify only when true).
func mustPutHead(t *testing.T, table dynamotest.Table, account, workflowID, trigger string, hasNotify bool) {
	t.Helper()
	item := map[string]types.AttributeValue{
		"PK":          &types.AttributeValueMemberS{Value: store.AccountPK(account)},
		"SK":          &types.AttributeValueMemberS{Value: store.WorkflowSK(workflowID)},
		"triggerType": &types.AttributeValueMemberS{Value: trigger},
		"name":        &types.AttributeValueMemberS{Value: "w"},
	}
	if hasNotify {
		item["hasNotify"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if _, err := table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func rawItem(t *testing.T, table dynamotest.Table, k kind, workflowID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table.Name), Key: store.ItemKey(k.pk(workflowID), k.sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func mustGet(t *testing.T, s *webhooksdb.Store, workflowID string) webhooks.Record {
	t.Helper()
	rec, err := s.Get(ctx, workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func newWorkflowID() string { return ids.New(ids.PrefixWorkflow, time.Now()) }

func TestPutGetDelete(t *testing.T) { eachKind(t, testPutGetDelete) }

func testPutGetDelete(t *testing.T, k kind, table dynamotest.Table, s *webhooksdb.Store) {
	wf := newWorkflowID()
	created := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("a put item reads back with its account and sealed secret, in one call each", func(t *testing.T) {
		table.Calls.Reset()
		if err := s.Put(ctx, webhooks.Record{WorkflowID: wf, AccountID: "acct_a", Current: sealed("one"), CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		rec := mustGet(t, s, wf)
		if rec.AccountID != "acct_a" || rec.WorkflowID != wf || !bytes.Equal(rec.Current.Ciphertext, sealed("one").Ciphertext) ||
			!bytes.Equal(rec.Current.WrappedKey, sealed("one").WrappedKey) || rec.Current.KeyID != "local:test" ||
			rec.Previous != nil || !rec.CreatedAt.Equal(created) {
			t.Fatalf("read back %+v", rec)
		}
		if calls := table.Calls.Snapshot(); calls["PutItem"] != 1 || calls["GetItem"] != 1 || table.Calls.Total() != 2 {
			t.Fatalf("calls %v", calls)
		}
	})
	t.Run("another account cannot replace the item", func(t *testing.T) {
		err := s.Put(ctx, webhooks.Record{WorkflowID: wf, AccountID: "acct_b", Current: sealed("evil"), CreatedAt: created})
		if !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("put by another account: %v", err)
		}
		if rec := mustGet(t, s, wf); rec.AccountID != "acct_a" || !bytes.Equal(rec.Current.Ciphertext, sealed("one").Ciphertext) {
			t.Fatalf("item changed: %+v", rec)
		}
	})
	t.Run("the same account replaces it, dropping a previous secret", func(t *testing.T) {
		if err := s.Roll(ctx, "acct_a", wf, sealed("two"), time.Now().Add(time.Hour), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, webhooks.Record{WorkflowID: wf, AccountID: "acct_a", Current: sealed("three"), CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		if rec := mustGet(t, s, wf); !bytes.Equal(rec.Current.Ciphertext, sealed("three").Ciphertext) || rec.Previous != nil {
			t.Fatalf("after replacing: %+v", rec)
		}
	})
	t.Run("another account's delete leaves the item", func(t *testing.T) {
		if err := s.Delete(ctx, "acct_b", wf); err != nil {
			t.Fatal(err)
		}
		if rawItem(t, table, k, wf) == nil {
			t.Fatal("another account deleted the item")
		}
	})
	t.Run("the account's delete removes it with one DeleteItem, and Get says not found", func(t *testing.T) {
		table.Calls.Reset()
		if err := s.Delete(ctx, "acct_a", wf); err != nil {
			t.Fatal(err)
		}
		if calls := table.Calls.Snapshot(); calls["DeleteItem"] != 1 || table.Calls.Total() != 1 {
			t.Fatalf("calls %v", calls)
		}
		if _, err := s.Get(ctx, wf); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
	})
	t.Run("deleting an absent item is not an error", func(t *testing.T) {
		if err := s.Delete(ctx, "acct_a", wf); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWorkflowHead(t *testing.T) { eachKind(t, testWorkflowHead) }

func testWorkflowHead(t *testing.T, _ kind, table dynamotest.Table, s *webhooksdb.Store) {
	webhook, manual, notify, both, absent := newWorkflowID(), newWorkflowID(), newWorkflowID(), newWorkflowID(), newWorkflowID()
	mustPutHead(t, table, "acct_a", webhook, "webhook", false)
	mustPutHead(t, table, "acct_a", manual, "manual", false)
	mustPutHead(t, table, "acct_a", notify, "schedule", true)
	mustPutHead(t, table, "acct_a", both, "webhook", true)
	for _, tt := range []struct {
		name, account, workflowID string
		want                      webhooks.Head
		wantErr                   error
	}{
		{"a webhook workflow of the account", "acct_a", webhook, webhooks.Head{TriggerType: "webhook"}, nil},
		{"a manual workflow", "acct_a", manual, webhooks.Head{TriggerType: "manual"}, nil},
		{"a workflow with notify", "acct_a", notify, webhooks.Head{TriggerType: "schedule", HasNotify: true}, nil},
		{"a webhook workflow with notify", "acct_a", both, webhooks.Head{TriggerType: "webhook", HasNotify: true}, nil},
		{"an absent workflow is not found", "acct_a", absent, webhooks.Head{}, domain.ErrNotFound},
		{"another account's workflow is not found", "acct_b", both, webhooks.Head{}, domain.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			table.Calls.Reset()
			got, err := s.WorkflowHead(ctx, tt.account, tt.workflowID)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
			if calls := table.Calls.Snapshot(); calls["GetItem"] != 1 || table.Calls.Total() != 1 {
				t.Fatalf("calls %v", calls)
			}
		})
	}
}

func TestRoll(t *testing.T) { eachKind(t, testRoll) }

func testRoll(t *testing.T, k kind, table dynamotest.Table, s *webhooksdb.Store) {
	wf := newWorkflowID()
	if err := s.Put(ctx, webhooks.Record{WorkflowID: wf, AccountID: "acct_a", Current: sealed("one"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)

	t.Run("with a grace period the old secret becomes the previous one, in one UpdateItem", func(t *testing.T) {
		table.Calls.Reset()
		if err := s.Roll(ctx, "acct_a", wf, sealed("two"), until, time.Now()); err != nil {
			t.Fatal(err)
		}
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 1 || table.Calls.Total() != 1 {
			t.Fatalf("calls %v", calls)
		}
		rec := mustGet(t, s, wf)
		if !bytes.Equal(rec.Current.Ciphertext, sealed("two").Ciphertext) || rec.Previous == nil ||
			!bytes.Equal(rec.Previous.Ciphertext, sealed("one").Ciphertext) || !bytes.Equal(rec.Previous.Nonce, sealed("one").Nonce) ||
			!rec.PreviousExpiresAt.Equal(until) || rec.AccountID != "acct_a" {
			t.Fatalf("after roll: %+v", rec)
		}
	})
	t.Run("rolling again within the grace period drops the oldest", func(t *testing.T) {
		if err := s.Roll(ctx, "acct_a", wf, sealed("three"), until.Add(time.Minute), time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := mustGet(t, s, wf)
		if !bytes.Equal(rec.Current.Ciphertext, sealed("three").Ciphertext) || !bytes.Equal(rec.Previous.Ciphertext, sealed("two").Ciphertext) {
			t.Fatalf("after second roll: %+v", rec)
		}
	})
	t.Run("without a grace period no previous secret is kept", func(t *testing.T) {
		if err := s.Roll(ctx, "acct_a", wf, sealed("four"), time.Time{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := mustGet(t, s, wf)
		if !bytes.Equal(rec.Current.Ciphertext, sealed("four").Ciphertext) || rec.Previous != nil || !rec.PreviousExpiresAt.IsZero() {
			t.Fatalf("after strict roll: %+v", rec)
		}
		item := rawItem(t, table, k, wf)
		if _, ok := item["previous"]; ok {
			t.Fatal("previous still stored")
		}
		if _, ok := item["previousExpiresAt"]; ok {
			t.Fatal("previousExpiresAt still stored")
		}
	})
	t.Run("another account's roll is not found and changes nothing", func(t *testing.T) {
		if err := s.Roll(ctx, "acct_b", wf, sealed("evil"), until, time.Now()); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("roll by another account: %v", err)
		}
		if rec := mustGet(t, s, wf); rec.AccountID != "acct_a" || !bytes.Equal(rec.Current.Ciphertext, sealed("four").Ciphertext) {
			t.Fatalf("item changed: %+v", rec)
		}
	})
	t.Run("a lost item is made anew by the roll", func(t *testing.T) {
		lost := newWorkflowID()
		if err := s.Roll(ctx, "acct_a", lost, sealed("new"), until, time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := mustGet(t, s, lost)
		if rec.AccountID != "acct_a" || rec.WorkflowID != lost || !bytes.Equal(rec.Current.Ciphertext, sealed("new").Ciphertext) || rec.Previous != nil {
			t.Fatalf("remade item: %+v", rec)
		}
	})
}

// TestNoPlaintextIsStored makes a secret through the service on this store
// and reads the raw item: neither the secret nor its random part is in it.
func TestNoPlaintextIsStored(t *testing.T) { eachKind(t, testNoPlaintextIsStored) }

func testNoPlaintextIsStored(t *testing.T, k kind, table dynamotest.Table, s *webhooksdb.Store) {
	sealer, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	service := k.newSecrets(s, sealer)
	wf := newWorkflowID()
	mustPutHead(t, table, "acct_a", wf, "webhook", true)
	created, err := service.Create(ctx, "acct_a", wf)
	if err != nil {
		t.Fatal(err)
	}
	rolled, _, err := service.Roll(ctx, "acct_a", wf, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for name, av := range rawItem(t, table, k, wf) {
		raw = appendContents(append(raw, name...), av)
	}
	for _, secret := range []string{created, rolled} {
		random, ok := strings.CutPrefix(secret, k.prefix)
		if !ok {
			t.Fatalf("the service made a secret without its kind's prefix %s", k.prefix)
		}
		if bytes.Contains(raw, []byte(random)) {
			t.Fatalf("the raw item holds the secret %s", secret)
		}
	}
	if !bytes.Contains(raw, []byte("ciphertext")) || !bytes.Contains(raw, []byte("wrappedKey")) {
		t.Fatalf("the raw item holds no sealed secret: %q", raw)
	}
}

// appendContents appends every name, string and binary value inside av.
func appendContents(out []byte, av types.AttributeValue) []byte {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return append(out, v.Value...)
	case *types.AttributeValueMemberB:
		return append(out, v.Value...)
	case *types.AttributeValueMemberN:
		return append(out, v.Value...)
	case *types.AttributeValueMemberM:
		for name, inner := range v.Value {
			out = appendContents(append(out, name...), inner)
		}
	}
	return out
}

// TestAWorkflowsTwoSecretsAreTwoItems gives one workflow both secrets: each
// kind reads, rolls and deletes its own item and leaves the other's.
func TestAWorkflowsTwoSecretsAreTwoItems(t *testing.T) {
	table := dynamotest.MustTable(t)
	hooks, notes := webhooksdb.New(table.Client, table.Name), webhooksdb.NewNotify(table.Client, table.Name)
	wf := newWorkflowID()
	for _, put := range []struct {
		s   *webhooksdb.Store
		tag string
	}{{hooks, "webhook"}, {notes, "notify"}} {
		if err := put.s.Put(ctx, webhooks.Record{WorkflowID: wf, AccountID: "acct_a", Current: sealed(put.tag), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustGet(t, hooks, wf); !bytes.Equal(got.Current.Ciphertext, sealed("webhook").Ciphertext) {
		t.Fatalf("the webhook store reads %q", got.Current.Ciphertext)
	}
	if got := mustGet(t, notes, wf); !bytes.Equal(got.Current.Ciphertext, sealed("notify").Ciphertext) {
		t.Fatalf("the notify store reads %q", got.Current.Ciphertext)
	}
	if err := notes.Roll(ctx, "acct_a", wf, sealed("notify-2"), time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, hooks, wf); !bytes.Equal(got.Current.Ciphertext, sealed("webhook").Ciphertext) {
		t.Fatal("rolling the notification secret changed the webhook secret")
	}
	if err := notes.Delete(ctx, "acct_a", wf); err != nil {
		t.Fatal(err)
	}
	if _, err := notes.Get(ctx, wf); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the notification secret after its delete: %v", err)
	}
	if got := mustGet(t, hooks, wf); !bytes.Equal(got.Current.Ciphertext, sealed("webhook").Ciphertext) {
		t.Fatal("deleting the notification secret changed the webhook secret")
	}
}

// TestSigningSecretsReadOneItem signs through the notification secrets
// service on this store, as the runner does: one GetItem of the secret
// item per call, the newest secret first, and none for another account.
func TestSigningSecretsReadOneItem(t *testing.T) {
	table := dynamotest.MustTable(t)
	sealer, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	service := webhooks.NewNotifySecrets(webhooksdb.NewNotify(table.Client, table.Name), sealer)
	wf := newWorkflowID()
	mustPutHead(t, table, "acct_a", wf, "manual", true)
	first, err := service.Create(ctx, "acct_a", wf)
	if err != nil {
		t.Fatal(err)
	}
	second, until, err := service.Roll(ctx, "acct_a", wf, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		at   time.Time
		want []string
	}{
		{"within the grace period", time.Now(), []string{second, first}},
		{"after it", until, []string{second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			table.Calls.Reset()
			got, err := service.SigningSecrets(ctx, "acct_a", wf, tt.at)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %d secrets (%v), want %d", len(got), err, len(tt.want))
			}
			if calls := table.Calls.Snapshot(); calls["GetItem"] != 1 || table.Calls.Total() != 1 {
				t.Fatalf("calls %v", calls)
			}
		})
	}
	t.Run("another account's workflow is not found", func(t *testing.T) {
		if got, err := service.SigningSecrets(ctx, "acct_b", wf, time.Now()); !errors.Is(err, domain.ErrNotFound) || got != nil {
			t.Fatalf("got %d secrets, %v; want domain.ErrNotFound", len(got), err)
		}
	})
}
