package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Querier is the one call QueryNewestFirst makes; *dynamodb.Client is one.
// An interface so that the paging rule can be tested call by call.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// maxReadPerQuery bounds the Limit that QueryNewestFirst's doubling asks
// for; DynamoDB's 1 MB per call bounds the bytes anyway.
const maxReadPerQuery = 1000

// QueryNewestFirst reads one page of a listing: up to limit items of the
// Query in (its key condition, index, filter, projection and consistency
// already set; its Limit, ScanIndexForward and ExclusiveStartKey are this
// function's), newest first, starting after startKey (nil: from the
// newest). keep turns the raw items of each Query call into the items the
// page holds, in the same order, and may drop some (another account's,
// ones that fail a check the Query cannot make). idOf is the id the next
// page's cursor is made of (EncodeCursor), and the caller rebuilds its
// start key from that id.
//
// A page has a NextCursor only when an item beyond it was actually kept:
// the cursor never leads to an empty page. So it reads until it holds
// limit+1 kept items or the Query is exhausted, and the cursor is the id of
// the last item returned, not of the last item read: what was read past it
// is read again by the next page.
//
// Cost in DynamoDB calls: one Query (asking for limit+1 items) for a page
// whose items are all kept. More only when a call returns fewer than it
// was asked for without ending the Query: DynamoDB's 1 MB per call (each
// further call asks for what is still missing plus one), or a filter or
// keep that dropped items. After a call in which something was dropped,
// the next asks for twice as many as the last (at most maxReadPerQuery,
// never less than what is missing plus one): asking only for what is
// missing would read a sparse filter's last few matches one item per call,
// and passing over n dropped items takes about log2(n/limit) calls (then
// one per maxReadPerQuery items or 1 MB) instead of up to n. Each further
// call costs its own read capacity (a Query is billed for at least 4 KB);
// keep's own calls, if any, are made once per Query call. The loop stops
// with ctx's error once ctx is done.
func QueryNewestFirst[T any](ctx context.Context, db Querier, in *dynamodb.QueryInput, limit int, startKey map[string]types.AttributeValue,
	keep func(ctx context.Context, items []map[string]types.AttributeValue) ([]T, error), idOf func(T) string) (domain.Page[T], error) {
	if limit < 1 {
		return domain.Page[T]{}, fmt.Errorf("store: page limit %d, want at least 1", limit)
	}
	query := *in // the caller's input stays as it was given
	query.ScanIndexForward = aws.Bool(false)
	query.ExclusiveStartKey = startKey
	var items []T
	ask := limit + 1
	for {
		query.Limit = aws.Int32(int32(ask))
		out, err := db.Query(ctx, &query)
		if err != nil {
			return domain.Page[T]{}, err
		}
		kept, err := keep(ctx, out.Items)
		if err != nil {
			return domain.Page[T]{}, err
		}
		items = append(items, kept...)
		if len(items) > limit {
			return domain.Page[T]{Items: items[:limit], NextCursor: EncodeCursor(idOf(items[limit-1]))}, nil
		}
		if out.LastEvaluatedKey == nil {
			if items == nil {
				items = []T{}
			}
			return domain.Page[T]{Items: items}, nil
		}
		if err := ctx.Err(); err != nil {
			return domain.Page[T]{}, fmt.Errorf("listing stopped before its page was full: %w", err)
		}
		missing := limit + 1 - len(items)
		dropped := int(out.ScannedCount) > len(kept) || len(out.Items) > len(kept)
		if dropped {
			ask = max(missing, min(2*ask, maxReadPerQuery))
		} else {
			ask = missing
		}
		query.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
