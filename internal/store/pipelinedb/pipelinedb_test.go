package pipelinedb_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestRateCounter(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	counter := pipelinedb.NewRateCounter(table.Client, table.Name)
	expires := time.Now().Add(2 * time.Minute)

	t.Run("300 concurrent adds are atomic: each sees a different total, 1 to 300", func(t *testing.T) {
		// A client with room for the burst: 300 calls queue for over a
		// second in the single-threaded local engine on a loaded machine,
		// and a timed-out attempt the engine still applies would be
		// counted twice (see store.DefaultBudget).
		burst, err := store.NewClient(ctx, store.Config{Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: table.Name,
			Budget: store.Budget{Call: time.Minute, Attempt: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		counter := pipelinedb.NewRateCounter(burst, table.Name)
		seen := make([]atomic.Int64, 301)
		var wg sync.WaitGroup
		errs := make(chan error, 300)
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts, err := counter.Add(ctx, "subject#write", 1000, 940, expires)
				if err != nil {
					errs <- err
					return
				}
				if n := counts[1000]; n >= 1 && n <= 300 {
					seen[n].Add(1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for n := 1; n <= 300; n++ {
			if seen[n].Load() != 1 {
				t.Fatalf("total %d was seen %d times, want once", n, seen[n].Load())
			}
		}
	})

	t.Run("returns every second of the window, later seconds included, and nothing older", func(t *testing.T) {
		for _, s := range []int64{2000, 2000, 2030, 2061} {
			if _, err := counter.Add(ctx, "window#read", s, s-60, expires); err != nil {
				t.Fatal(err)
			}
		}
		// A process whose clock is two seconds behind: its window is 1999
		// to 2059, and 2061 is later than its now. The add at 2061 kept
		// 2000 (the second before its window), so it is there.
		counts, err := counter.Add(ctx, "window#read", 2059, 1999, expires)
		if err != nil {
			t.Fatal(err)
		}
		if want := (ratelimit.Counts{2000: 2, 2030: 1, 2059: 1, 2061: 1}); !maps.Equal(counts, want) {
			t.Fatalf("counts = %v, want %v", counts, want)
		}
		counts, _ = counter.Add(ctx, "window#read", 2062, 2002, expires)
		if want := (ratelimit.Counts{2030: 1, 2059: 1, 2061: 1, 2062: 1}); !maps.Equal(counts, want) {
			t.Fatalf("counts = %v, want %v (2000 is out)", counts, want)
		}
	})

	t.Run("a take-back takes one back and never goes below zero", func(t *testing.T) {
		if _, err := counter.Add(ctx, "dec#read", 7000, 6940, expires); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := counter.TakeBack(ctx, "dec#read", 7000); err != nil {
				t.Fatal(err)
			}
		}
		if err := counter.TakeBack(ctx, "dec#read", 6999); err != nil {
			t.Fatalf("a take-back of a second that was never counted: %v", err)
		}
		counts, err := counter.Add(ctx, "dec#read", 7000, 6940, expires)
		if err != nil || !maps.Equal(counts, ratelimit.Counts{7000: 1}) {
			t.Fatalf("counts after two take-backs and one add = %v (%v), want 7000: 1", counts, err)
		}
	})

	t.Run("the item holds the window and a second more; busy or sparse, one UpdateItem per add", func(t *testing.T) {
		for _, step := range []int64{1, 7, 45} {
			bucket := fmt.Sprintf("busy%d#write", step)
			table.Calls.Reset()
			adds := 0
			for s := int64(10_000); s < 10_400; s += step {
				if _, err := counter.Add(ctx, bucket, s, s-60, expires); err != nil {
					t.Fatal(err)
				}
				adds++
			}
			if calls := table.Calls.Total(); calls != adds {
				t.Fatalf("every %d s: %d adds made %d calls, want one each", step, adds, calls)
			}
			item := mustItem(t, table, bucket)
			seconds := 0
			for name := range item {
				if s, ok := store.RateSecondOfAttr(name); ok {
					seconds++
					if last := 10_400 - 1 - (10_400-1-10_000)%step; s < last-61 {
						t.Fatalf("every %d s: second %d is still in the item after second %d", step, s, last)
					}
				}
			}
			if seconds > 62 {
				t.Fatalf("every %d s: the item holds %d seconds, want at most 62", step, seconds)
			}
		}
	})

	t.Run("counts left by a bucket idle for over a minute, or by the earlier limiter, are cleaned out", func(t *testing.T) {
		const bucket = "gap#read"
		// What the per-minute limiter left: n<minute> counts.
		if _, err := table.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(table.Name),
			Key:              store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
			UpdateExpression: aws.String("SET n29000000 = :one, n29000001 = :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": store.NumberAV(1),
			},
		}); err != nil {
			t.Fatal(err)
		}
		for _, s := range []int64{100, 101, 160} {
			if _, err := counter.Add(ctx, bucket, s, s-60, expires); err != nil {
				t.Fatal(err)
			}
		}
		// 200 s on: 100, 101 and 160 are out of reach of the REMOVE, and
		// with the n-counts they are removed by one more write.
		table.Calls.Reset()
		counts, err := counter.Add(ctx, bucket, 400, 340, expires)
		if err != nil || !maps.Equal(counts, ratelimit.Counts{400: 1}) {
			t.Fatalf("counts = %v (%v)", counts, err)
		}
		if n := table.Calls.Total(); n != 2 {
			t.Fatalf("the add after the gap made %d calls, want 2 (count, clean)", n)
		}
		item := mustItem(t, table, bucket)
		for name := range item {
			if name != store.AttrPK && name != store.AttrSK && name != store.AttrTTL && name != store.RateSecondAttr(400) {
				t.Fatalf("attribute %s was left in %v", name, item)
			}
		}
		table.Calls.Reset()
		if _, err := counter.Add(ctx, bucket, 401, 341, expires); err != nil {
			t.Fatal(err)
		}
		if n := table.Calls.Total(); n != 1 {
			t.Fatalf("after cleaning an add took %d calls, want 1", n)
		}
	})

	t.Run("every add sets the TTL", func(t *testing.T) {
		for _, e := range []int64{1_800_000_100, 1_800_000_160} {
			if _, err := counter.Add(ctx, "ttl#read", 5000, 4940, time.Unix(e, 0)); err != nil {
				t.Fatal(err)
			}
			if got := store.NumberAttr(mustItem(t, table, "ttl#read"), store.AttrTTL); got != e {
				t.Fatalf("ttl = %d, want %d", got, e)
			}
		}
	})
}

func mustItem(t *testing.T, table dynamotest.Table, bucket string) map[string]types.AttributeValue {
	t.Helper()
	out, err := table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(table.Name),
		Key:            store.ItemKey(store.RateCounterPK(bucket), store.SortRateCounter),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func TestRateSecondAttr(t *testing.T) {
	for _, s := range []int64{0, 1, 35, 36, 1_795_000_000, 2_176_782_336} {
		name := store.RateSecondAttr(s)
		if got, ok := store.RateSecondOfAttr(name); !ok || got != s {
			t.Fatalf("RateSecondOfAttr(%q) = %d, %v, want %d", name, got, ok, s)
		}
	}
	if name := store.RateSecondAttr(1_795_000_000); len(name) != 7 {
		t.Fatalf("the attribute of a second of 2026 is %q, want 7 bytes", name)
	}
	for _, name := range []string{"", "s", "SK", "S1", "ttl", "sA1", "s-1", "n29000000", "PK"} {
		if _, ok := store.RateSecondOfAttr(name); ok {
			t.Fatalf("%q was taken for a second's count", name)
		}
	}
	if !store.IsLegacyRateWindowAttr("n29000000") || store.IsLegacyRateWindowAttr("s1") || store.IsLegacyRateWindowAttr("n") {
		t.Fatal("legacy per-minute attributes are not told apart")
	}
}

func TestKeyUsage(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	keyStore := keysdb.New(table.Client, table.Name)
	usage := pipelinedb.NewKeyUsage(table.Client, table.Name)
	now := time.Now()
	issued := keystest.MustIssue(t, keyStore, "acct_e", domain.ScopeKeysRead)
	plaintext, hash := issued.Plaintext, apikey.Hash(issued.Plaintext)

	t.Run("lastUsedAt is written at most once per interval", func(t *testing.T) {
		for i, at := range []time.Time{now, now.Add(10 * time.Second), now.Add(59 * time.Second)} {
			if err := usage.RecordUse(ctx, plaintext, at, time.Minute); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		got, _, _ := keyStore.ByHash(ctx, hash)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want the first use %v", got.LastUsedAt, now)
		}
		later := now.Add(61 * time.Second)
		if err := usage.RecordUse(ctx, plaintext, later, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, _, _ = keyStore.ByHash(ctx, hash)
		if !got.LastUsedAt.Equal(later.Truncate(time.Millisecond)) {
			t.Fatalf("lastUsedAt = %v, want %v after a minute", got.LastUsedAt, later)
		}
	})

	t.Run("a key that does not exist gets no item", func(t *testing.T) {
		unknown, _ := apikey.Generate()
		if err := usage.RecordUse(ctx, unknown, now, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, _, err := keyStore.ByHash(ctx, apikey.Hash(unknown)); err == nil {
			t.Fatal("recording the use of an unknown key created its item")
		}
	})
}
