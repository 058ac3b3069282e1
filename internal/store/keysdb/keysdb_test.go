package keysdb_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// mustCreateKey issues a keys:read key in account through the keys service
// on store, as every key is made.
func mustCreateKey(tb testing.TB, store *keysdb.Store, account string) (keys.Key, string) {
	tb.Helper()
	issued := keystest.MustIssue(tb, store, account, domain.ScopeKeysRead)
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
}
