package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/store"
)

// fakeIndex answers Query as DynamoDB does for a newest-first listing: it
// evaluates up to Limit items after ExclusiveStartKey (and at most perCall,
// standing for the 1 MB a call reads), returns those its filter keeps, and
// gives a LastEvaluatedKey whenever it stopped on that bound, even when
// nothing is left after it (DynamoDB cannot tell).
type fakeIndex struct {
	ids      []string        // newest first
	filtered map[string]bool // what the Query's filter drops
	perCall  int             // 0: no bound but Limit
	asked    []int32         // the Limit of each call
}

func (f *fakeIndex) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToBool(in.ScanIndexForward) || in.ScanIndexForward == nil {
		return nil, errors.New("fakeIndex: not asked newest first")
	}
	f.asked = append(f.asked, aws.ToInt32(in.Limit))
	from := 0
	if in.ExclusiveStartKey != nil {
		from = slices.Index(f.ids, in.ExclusiveStartKey["id"].(*types.AttributeValueMemberS).Value) + 1
	}
	bound := int(aws.ToInt32(in.Limit))
	if f.perCall > 0 {
		bound = min(bound, f.perCall)
	}
	to := min(from+bound, len(f.ids))
	out := &dynamodb.QueryOutput{ScannedCount: int32(to - from)}
	for _, id := range f.ids[from:to] {
		if !f.filtered[id] {
			out.Items = append(out.Items, keyOf(id))
		}
	}
	out.Count = int32(len(out.Items))
	if to-from == bound {
		out.LastEvaluatedKey = keyOf(f.ids[to-1])
	}
	return out, nil
}

func keyOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}
}

// keepAllBut is a keep that drops the ids in foreign, as keysdb drops
// another account's keys after its BatchGetItem.
func keepAllBut(foreign map[string]bool) func(context.Context, []map[string]types.AttributeValue) ([]string, error) {
	return func(_ context.Context, raw []map[string]types.AttributeValue) ([]string, error) {
		kept := []string{}
		for _, item := range raw {
			if id := item["id"].(*types.AttributeValueMemberS).Value; !foreign[id] {
				kept = append(kept, id)
			}
		}
		return kept, nil
	}
}

func idOf(id string) string { return id }

// walk pages through f with limit and returns each page. It fails the test
// on a page that breaks the rule: every page but the last holds exactly
// limit items, and no cursor leads to an empty page.
func walk(t *testing.T, f *fakeIndex, foreign map[string]bool, limit int) [][]string {
	t.Helper()
	var pages [][]string
	var start map[string]types.AttributeValue
	for range len(f.ids) + 2 {
		page, err := store.QueryNewestFirst(context.Background(), f, &dynamodb.QueryInput{}, limit, start, keepAllBut(foreign), idOf)
		if err != nil {
			t.Fatal(err)
		}
		if page.Items == nil {
			t.Fatal("a page's items are nil, which JSON shows as null")
		}
		if len(pages) > 0 && len(page.Items) == 0 {
			t.Fatalf("after pages %v, a cursor led to an empty page", pages)
		}
		pages = append(pages, page.Items)
		if page.NextCursor == "" {
			return pages
		}
		if len(page.Items) != limit {
			t.Fatalf("page %v has a cursor and %d items, want %d", page.Items, len(page.Items), limit)
		}
		if page.NextCursor != store.EncodeCursor(page.Items[len(page.Items)-1]) {
			t.Fatalf("page %v: cursor %q is not of its last item", page.Items, page.NextCursor)
		}
		start = keyOf(page.Items[len(page.Items)-1])
	}
	t.Fatalf("no end of pages: %v", pages)
	return nil
}

func idsOf(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("id%02d", n-i) // newest first
	}
	return ids
}

func TestQueryNewestFirstReadsOneQueryOfLimitPlusOneWhenNothingIsDropped(t *testing.T) {
	for _, tt := range []struct {
		name        string
		items       int
		wantPages   []int
		wantQueries int
	}{
		{"no items", 0, []int{0}, 1},
		{"exactly limit", 3, []int{3}, 1},
		{"limit+1: the cursor's page holds the one item left", 4, []int{3, 1}, 2},
		{"7 by 3", 7, []int{3, 3, 1}, 3},
		{"a multiple of limit ends without an empty page", 6, []int{3, 3}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIndex{ids: idsOf(tt.items)}
			pages := walk(t, f, nil, 3)
			var sizes []int
			var seen []string
			for _, p := range pages {
				sizes = append(sizes, len(p))
				seen = append(seen, p...)
			}
			if !slices.Equal(sizes, tt.wantPages) || !slices.Equal(seen, f.ids) {
				t.Errorf("pages %v, want sizes %v holding %v in order", pages, tt.wantPages, f.ids)
			}
			if len(f.asked) != tt.wantQueries || f.asked[0] != 4 {
				t.Errorf("Query Limits %v, want %d Queries of 4", f.asked, tt.wantQueries)
			}
		})
	}
}

