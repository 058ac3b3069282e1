package pipelinedb_test

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

// BenchmarkDynaliteCallCosts: how many calls a second dynalite answers
// for each kind of call the API makes, 32 clients at once, beside the
// throughput benchmark's ceiling (a PutItem or GetItem of a 300-byte item),
// so that docs/performance.md can say which calls cost dynalite more than
// the ceiling's (issue 17, goal 4). cost is the ceiling's calls/s divided
// by the kind's: 2 means one such call takes dynalite as long as two of the
// ceiling's.
//
//	go test -run '^$' -bench DynaliteCallCosts -benchtime 4000x ./internal/store/pipelinedb/
func BenchmarkDynaliteCallCosts(b *testing.B) {
	table := dynamotest.MustTable(b)
	ctx := context.Background()
	// A run's or a step's record, roughly: 20 attributes of 80 bytes.
	record := map[string]types.AttributeValue{}
	for i := range 20 {
		record["attr"+strconv.Itoa(i)] = &types.AttributeValueMemberS{Value: strings.Repeat("y", 80)}
	}
	key := func(prefix string, c int, i int64) map[string]types.AttributeValue {
		return store.ItemKey(prefix+strconv.Itoa(c), "I#"+strconv.FormatInt(i%50, 10))
	}
	put := func(item map[string]types.AttributeValue, condition string) error {
		in := &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item}
		if condition != "" {
			in.ConditionExpression = aws.String(condition)
		}
		_, err := table.Client.PutItem(ctx, in)
		return err
	}
	get := func(k map[string]types.AttributeValue) error {
		_, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table.Name), Key: k, ConsistentRead: aws.Bool(true)})
		return err
	}
	counter := pipelinedb.NewRateCounter(table.Client, table.Name)
	var fresh atomic.Int64
	kinds := []struct {
		name string
		call func(c int, i int64) error
	}{
		{"ceiling", func(c int, i int64) error {
			if i%2 == 1 {
				item := key("P#", c, i)
				item["payload"] = &types.AttributeValueMemberS{Value: strings.Repeat("x", 300)}
				return put(item, "")
			}
			return get(key("P#", c, i))
		}},
		{"record-put", func(c int, i int64) error {
			item := maps.Clone(record)
			maps.Copy(item, key("R#", c, i))
			return put(item, "")
		}},
		{"record-put-if-absent", func(c int, _ int64) error {
			item := maps.Clone(record)
			// A key never written before, across the benchmark's runs.
			maps.Copy(item, store.ItemKey("N#"+strconv.Itoa(c), "I#"+strconv.FormatInt(fresh.Add(1), 10)))
			return put(item, "attribute_not_exists("+store.AttrPK+")")
		}},
		{"record-get", func(c int, i int64) error { return get(key("R#", c, i)) }},
		{"limiter-add", func(c int, _ int64) error {
			now := time.Now().Unix()
			_, err := counter.Add(ctx, "bench-"+strconv.Itoa(c), now, now-59, time.Now().Add(2*time.Minute))
			return err
		}},
		{"query-5-records", func(c int, _ int64) error {
			_, err := table.Client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table.Name),
				KeyConditionExpression: aws.String(store.AttrPK + " = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk": &types.AttributeValueMemberS{Value: "R#" + strconv.Itoa(c)}},
				Limit: aws.Int32(5)})
			return err
		}},
	}
	// dynalite (Node) is slow until its JIT has seen the calls: the first
	// few thousand, whichever kind came first, would look dearer.
	warmUp := kinds[0].call
	for i := range int64(3000) {
		if err := warmUp(int(i%32), i); err != nil {
			b.Fatal(err)
		}
	}
	var ceiling float64
	for _, kind := range kinds {
		b.Run(kind.name, func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			began := time.Now()
			for c := range 32 {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := kind.call(c, i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			perSecond := float64(b.N) / time.Since(began).Seconds()
			if kind.name == "ceiling" {
				ceiling = perSecond
			}
			b.ReportMetric(perSecond, "calls/s")
			b.ReportMetric(ceiling/perSecond, "cost")
		})
	}
}
