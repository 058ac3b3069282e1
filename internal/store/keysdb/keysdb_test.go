package keysdb_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// mustCreateKey issues a keys:read key in account through the keys service
// on store, as every key is made.
func mustCreateKey(tb testing.TB, db *keysdb.Store, account string) (keys.Key, string) {
	tb.Helper()
	issued := keystest.MustIssue(tb, db, account, domain.ScopeKeysRead)
	return issued.Key, issued.Plaintext
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	db := keysdb.New(table.Client, table.Name)
	now := time.Now()

	t.Run("a created key is found by the hash of its plaintext with one consistent GetItem", func(t *testing.T) {
		k, plaintext := mustCreateKey(t, db, "acct_a")
		table.Calls.Reset()
		got, storedHash, err := db.ByHash(ctx, apikey.Hash(plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != k.ID || got.AccountID != "acct_a" || got.Name != k.Name || !got.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("got %+v, want %+v", got, k)
		}
		if storedHash != apikey.Hash(plaintext) {
			t.Error("stored hash differs from the plaintext's hash")
		}
		if calls := table.Calls.Snapshot(); calls["GetItem"] != 1 || table.Calls.Total() != 1 {
			t.Errorf("calls = %v, want exactly one GetItem", calls)
		}
	})

	t.Run("an unknown hash is not found", func(t *testing.T) {
		_, _, err := db.ByHash(ctx, apikey.Hash("wfk_nothing"))
		if !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("another account's key id is not found", func(t *testing.T) {
		k, _ := mustCreateKey(t, db, "acct_b")
		if _, err := db.ByID(ctx, "acct_a", k.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if _, err := db.Revoke(ctx, "acct_a", k.ID, now, nil); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("revoke err = %v, want ErrNotFound", err)
		}
	})

	t.Run("revocation is seen by the next lookup by hash", func(t *testing.T) {
		k, plaintext := mustCreateKey(t, db, "acct_c")
		revoked, err := db.Revoke(ctx, "acct_c", k.ID, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if revoked.Status(now) != keys.StatusRevoked {
			t.Errorf("status after revoke = %s", revoked.Status(now))
		}
		got, _, err := db.ByHash(ctx, apikey.Hash(plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status(now) != keys.StatusRevoked {
			t.Errorf("status by hash = %s, want revoked", got.Status(now))
		}
		again, err := db.Revoke(ctx, "acct_c", k.ID, now.Add(time.Hour), nil)
		if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Errorf("second revoke = %v, %v; want the first revocation time kept", again.RevokedAt, err)
		}
	})

	t.Run("a revocation its check refuses writes nothing and says why", func(t *testing.T) {
		k, plaintext := mustCreateKey(t, db, "acct_f")
		refused := errors.New("not allowed")
		var seen keys.Key
		if _, err := db.Revoke(ctx, "acct_f", k.ID, now, func(target keys.Key) error { seen = target; return refused }); !errors.Is(err, refused) {
			t.Fatalf("err = %v, want the check's error", err)
		}
		if seen.ID != k.ID || len(seen.Scopes) == 0 {
			t.Fatalf("the check saw %+v, want the key with its scopes", seen)
		}
		if got, _, _ := db.ByHash(ctx, apikey.Hash(plaintext)); got.RevokedAt != nil {
			t.Fatal("the key was revoked although its check refused")
		}
	})

	t.Run("ExpireBy only ever brings expiry closer", func(t *testing.T) {
		k, _ := mustCreateKey(t, db, "acct_d")
		soon := now.Add(time.Minute).Truncate(time.Millisecond)
		got, err := db.ExpireBy(ctx, "acct_d", k.ID, soon)
		if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(soon) {
			t.Fatalf("ExpireBy = %v, %v", got.ExpiresAt, err)
		}
		got, err = db.ExpireBy(ctx, "acct_d", k.ID, soon.Add(time.Hour))
		if err != nil || !got.ExpiresAt.Equal(soon) {
			t.Fatalf("later ExpireBy moved expiry to %v (%v)", got.ExpiresAt, err)
		}
	})

	t.Run("lists newest first, page by page, only the account's own keys", func(t *testing.T) {
		var made []string
		for i := 0; i < 5; i++ {
			k, _ := mustCreateKey(t, db, "acct_list")
			made = append(made, k.ID)
		}
		mustCreateKey(t, db, "acct_other")
		var seen []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			page, err := db.List(ctx, "acct_list", 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Items {
				seen = append(seen, k.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(seen) != 5 {
			t.Fatalf("listed %d keys, want 5: %v", len(seen), seen)
		}
		for i := range seen {
			if seen[i] != made[len(made)-1-i] {
				t.Fatalf("order = %v, want newest first of %v", seen, made)
			}
		}
	})

	t.Run("a cursor that is not one of ours is refused", func(t *testing.T) {
		if _, err := db.List(ctx, "acct_list", 2, "bm90LWEta2V5"); !errors.Is(err, domain.ErrBadCursor) {
			t.Fatalf("err = %v, want ErrBadCursor", err)
		}
	})

	t.Run("a page of exactly limit keys has no cursor; one more key is a page of its own", func(t *testing.T) {
		for range 3 {
			mustCreateKey(t, db, "acct_exact")
		}
		table.Calls.Reset()
		if pages := listPages(t, db, "acct_exact", 3); !slices.Equal(pageSizes(pages), []int{3}) {
			t.Fatalf("pages %v, want one of 3 and no cursor", pageSizes(pages))
		}
		if calls := table.Calls.Snapshot(); calls["Query"] != 1 || calls["BatchGetItem"] != 1 || table.Calls.Total() != 2 {
			t.Errorf("calls %v, want one Query and one BatchGetItem", calls)
		}
		mustCreateKey(t, db, "acct_exact")
		if pages := listPages(t, db, "acct_exact", 3); !slices.Equal(pageSizes(pages), []int{3, 1}) {
			t.Fatalf("pages %v, want 3 then the one left, without a cursor", pageSizes(pages))
		}
	})

	t.Run("7 keys by 3 are pages of 3, 3 and 1, each key once, newest first", func(t *testing.T) {
		var made []string
		for range 7 {
			k, _ := mustCreateKey(t, db, "acct_seven")
			made = append([]string{k.ID}, made...)
		}
		pages := listPages(t, db, "acct_seven", 3)
		if !slices.Equal(pageSizes(pages), []int{3, 3, 1}) || !slices.Equal(slices.Concat(pages...), made) {
			t.Fatalf("pages %v, want 3, 3, 1 of %v", pages, made)
		}
	})

	t.Run("an index item whose key is gone, last in the listing, is no cursor to an empty page", func(t *testing.T) {
		// As a create that failed between its two writes leaves it: the
		// index item, older than every key here, with no auth item.
		orphan := ids.New(ids.PrefixKey, now.Add(-time.Hour))
		item := store.ItemKey(store.AccountPK("acct_orphan"), store.KeyIndexSK(orphan))
		item["keyHash"] = &types.AttributeValueMemberS{Value: apikey.Hash("wfk_never_made")}
		if _, err := table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			mustCreateKey(t, db, "acct_orphan")
		}
		for limit, want := range map[int][]int{3: {3}, 2: {2, 1}, 1: {1, 1, 1}} {
			if pages := listPages(t, db, "acct_orphan", limit); !slices.Equal(pageSizes(pages), want) {
				t.Errorf("limit %d: pages %v, want %v", limit, pageSizes(pages), want)
			}
		}
	})

	t.Run("a page of 100 keys reads 101 in BatchGetItems of at most 100", func(t *testing.T) {
		// Made with the store directly: the service would refuse the
		// 101st active key.
		var made []string
		for range 101 {
			id := ids.New(ids.PrefixKey, time.Now())
			k := keys.Key{ID: id, AccountID: "acct_many", Name: "n", Prefix: "wfk_", Scopes: domain.Scopes{domain.ScopeKeysRead}, CreatedAt: time.Now()}
			if err := db.Create(ctx, k, apikey.Hash(id)); err != nil {
				t.Fatal(err)
			}
			made = append([]string{id}, made...)
		}
		table.Calls.Reset()
		first, err := db.List(ctx, "acct_many", 100, "")
		if err != nil || len(first.Items) != 100 || first.NextCursor == "" {
			t.Fatalf("first page: %d keys, cursor %q, %v", len(first.Items), first.NextCursor, err)
		}
		if calls := table.Calls.Snapshot(); calls["Query"] != 1 || calls["BatchGetItem"] != 2 || table.Calls.Total() != 3 {
			t.Errorf("calls %v, want one Query and two BatchGetItems (100 and 1)", calls)
		}
		last, err := db.List(ctx, "acct_many", 100, first.NextCursor)
		if err != nil || len(last.Items) != 1 || last.Items[0].ID != made[100] || last.NextCursor != "" {
			t.Fatalf("last page %+v, %v; want the oldest key and no cursor", last, err)
		}
	})
}

// listPages follows an account's listing page by page (dynamotest.Pages).
func listPages(t *testing.T, db *keysdb.Store, account string, limit int) [][]string {
	t.Helper()
	return dynamotest.Pages(t, func(cursor string) (domain.Page[keys.Key], error) {
		return db.List(context.Background(), account, limit, cursor)
	}, func(x keys.Key) string { return x.ID })
}

var pageSizes = dynamotest.PageSizes