// Every way items may be dropped or a call cut short, walked at every
// limit: the pages hold exactly what was kept, in order, and no cursor
// leads to an empty page (walk checks that).
func TestQueryNewestFirstNeverLeadsToAnEmptyPage(t *testing.T) {
	for n := 0; n <= 12; n++ {
		for limit := 1; limit <= 5; limit++ {
			for _, perCall := range []int{0, 1, 2} {
				for pattern := range 4 {
					f := &fakeIndex{ids: idsOf(n), filtered: map[string]bool{}, perCall: perCall}
					foreign := map[string]bool{}
					var want []string
					for i, id := range f.ids {
						switch {
						case pattern == 1 && i%2 == 1, pattern == 3 && i >= n/2:
							f.filtered[id] = true // a filter dropping every other item, or the older half
						case pattern == 2 && i%3 == 0:
							foreign[id] = true // keep dropping some
						default:
							want = append(want, id)
						}
					}
					var seen []string
					for _, p := range walk(t, f, foreign, limit) {
						seen = append(seen, p...)
					}
					if !slices.Equal(seen, want) {
						t.Errorf("%d items, limit %d, %d a call, pattern %d: listed %v, want %v", n, limit, perCall, pattern, seen, want)
					}
					for _, asked := range f.asked {
						if asked < 1 {
							t.Errorf("a Query asked for %d items", asked)
						}
					}
				}
			}
		}
	}
}

// A filter whose matches are all at the top of a long listing: after it
// dropped items the reads grow, so the page ends in a few calls, not one
// call per item passed over.
func TestQueryNewestFirstPassesOverASparseFilterInFewCalls(t *testing.T) {
	f := &fakeIndex{ids: idsOf(1000), filtered: map[string]bool{}}
	for _, id := range f.ids[3:] {
		f.filtered[id] = true
	}
	pages := walk(t, f, nil, 3)
	if len(pages) != 1 || !slices.Equal(pages[0], f.ids[:3]) {
		t.Fatalf("pages %v, want the 3 matches and no cursor", pages)
	}
	if len(f.asked) > 10 || f.asked[0] != 4 {
		t.Errorf("Query Limits %v: want 4 first, then growing, about log2(1000/3) calls", f.asked)
	}
}

func TestQueryNewestFirstStopsWhenItsContextIsDone(t *testing.T) {
	f := &fakeIndex{ids: idsOf(10), filtered: map[string]bool{}}
	for _, id := range f.ids {
		f.filtered[id] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	keep := func(ctx context.Context, raw []map[string]types.AttributeValue) ([]string, error) {
		cancel() // as a request's deadline passing during the first call
		return keepAllBut(nil)(ctx, raw)
	}
	_, err := store.QueryNewestFirst(ctx, f, &dynamodb.QueryInput{}, 3, nil, keep, idOf)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(f.asked) != 1 {
		t.Errorf("%d Queries after the context was done, want none after the first", len(f.asked)-1)
	}
}

func TestQueryNewestFirstLeavesItsInputAndReportsKeepsErrors(t *testing.T) {
	f := &fakeIndex{ids: idsOf(5)}
	in := &dynamodb.QueryInput{TableName: aws.String("t")}
	if _, err := store.QueryNewestFirst(context.Background(), f, in, 2, keyOf(f.ids[0]), keepAllBut(nil), idOf); err != nil {
		t.Fatal(err)
	}
	if in.Limit != nil || in.ExclusiveStartKey != nil || in.ScanIndexForward != nil {
		t.Errorf("the caller's input was changed: %+v", in)
	}
	refused := errors.New("refused")
	keep := func(context.Context, []map[string]types.AttributeValue) ([]string, error) { return nil, refused }
	if _, err := store.QueryNewestFirst(context.Background(), f, in, 2, nil, keep, idOf); !errors.Is(err, refused) {
		t.Errorf("err = %v, want keep's", err)
	}
	if _, err := store.QueryNewestFirst(context.Background(), f, in, 0, nil, keepAllBut(nil), idOf); err == nil {
		t.Error("a limit of 0 was accepted")
	}
}
