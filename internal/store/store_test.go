package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func mustCreateKey(tb testing.TB, keys *store.APIKeys, account string, at time.Time) (domain.APIKey, string) {
	tb.Helper()
	plaintext, k := dynamotest.MustCreateKey(tb, keys, account, func(k *domain.APIKey) {
		k.ID = ids.New(ids.PrefixKey, at)
		k.Scopes = domain.Scopes{domain.ScopeKeysRead}
		k.CreatedAt = at.UTC().Truncate(time.Millisecond)
	})
	return k, plaintext
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	keys := store.NewAPIKeys(table.Client, table.Name)
	now := time.Now()

	t.Run("a created key is found by the hash of its plaintext with one consistent GetItem", func(t *testing.T) {
		k, plaintext := mustCreateKey(t, keys, "acct_a", now)
		table.Calls.Reset()
		got, storedHash, err := keys.ByHash(ctx, apikey.Hash(plaintext))
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
		_, _, err := keys.ByHash(ctx, apikey.Hash("wfk_nothing"))
		if !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("another account's key id is not found", func(t *testing.T) {
		k, _ := mustCreateKey(t, keys, "acct_b", now)
		if _, err := keys.ByID(ctx, "acct_a", k.ID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if _, err := keys.Revoke(ctx, "acct_a", k.ID, now); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("revoke err = %v, want ErrNotFound", err)
		}
	})

	t.Run("revocation is seen by the next lookup by hash", func(t *testing.T) {
		k, plaintext := mustCreateKey(t, keys, "acct_c", now)
		revoked, err := keys.Revoke(ctx, "acct_c", k.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if revoked.Status(now) != domain.KeyRevoked {
			t.Errorf("status after revoke = %s", revoked.Status(now))
		}
		got, _, err := keys.ByHash(ctx, apikey.Hash(plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status(now) != domain.KeyRevoked {
			t.Errorf("status by hash = %s, want revoked", got.Status(now))
		}
		again, err := keys.Revoke(ctx, "acct_c", k.ID, now.Add(time.Hour))
		if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Errorf("second revoke = %v, %v; want the first revocation time kept", again.RevokedAt, err)
		}
	})

	t.Run("ExpireBy only ever brings expiry closer", func(t *testing.T) {
		k, _ := mustCreateKey(t, keys, "acct_d", now)
		soon := now.Add(time.Minute).Truncate(time.Millisecond)
		got, err := keys.ExpireBy(ctx, "acct_d", k.ID, soon)
		if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(soon) {
			t.Fatalf("ExpireBy = %v, %v", got.ExpiresAt, err)
		}
		got, err = keys.ExpireBy(ctx, "acct_d", k.ID, soon.Add(time.Hour))
		if err != nil || !got.ExpiresAt.Equal(soon) {
			t.Fatalf("later ExpireBy moved expiry to %v (%v)", got.ExpiresAt, err)
		}
	})

	t.Run("lists newest first, page by page, only the account's own keys", func(t *testing.T) {
		var made []string
		for i := 0; i < 5; i++ {
			k, _ := mustCreateKey(t, keys, "acct_list", now.Add(time.Duration(i)*time.Millisecond))
			made = append(made, k.ID)
		}
		mustCreateKey(t, keys, "acct_other", now)
		var seen []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			page, err := keys.List(ctx, "acct_list", 2, cursor)
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
		if _, err := keys.List(ctx, "acct_list", 2, "bm90LWEta2V5"); !errors.Is(err, store.ErrBadCursor) {
			t.Fatalf("err = %v, want ErrBadCursor", err)
		}
	})

	t.Run("lastUsedAt is written at most once per interval", func(t *testing.T) {
		_, plaintext := mustCreateKey(t, keys, "acct_e", now)
		hash := apikey.Hash(plaintext)
		for i, at := range []time.Time{now, now.Add(10 * time.Second), now.Add(59 * time.Second)} {
			if err := keys.TouchLastUsed(ctx, hash, at, time.Minute); err != nil {
				t.Fatalf("touch %d: %v", i, err)
			}
		}
		got, _, _ := keys.ByHash(ctx, hash)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want the first touch %v", got.LastUsedAt, now)
		}
		later := now.Add(61 * time.Second)
		if err := keys.TouchLastUsed(ctx, hash, later, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, _, _ = keys.ByHash(ctx, hash)
		if !got.LastUsedAt.Equal(later.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want %v after a minute", got.LastUsedAt, later)
		}
	})
}

func TestRateCounter(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	counter := store.NewRateCounter(table.Client, table.Name)
	expires := time.Now().Add(2 * time.Minute)

	t.Run("300 concurrent increments against limit 100 add exactly 100", func(t *testing.T) {
		var added atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 300)
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := counter.Increment(ctx, "subject#write", 1000, 100, expires)
				if err != nil {
					errs <- err
				}
				if ok {
					added.Add(1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if added.Load() != 100 {
			t.Fatalf("added %d, want exactly 100", added.Load())
		}
	})

	t.Run("returns the previous window's count beside the current one", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if _, _, err := counter.Increment(ctx, "prev#read", 41, 10, expires); err != nil {
				t.Fatal(err)
			}
		}
		state, ok, err := counter.Increment(ctx, "prev#read", 42, 10, expires)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if state != (ratelimit.State{Previous: 3, Current: 1}) {
			t.Fatalf("state = %+v, want previous 3 current 1", state)
		}
	})

	t.Run("a decrement takes one back and never goes below zero", func(t *testing.T) {
		if _, _, err := counter.Increment(ctx, "dec#read", 7, 10, expires); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := counter.Decrement(ctx, "dec#read", 7); err != nil {
				t.Fatal(err)
			}
		}
		state, _, err := counter.Increment(ctx, "dec#read", 7, 10, expires)
		if err != nil || state.Current != 1 {
			t.Fatalf("state after two decrements and one increment = %+v (%v), want current 1", state, err)
		}
	})

	t.Run("counts of windows long gone are cleaned out", func(t *testing.T) {
		for _, w := range []int64{100, 101, 110} {
			if _, _, err := counter.Increment(ctx, "gap#read", w, 10, expires); err != nil {
				t.Fatal(err)
			}
		}
		// Window 111: the item must now hold only n110 and n111.
		state, _, err := counter.Increment(ctx, "gap#read", 111, 10, expires)
		if err != nil || state != (ratelimit.State{Previous: 1, Current: 1}) {
			t.Fatalf("state = %+v (%v)", state, err)
		}
		table.Calls.Reset()
		if _, _, err := counter.Increment(ctx, "gap#read", 112, 10, expires); err != nil {
			t.Fatal(err)
		}
		if n := table.Calls.Total(); n != 1 {
			t.Fatalf("after cleanup an increment took %d calls, want 1 (stale windows left behind)", n)
		}
	})
}
