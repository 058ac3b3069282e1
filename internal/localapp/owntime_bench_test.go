package localapp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

// dynamoTime is the time one request spent in DynamoDB calls, added up by
// the client's middleware from the request's context.
type dynamoTime struct{ nanos atomic.Int64 }

type dynamoTimeKey struct{}

// timeCalls is a DynamoDB client option: each call's whole time (its
// retries included) goes to the dynamoTime of the request it serves.
func timeCalls(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("TimeCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				if d, ok := ctx.Value(dynamoTimeKey{}).(*dynamoTime); ok {
					d.nanos.Add(int64(time.Since(start)))
				}
				return out, md, err
			}), middleware.Before)
	})
}

// ownTimes records, per request, the gateway's own time: the request's time
// in the local gateway (authorizer, limiter, proxy event, handler,
// envelope) less its time in DynamoDB calls.
type ownTimes struct {
	mu    sync.Mutex
	own   []time.Duration
	total []time.Duration
}

func (o *ownTimes) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &dynamoTime{}
		start := time.Now()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), dynamoTimeKey{}, d)))
		total := time.Since(start)
		o.mu.Lock()
		o.own = append(o.own, total-time.Duration(d.nanos.Load()))
		o.total = append(o.total, total)
		o.mu.Unlock()
	})
}

func (o *ownTimes) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.own, o.total = nil, nil
}

func percentile(v []time.Duration, p float64) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkGatewayOwnTime measures an authenticated GET /runs/{id} through
// the local gateway on dynalite at 1 and 8 concurrent clients, and reports
// the p50 and p99 of the gateway's own time per request (its time less its
// DynamoDB calls': 4 here, the authorizer's key read, the limiter's
// counter, the run and its steps) beside the whole request's. The figures
// and the command are in docs/performance.md (issue 17, goal 5):
//
//	go test -run '^$' -bench GatewayOwnTime -benchtime 2000x ./internal/localapp/
func BenchmarkGatewayOwnTime(b *testing.B) {
	// The garbage collector as the local gateway sets it (TuneGC).
	localapp.TuneGC()
	table := dynamotest.MustTable(b)
	client, err := store.NewClient(context.Background(), store.Config{Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: table.Name}, timeCalls)
	if err != nil {
		b.Fatal(err)
	}
	limits := ratelimit.DefaultConfig()
	limits.Limits[ratelimit.CategoryRead] = 1 << 40 // the benchmark is not about the limit
	app := lambdaapp.New(client, table.Name, limits, slog.New(slog.DiscardHandler))
	gateway, err := localapp.Gateway(app, localapp.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	times := &ownTimes{}
	server := httptest.NewServer(times.wrap(gateway))
	b.Cleanup(server.Close)

	key := keystest.MustIssue(b, keysdb.New(client, table.Name), "acct_owntime").Plaintext
	now := time.Now().UTC().Truncate(time.Millisecond)
	db := runsdb.New(client, table.Name)
	run := runs.Run{ID: ids.New(ids.PrefixRun, now), AccountID: "acct_owntime", WorkflowID: ids.New(ids.PrefixWorkflow, now), WorkflowVersion: 1,
		Status: runs.StatusQueued, Trigger: runs.TriggerManual, Input: []byte(`{"n":1}`), CreatedAt: now}
	if err := db.Create(context.Background(), run, runs.Reused{}); err != nil {
		b.Fatal(err)
	}
	url := server.URL + routes.BasePath + "/runs/" + run.ID
	get := func() error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("x-api-key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /runs/{id}: %d", res.StatusCode)
		}
		return nil
	}
	for range 50 { // warm: connections, the key's lastUsedAt, the limiter's item
		if err := get(); err != nil {
			b.Fatal(err)
		}
	}
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("c=%d", clients), func(b *testing.B) {
			times.reset()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			b.ResetTimer()
			for range clients {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := get(); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(percentile(times.own, 0.50)), "own-p50-ms")
			b.ReportMetric(ms(percentile(times.own, 0.99)), "own-p99-ms")
			b.ReportMetric(ms(percentile(times.total, 0.50)), "total-p50-ms")
			b.ReportMetric(ms(percentile(times.total, 0.99)), "total-p99-ms")
		})
	}
}
