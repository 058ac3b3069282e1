package pipelinedb_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestRateCounter(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	counter := pipelinedb.NewRateCounter(table.Client, table.Name)
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

func TestKeyUsage(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	store := keysdb.New(table.Client, table.Name)
	usage := pipelinedb.NewKeyUsage(table.Client, table.Name)
	now := time.Now()
	name, scopes := "usage test", []string{"keys:read"}
	issued, err := keys.NewService(store, nil).Issue(ctx, keys.Operator("acct_e"), keys.IssueRequest{Name: &name, Scopes: &scopes})
	if err != nil {
		t.Fatal(err)
	}
	plaintext, hash := issued.Plaintext, apikey.Hash(issued.Plaintext)

	t.Run("lastUsedAt is written at most once per interval", func(t *testing.T) {
		for i, at := range []time.Time{now, now.Add(10 * time.Second), now.Add(59 * time.Second)} {
			if err := usage.RecordUse(ctx, plaintext, at, time.Minute); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		got, _, _ := store.ByHash(ctx, hash)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want the first use %v", got.LastUsedAt, now)
		}
		later := now.Add(61 * time.Second)
		if err := usage.RecordUse(ctx, plaintext, later, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, _, _ = store.ByHash(ctx, hash)
		if !got.LastUsedAt.Equal(later.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want %v after a minute", got.LastUsedAt, later)
		}
	})

	t.Run("a key that does not exist gets no item", func(t *testing.T) {
		unknown, _ := apikey.Generate()
		if err := usage.RecordUse(ctx, unknown, now, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.ByHash(ctx, apikey.Hash(unknown)); err == nil {
			t.Fatal("recording the use of an unknown key created its item")
		}
	})
}
