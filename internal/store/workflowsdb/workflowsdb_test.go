package workflowsdb_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

const account = "acct_db"

func mustDefinition(t *testing.T, name string) workflows.Definition {
	t.Helper()
	d, err := definition.Parse([]byte(`{"name":"`+name+`","trigger":{"type":"webhook"},"inputSchema":{"type":"object"},"steps":[{"id":"a","type":"http","with":{"method":"POST","url":"https://x.example/{{ .input.id }}","headers":{},"body":{"a":[1,null,"<&>"]}},"retry":{"maxAttempts":2}}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plantVersion writes a version item as a writer that died before moving
// the head would have left it.
func plantVersion(t *testing.T, table dynamotest.Table, id string, version int, writtenAt time.Time) {
	t.Helper()
	item := store.ItemKey(store.AccountPK(account), store.WorkflowVersionSK(id, version))
	item["workflowId"] = &types.AttributeValueMemberS{Value: id}
	item["version"] = store.NumberAV(int64(version))
	item["definition"] = &types.AttributeValueMemberS{Value: `{"name":"left behind","trigger":{"type":"manual"},"steps":[{"id":"a","type":"delay","with":{"seconds":1}}]}`}
	item["writeId"] = &types.AttributeValueMemberS{Value: "dead-writer"}
	item["writtenAt"] = store.NumberAV(writtenAt.UnixMilli())
	if _, err := table.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func TestVersionsAndLeftovers(t *testing.T) {
	table := dynamotest.MustTable(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	db := workflowsdb.New(table.Client, table.Name).WithClock(func() time.Time { return now })
	ctx := context.Background()
	id := ids.New(ids.PrefixWorkflow, now)
	w := workflows.Workflow{ID: id, AccountID: account, Definition: mustDefinition(t, "v1"), Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	change := func(version int, name string) workflows.Workflow {
		return workflows.Workflow{ID: id, AccountID: account, Definition: mustDefinition(t, name), Version: version, CreatedAt: now, UpdatedAt: now}
	}

	t.Run("a version reads back as it was written", func(t *testing.T) {
		head, err := db.Head(ctx, account, id)
		if err != nil || head.Version != 1 || head.Name != "v1" || !head.IsWebhook() || !head.Enabled {
			t.Fatalf("head %+v, %v", head, err)
		}
		got, err := db.Version(ctx, head, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Definition.InputSchema) != `{"type":"object"}` || string(got.Definition.Steps[0].With.Body) != `{"a":[1,null,"<&>"]}` ||
			got.Definition.Steps[0].With.Headers == nil || got.Definition.Steps[0].Retry.MaxAttempts != 2 || !got.UpdatedAt.Equal(now) {
			t.Fatalf("read back %+v", got.Definition)
		}
	})
	t.Run("the head carries triggerType, which the webhook routes read", func(t *testing.T) {
		out, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.WorkflowSK(id))})
		if err != nil {
			t.Fatal(err)
		}
		if tt, _ := out.Item["triggerType"].(*types.AttributeValueMemberS); tt == nil || tt.Value != "webhook" {
			t.Fatalf("head item %v", out.Item)
		}
	})
	t.Run("a leftover older than StaleAfter is taken over", func(t *testing.T) {
		plantVersion(t, table, id, 2, now.Add(-workflowsdb.StaleAfter-time.Second))
		table.Calls.Reset()
		if err := db.Update(ctx, change(2, "v2")); err != nil {
			t.Fatal(err)
		}
		calls := table.Calls.Snapshot()
		if calls["PutItem"] != 2 || calls["GetItem"] != 1 || calls["UpdateItem"] != 1 {
			t.Fatalf("calls %v", calls)
		}
		head, _ := db.Head(ctx, account, id)
		got, err := db.Version(ctx, head, 2)
		if err != nil || head.Version != 2 || got.Definition.Name != "v2" {
			t.Fatalf("head %+v, version 2 %+v, %v", head, got.Definition, err)
		}
	})
	t.Run("a fresh leftover is a write in flight, and nothing moves", func(t *testing.T) {
		plantVersion(t, table, id, 3, now.Add(-time.Second))
		if err := db.Update(ctx, change(3, "v3")); !errors.Is(err, workflows.ErrWriteInFlight) {
			t.Fatalf("got %v, want ErrWriteInFlight", err)
		}
		head, _ := db.Head(ctx, account, id)
		if head.Version != 2 {
			t.Fatalf("head at %d", head.Version)
		}
	})
	t.Run("a head not at the version before is ErrHeadMoved", func(t *testing.T) {
		if err := db.Update(ctx, change(5, "v5")); !errors.Is(err, workflows.ErrHeadMoved) {
			t.Fatalf("got %v, want ErrHeadMoved", err)
		}
		if head, _ := db.Head(ctx, account, id); head.Version != 2 || head.Name != "v2" {
			t.Fatalf("head %+v", head)
		}
	})
	t.Run("delete returns the head once; the versions stay", func(t *testing.T) {
		old, err := db.Delete(ctx, account, id)
		if err != nil || old.Version != 2 || !old.IsWebhook() {
			t.Fatalf("%+v %v", old, err)
		}
		if _, err := db.Delete(ctx, account, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := db.Head(ctx, account, id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("head after delete: %v", err)
		}
		if err := db.Update(ctx, change(3, "after")); !errors.Is(err, workflows.ErrHeadMoved) && !errors.Is(err, workflows.ErrWriteInFlight) {
			t.Fatalf("update after delete: %v", err)
		}
		for v := 1; v <= 2; v++ {
			if _, err := db.Version(ctx, old, v); err != nil {
				t.Fatalf("version %d after delete: %v", v, err)
			}
		}
	})
	t.Run("another account's workflow is absent", func(t *testing.T) {
		other := ids.New(ids.PrefixWorkflow, now)
		if err := db.Create(ctx, workflows.Workflow{ID: other, AccountID: "acct_other", Definition: mustDefinition(t, "o"), Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Head(ctx, account, other); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("head: %v", err)
		}
		if _, err := db.Delete(ctx, account, other); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("delete: %v", err)
		}
		page, err := db.List(ctx, account, 100, "")
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("list: %+v %v", page, err)
		}
	})
}

func TestListPages(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := workflowsdb.New(table.Client, table.Name)
	ctx := context.Background()
	var made []string
	for i := range 5 {
		now := time.Now().UTC().Truncate(time.Millisecond)
		id := ids.New(ids.PrefixWorkflow, now)
		if err := db.Create(ctx, workflows.Workflow{ID: id, AccountID: account, Definition: mustDefinition(t, "w"+strconv.Itoa(i)), Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// A second version, so version items sit in the same partition as
		// the heads and must not show in the listing.
		if err := db.Update(ctx, workflows.Workflow{ID: id, AccountID: account, Definition: mustDefinition(t, "w"+strconv.Itoa(i)), Version: 2, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		made = append([]string{id}, made...)
	}
	var seen []string
	cursor := ""
	for {
		page, err := db.List(ctx, account, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Items {
			if s.Version != 2 {
				t.Fatalf("summary %+v", s)
			}
			seen = append(seen, s.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != len(made) {
		t.Fatalf("listed %v, want %v", seen, made)
	}
	for i := range made {
		if seen[i] != made[i] {
			t.Fatalf("listed %v, want newest first %v", seen, made)
		}
	}
	if _, err := db.List(ctx, account, 2, store.EncodeCursor("key_01jc0000000000000000000000")); !errors.Is(err, domain.ErrBadCursor) {
		t.Fatalf("a cursor of another listing: %v", err)
	}
}

// TestListNeverLeadsToAnEmptyPage: exactly limit workflows is one page
// without a cursor, one more is a second page of that one, and 7 by 3 are
// pages of 3, 3 and 1, each workflow once, one Query each.
func TestListNeverLeadsToAnEmptyPage(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := workflowsdb.New(table.Client, table.Name)
	ctx := context.Background()
	for _, tt := range []struct {
		account   string
		made      int
		wantPages []int
	}{
		{"acct_exact", 3, []int{3}},
		{"acct_plus", 4, []int{3, 1}},
		{"acct_seven", 7, []int{3, 3, 1}},
	} {
		var made []string
		for i := range tt.made {
			now := time.Now().UTC().Truncate(time.Millisecond)
			id := ids.New(ids.PrefixWorkflow, now)
			if err := db.Create(ctx, workflows.Workflow{ID: id, AccountID: tt.account, Definition: mustDefinition(t, "w"+strconv.Itoa(i)), Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			made = append([]string{id}, made...)
		}
		table.Calls.Reset()
		var pages [][]string
		cursor := ""
		for range 20 {
			page, err := db.List(ctx, tt.account, 3, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if cursor != "" && len(page.Items) == 0 {
				t.Fatalf("%d workflows: after pages %v, a cursor led to an empty page", tt.made, pages)
			}
			var listed []string
			for _, s := range page.Items {
				listed = append(listed, s.ID)
			}
			pages = append(pages, listed)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		var sizes []int
		for _, p := range pages {
			sizes = append(sizes, len(p))
		}
		if !slices.Equal(sizes, tt.wantPages) || !slices.Equal(slices.Concat(pages...), made) {
			t.Errorf("%d workflows by 3: pages %v, want sizes %v of %v", tt.made, pages, tt.wantPages, made)
		}
		if calls := table.Calls.Snapshot(); calls["Query"] != len(tt.wantPages) || table.Calls.Total() != len(tt.wantPages) {
			t.Errorf("%d workflows by 3: calls %v, want one Query per page", tt.made, calls)
		}
	}
}

// TestTheHeadSaysWhetherTheWorkflowHasNotify: hasNotify follows the current
// version through Create, Update and Delete, stored only when true, and is
// what the notify roll (webhooksdb) reads.
func TestTheHeadSaysWhetherTheWorkflowHasNotify(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := workflowsdb.New(table.Client, table.Name)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	parse := func(notify string) workflows.Definition {
		t.Helper()
		d, err := definition.Parse([]byte(`{"name":"n","trigger":{"type":"manual"},`+notify+`"steps":[{"id":"a","type":"delay","with":{"seconds":1}}]}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	withNotify, without := parse(`"notify":{"url":"https://hooks.example/runs","events":["run.failed"]},`), parse("")
	id := ids.New(ids.PrefixWorkflow, now)
	stored := func() (attr types.AttributeValue, present bool) {
		t.Helper()
		out, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.WorkflowSK(id)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		attr, present = out.Item["hasNotify"]
		return attr, present
	}
	for i, tt := range []struct {
		name string
		d    workflows.Definition
		want bool
	}{
		{"a workflow created with notify has it", withNotify, true},
		{"a change that removes notify removes it", without, false},
		{"a change that gives it notify again sets it", withNotify, true},
		{"a change that keeps notify keeps it", withNotify, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := workflows.Workflow{ID: id, AccountID: account, Definition: tt.d, Version: i + 1, CreatedAt: now, UpdatedAt: now}
			write := db.Update
			if i == 0 {
				write = db.Create
			}
			if err := write(ctx, w); err != nil {
				t.Fatal(err)
			}
			head, err := db.Head(ctx, account, id)
			if err != nil || head.HasNotify != tt.want {
				t.Fatalf("head %+v, %v; want HasNotify %v", head, err, tt.want)
			}
			attr, present := stored()
			if b, _ := attr.(*types.AttributeValueMemberBOOL); present != tt.want || (tt.want && (b == nil || !b.Value)) {
				t.Fatalf("hasNotify stored as %v (present %v), want it only when true", attr, present)
			}
		})
	}
	t.Run("delete returns the head with it, so its secret can be dropped", func(t *testing.T) {
		old, err := db.Delete(ctx, account, id)
		if err != nil || !old.HasNotify {
			t.Fatalf("%+v %v", old, err)
		}
	})
}
