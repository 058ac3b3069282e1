package connectionsdb_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// sealedStandIn is a Sealed of the right shape: the adapter stores and
// returns it without looking inside.
var sealedStandIn = secrets.Sealed{KeyID: "local:test", WrappedKey: []byte{1, 2, 3}, Nonce: make([]byte, 12), Ciphertext: []byte("ciphertext-bytes")}

func mustCreate(tb testing.TB, db *connectionsdb.Store, account string) connections.Connection {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := connections.Connection{ID: ids.New(ids.PrefixConnection, now), AccountID: account, Name: "n", Type: connections.TypeBearer, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(context.Background(), c, sealedStandIn); err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	db := connectionsdb.New(table.Client, table.Name)

	t.Run("a created connection reads back with one consistent GetItem, and exists", func(t *testing.T) {
		c := mustCreate(t, db, "acct_a")
		table.Calls.Reset()
		got, err := db.Get(ctx, "acct_a", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("got %+v, want %+v", got, c)
		}
		if calls := table.Calls.Snapshot(); calls["GetItem"] != 1 || table.Calls.Total() != 1 {
			t.Errorf("calls %v, want one GetItem", calls)
		}
		if exists, err := db.Exists(ctx, "acct_a", c.ID); err != nil || !exists {
			t.Errorf("Exists = %v, %v", exists, err)
		}
		_, sealed, err := db.Sealed(ctx, "acct_a", c.ID)
		if err != nil || sealed.KeyID != sealedStandIn.KeyID || string(sealed.Ciphertext) != string(sealedStandIn.Ciphertext) {
			t.Errorf("Sealed = %+v, %v", sealed, err)
		}
	})

	t.Run("another account's connection is absent to every method", func(t *testing.T) {
		c := mustCreate(t, db, "acct_owner")
		if _, err := db.Get(ctx, "acct_other", c.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Get: %v", err)
		}
		if _, _, err := db.Sealed(ctx, "acct_other", c.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Sealed: %v", err)
		}
		if exists, _ := db.Exists(ctx, "acct_other", c.ID); exists {
			t.Error("Exists in another account")
		}
		replaced := c
		replaced.AccountID, replaced.Name = "acct_other", "taken"
		if _, err := db.Replace(ctx, replaced, sealedStandIn); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Replace: %v", err)
		}
		if exists, _ := db.Exists(ctx, "acct_other", c.ID); exists {
			t.Error("a refused Replace created the item in the other account")
		}
		if _, err := db.Delete(ctx, "acct_other", c.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Delete: %v", err)
		}
		if got, err := db.Get(ctx, "acct_owner", c.ID); err != nil || got.Name != "n" {
			t.Errorf("the owner's connection changed: %+v, %v", got, err)
		}
	})

	t.Run("Replace is one UpdateItem and keeps createdAt; Delete is one DeleteItem", func(t *testing.T) {
		c := mustCreate(t, db, "acct_a")
		next := c
		next.Name, next.Type, next.UpdatedAt, next.CreatedAt = "m", connections.TypeHeader, c.UpdatedAt.Add(time.Second), time.Time{}
		table.Calls.Reset()
		got, err := db.Replace(ctx, next, sealedStandIn)
		if err != nil {
			t.Fatal(err)
		}
		if calls := table.Calls.Snapshot(); calls["UpdateItem"] != 1 || table.Calls.Total() != 1 {
			t.Errorf("calls %v, want one UpdateItem", calls)
		}
		if got.Name != "m" || got.Type != connections.TypeHeader || !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(next.UpdatedAt) {
			t.Errorf("after Replace: %+v", got)
		}
		table.Calls.Reset()
		if deleted, err := db.Delete(ctx, "acct_a", c.ID); err != nil || deleted.Name != "m" {
			t.Fatalf("Delete: %+v, %v", deleted, err)
		}
		if calls := table.Calls.Snapshot(); calls["DeleteItem"] != 1 || table.Calls.Total() != 1 {
			t.Errorf("calls %v, want one DeleteItem", calls)
		}
		if _, err := db.Delete(ctx, "acct_a", c.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("a second Delete: %v", err)
		}
	})

	t.Run("List is one Query per page and ends without an empty page", func(t *testing.T) {
		var made []string
		for range 4 {
			made = append(made, mustCreate(t, db, "acct_list").ID)
		}
		table.Calls.Reset()
		first, err := db.List(ctx, "acct_list", 2, "")
		if err != nil || len(first.Items) != 2 || first.NextCursor == "" || first.Items[0].ID != made[3] {
			t.Fatalf("first page %+v, %v", first, err)
		}
		second, err := db.List(ctx, "acct_list", 2, first.NextCursor)
		if err != nil || len(second.Items) != 2 || second.NextCursor != "" || second.Items[1].ID != made[0] {
			t.Fatalf("second page %+v, %v", second, err)
		}
		if calls := table.Calls.Snapshot(); calls["Query"] != 2 || table.Calls.Total() != 2 {
			t.Errorf("calls %v, want two Queries", calls)
		}
		if _, err := db.List(ctx, "acct_list", 2, "garbage"); !errors.Is(err, domain.ErrBadCursor) {
			t.Errorf("a bad cursor: %v", err)
		}
	})

	t.Run("exactly limit, limit+1 and 7 by 3: full pages, no empty one, each connection once", func(t *testing.T) {
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
			for range tt.made {
				made = append([]string{mustCreate(t, db, tt.account).ID}, made...)
			}
			table.Calls.Reset()
			pages := listPages(t, db, tt.account, 3)
			if sizes := pageSizes(pages); !slices.Equal(sizes, tt.wantPages) || !slices.Equal(slices.Concat(pages...), made) {
				t.Errorf("%d connections by 3: pages %v, want sizes %v of %v", tt.made, pages, tt.wantPages, made)
			}
			if calls := table.Calls.Snapshot(); calls["Query"] != len(tt.wantPages) || table.Calls.Total() != len(tt.wantPages) {
				t.Errorf("%d connections by 3: calls %v, want one Query per page", tt.made, calls)
			}
		}
	})
}

// listPages follows an account's listing page by page (dynamotest.Pages).
func listPages(t *testing.T, db *connectionsdb.Store, account string, limit int) [][]string {
	t.Helper()
	return dynamotest.Pages(t, func(cursor string) (domain.Page[connections.Connection], error) {
		return db.List(context.Background(), account, limit, cursor)
	}, func(x connections.Connection) string { return x.ID })
}

var pageSizes = dynamotest.PageSizes
