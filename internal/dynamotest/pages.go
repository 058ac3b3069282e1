package dynamotest

import (
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Pages follows a listing page by page from the first, with list asked
// for each cursor, and returns the ids of each page's items. It fails the
// test on a cursor that leads to an empty page (a listing never hands one
// out) and after 20 pages.
func Pages[T any](tb testing.TB, list func(cursor string) (domain.Page[T], error), idOf func(T) string) [][]string {
	tb.Helper()
	var pages [][]string
	cursor := ""
	for range 20 {
		page, err := list(cursor)
		if err != nil {
			tb.Fatal(err)
		}
		if cursor != "" && len(page.Items) == 0 {
			tb.Fatalf("after pages %v, a cursor led to an empty page", pages)
		}
		var ids []string
		for _, item := range page.Items {
			ids = append(ids, idOf(item))
		}
		pages = append(pages, ids)
		if cursor = page.NextCursor; cursor == "" {
			return pages
		}
	}
	tb.Fatalf("no end of pages: %v", pages)
	return nil
}

// PageSizes is how many items each page holds.
func PageSizes(pages [][]string) []int {
	sizes := make([]int, len(pages))
	for i, p := range pages {
		sizes[i] = len(p)
	}
	return sizes
}
