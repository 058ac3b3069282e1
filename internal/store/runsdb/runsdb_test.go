package runsdb_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/idempotency"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

const account = "acct_runsdb"

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// storeOn is the store on table with its clock a day after base, so that
// the runs made here (at base, kept runs.DefaultRetention) are within
// their retention whatever today's date is.
func storeOn(table dynamotest.Table) *runsdb.Store {
	return runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return base.Add(24 * time.Hour) })
}

func newRun(i int, workflowID string, status runs.Status) runs.Run {
	created := base.Add(time.Duration(i) * time.Second)
	return runs.Run{
		ID: ids.New(ids.PrefixRun, created), AccountID: account, WorkflowID: workflowID, WorkflowVersion: 2,
		Status: status, Trigger: runs.TriggerManual, Input: jsontext.Value(`{"n":1}`), CreatedAt: created,
		Deadline: created.Add(time.Hour), ExpiresAt: created.Add(runs.DefaultRetention),
	}
}

func mustCreate(t *testing.T, db *runsdb.Store, run runs.Run) runs.Run {
	t.Helper()
	if err := db.Create(context.Background(), run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	run.Revision = 1
	return run
}

func unfinishedIDs(t *testing.T, db *runsdb.Store) []string {
	t.Helper()
	refs, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range refs {
		out = append(out, r.RunID)
	}
	return out
}

func TestCreateGetAndTheMarkerUntilTheRunEnds(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	wf := ids.New(ids.PrefixWorkflow, base)
	run := newRun(0, wf, runs.StatusQueued)
	run.RetryOf = ids.New(ids.PrefixRun, base.Add(-time.Hour))
	reused := runs.Reused{
		Steps: []runs.Step{{StepID: "a", Index: 0, Status: runs.StepSucceeded, Attempts: 1, Output: jsontext.Value(`{"x":1}`), Reused: true, StartedAt: base, FinishedAt: base}},
		Items: []runs.Item{{StepID: "b", Index: 3, Status: runs.StepSucceeded, Attempts: 2, Output: jsontext.Value(`"item 3"`), Reused: true}},
	}

	table.Calls.Reset()
	if err := db.Create(ctx, run, reused); err != nil {
		t.Fatal(err)
	}
	if got := table.Calls.Snapshot()["PutItem"]; got != 4 {
		t.Errorf("Create with one reused step and item: %d PutItems, want 4 (marker, run, step, item)", got)
	}
	if err := db.Create(ctx, run, runs.Reused{}); !errors.Is(err, runs.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	got, err := db.Get(ctx, account, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 1 || got.Status != runs.StatusQueued || string(got.Input) != `{"n":1}` || got.RetryOf != run.RetryOf ||
		!got.CreatedAt.Equal(run.CreatedAt) || !got.Deadline.Equal(run.Deadline) || got.ExpiresAt.Unix() != run.ExpiresAt.Unix() {
		t.Errorf("Get = %+v, want the run as created with revision 1", got)
	}
	if _, err := db.Get(ctx, "acct_other", run.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another account's Get: %v, want NOT_FOUND", err)
	}
	steps, err := db.Steps(ctx, run.ID)
	if err != nil || len(steps) != 1 || !steps[0].Reused || string(steps[0].Output) != `{"x":1}` || steps[0].Revision != 1 {
		t.Fatalf("Steps = %+v, %v; want the reused step at revision 1 (and no item among them)", steps, err)
	}
	items, err := db.Items(ctx, run.ID, "b")
	if err != nil || len(items) != 1 || items[0].Index != 3 || !items[0].Reused || string(items[0].Output) != `"item 3"` || items[0].Revision != 1 || items[0].Attempts != 2 {
		t.Fatalf("Items = %+v, %v; want the reused item at revision 1", items, err)
	}
	if ids := unfinishedIDs(t, db); !slices.Equal(ids, []string{run.ID}) {
		t.Fatalf("Unfinished = %v, want the queued run", ids)
	}

	running := got
	running.Status, running.StartedAt = runs.StatusRunning, base.Add(time.Second)
	running, err = db.Update(ctx, running)
	if err != nil || running.Revision != 2 {
		t.Fatalf("Update to running: %+v, %v", running, err)
	}
	if ids := unfinishedIDs(t, db); len(ids) != 1 {
		t.Errorf("a running run lost its marker: %v", ids)
	}
	done := running
	done.Status, done.FinishedAt, done.Output = runs.StatusSucceeded, base.Add(2*time.Second), jsontext.Value(`{"ok":true}`)
	if _, err := db.Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	if ids := unfinishedIDs(t, db); len(ids) != 0 {
		t.Errorf("a finished run kept its marker: %v", ids)
	}
	final, err := db.Get(ctx, account, run.ID)
	if err != nil || final.Status != runs.StatusSucceeded || string(final.Output) != `{"ok":true}` || final.Revision != 3 || !final.FinishedAt.Equal(done.FinishedAt) {
		t.Errorf("after finishing: %+v, %v", final, err)
	}
}

func TestUpdateIsConditionalOnTheRevision(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	run := mustCreate(t, db, newRun(0, ids.New(ids.PrefixWorkflow, base), runs.StatusQueued))

	// Eight writers read revision 1 and race: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, lost := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run
			r.Status, r.NextStep = runs.StatusRunning, i+1
			_, err := db.Update(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, runs.ErrRevision):
				lost++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || lost != 7 {
		t.Fatalf("%d wins, %d ErrRevision; want 1 and 7", wins, lost)
	}
	got, _ := db.Get(ctx, account, run.ID)
	if got.Revision != 2 {
		t.Errorf("revision %d after one write, want 2", got.Revision)
	}
	// A stale revision is refused, and so is an update of a run that is
	// not there: UpdateItem makes no run.
	if _, err := db.Update(ctx, run); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("stale Update: %v, want ErrRevision", err)
	}
	ghost := newRun(9, run.WorkflowID, runs.StatusRunning)
	ghost.Revision = 1
	if _, err := db.Update(ctx, ghost); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("Update of an absent run: %v, want ErrRevision", err)
	}
	if _, err := db.Get(ctx, account, ghost.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Update made a run: %v", err)
	}
}

func TestPutStepIsConditionalAndBigOutputsAreWhole(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	run := mustCreate(t, db, newRun(0, ids.New(ids.PrefixWorkflow, base), runs.StatusRunning))

	st := runs.Step{RunID: run.ID, StepID: "fetch", Index: 1, Status: runs.StepRunning, Attempts: 1, StartedAt: base}
	first, err := db.PutStep(ctx, st)
	if err != nil || first.Revision != 1 {
		t.Fatalf("first PutStep: %+v, %v", first, err)
	}
	if _, err := db.PutStep(ctx, st); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("PutStep of a new step that exists: %v, want ErrRevision", err)
	}
	big := `{"body":"` + strings.Repeat("é", (runs.MaxStepOutputBytes-20)/2) + `"}`
	done := first
	done.Status, done.Output, done.FinishedAt = runs.StepSucceeded, jsontext.Value(big), base.Add(time.Second)
	// A whole history beside the biggest output still fits one item.
	for n := 1; n <= runs.MaxAttemptHistory; n++ {
		at := runs.Attempt{Number: n, Status: runs.StepFailed, StartedAt: base.Add(time.Duration(n) * time.Millisecond),
			FinishedAt: base.Add(time.Duration(n)*time.Millisecond + 500*time.Millisecond),
			Error:      &runs.Error{Code: "HTTP_STATUS", Message: strings.Repeat("m", 300)}}
		if n == runs.MaxAttemptHistory {
			at.Status, at.Error = runs.StepSucceeded, nil
		}
		done.History = append(done.History, at)
	}
	if _, err := db.PutStep(ctx, done); err != nil {
		t.Fatalf("PutStep of a %d-byte output: %v", len(big), err)
	}
	if _, err := db.PutStep(ctx, done); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("PutStep on a stale revision: %v, want ErrRevision", err)
	}
	got, err := db.Step(ctx, run.ID, "fetch")
	if err != nil || string(got.Output) != big || got.Revision != 2 || got.Status != runs.StepSucceeded {
		t.Errorf("Step: revision %d status %s %d bytes, %v", got.Revision, got.Status, len(got.Output), err)
	}
	if !reflect.DeepEqual(got.History, done.History) {
		t.Errorf("history read back:\n%+v\nwritten:\n%+v", got.History, done.History)
	}
	if _, err := db.Step(ctx, run.ID, "never"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Step that never began: %v, want NOT_FOUND", err)
	}
	// A run output too big to sit beside a 256 KiB input goes to an item of
	// its own and reads back whole; Steps does not mistake it for a step.
	run.Input = jsontext.Value(`"` + strings.Repeat("i", 250<<10) + `"`)
	run2 := newRun(1, run.WorkflowID, runs.StatusQueued)
	run2.Input = run.Input
	run2 = mustCreate(t, db, run2)
	run2.Status, run2.Output = runs.StatusSucceeded, jsontext.Value(big)
	if _, err := db.Update(ctx, run2); err != nil {
		t.Fatalf("Update with a 256 KiB output beside a 250 KiB input: %v", err)
	}
	read, err := db.Get(ctx, account, run2.ID)
	if err != nil || string(read.Output) != big || string(read.Input) != string(run.Input) {
		t.Errorf("Get: output %d bytes, input %d bytes, %v", len(read.Output), len(read.Input), err)
	}
	if steps, err := db.Steps(ctx, run2.ID); err != nil || len(steps) != 0 {
		t.Errorf("Steps of a run with an output item: %+v, %v", steps, err)
	}
}

func TestListByAccountWorkflowAndStatus(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	wfA, wfB := ids.New(ids.PrefixWorkflow, base), ids.New(ids.PrefixWorkflow, base.Add(time.Millisecond))
	var all []runs.Run
	for i := range 9 {
		wf, status := wfA, runs.StatusQueued
		if i%3 == 0 {
			wf = wfB
		}
		if i%2 == 0 {
			status = runs.StatusFailed
		}
		run := mustCreate(t, db, newRun(i, wf, runs.StatusQueued))
		if status != runs.StatusQueued {
			run.Status = status
			var err error
			if run, err = db.Update(ctx, run); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, run)
	}
	other := newRun(20, wfA, runs.StatusQueued)
	other.AccountID = "acct_other"
	if err := db.Create(ctx, other, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	want := func(keep func(runs.Run) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	pages := func(filter runs.Filter, limit int) []string {
		var out []string
		cursor := ""
		for range 20 {
			page, err := db.List(ctx, account, filter, limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				out = append(out, r.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				return out
			}
		}
		t.Fatal("no end of pages")
		return nil
	}
	cases := []struct {
		name   string
		filter runs.Filter
		keep   func(runs.Run) bool
	}{
		{"account", runs.Filter{}, func(runs.Run) bool { return true }},
		{"workflow (GSI1)", runs.Filter{WorkflowID: wfA}, func(r runs.Run) bool { return r.WorkflowID == wfA }},
		{"status (GSI2)", runs.Filter{Status: runs.StatusFailed}, func(r runs.Run) bool { return r.Status == runs.StatusFailed }},
		{"workflow and status (GSI1, filtered)", runs.Filter{WorkflowID: wfA, Status: runs.StatusQueued}, func(r runs.Run) bool {
			return r.WorkflowID == wfA && r.Status == runs.StatusQueued
		}},
	}
	for _, c := range cases {
		for _, limit := range []int{2, 100} {
			if got, w := pages(c.filter, limit), want(c.keep); !slices.Equal(got, w) {
				t.Errorf("%s, limit %d: %v, want %v (newest first)", c.name, limit, got, w)
			}
		}
	}
	if _, err := db.List(ctx, account, runs.Filter{}, 10, "garbage"); !errors.Is(err, domain.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	// Markers: the five failed runs lost theirs, the rest (and the other
	// account's) are unfinished.
	if n := len(unfinishedIDs(t, db)); n != 4+1 {
		t.Errorf("%d unfinished, want 5", n)
	}
}

// TestListPagesAreFullAndNeverLeadToAnEmptyPage: every page but the last
// holds limit runs and the last has no cursor, however the filters (a
// status on GSI1, the retention on every index) drop runs between and
// after the ones listed.
func TestListPagesAreFullAndNeverLeadToAnEmptyPage(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	now := base.Add(24 * time.Hour) // storeOn's clock
	in := func(acct string, run runs.Run) runs.Run {
		run.AccountID = acct
		return run
	}
	listed := func(t *testing.T, acct string, filter runs.Filter, limit int) [][]string {
		t.Helper()
		var pages [][]string
		cursor := ""
		for range 20 {
			page, err := db.List(context.Background(), acct, filter, limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if cursor != "" && len(page.Items) == 0 {
				t.Fatalf("%+v by %d: after pages %v, a cursor led to an empty page", filter, limit, pages)
			}
			var got []string
			for _, r := range page.Items {
				got = append(got, r.ID)
			}
			pages = append(pages, got)
			if cursor = page.NextCursor; cursor == "" {
				return pages
			}
		}
		t.Fatalf("%+v by %d: no end of pages: %v", filter, limit, pages)
		return nil
	}
	sizes := func(pages [][]string) []int {
		out := make([]int, len(pages))
		for i, p := range pages {
			out[i] = len(p)
		}
		return out
	}

	t.Run("an account's runs: exactly limit, limit+1, 7 by 3", func(t *testing.T) {
		wf := ids.New(ids.PrefixWorkflow, base)
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
			for i := range tt.made {
				made = append([]string{mustCreate(t, db, in(tt.account, newRun(i, wf, runs.StatusQueued))).ID}, made...)
			}
			table.Calls.Reset()
			pages := listed(t, tt.account, runs.Filter{}, 3)
			if !slices.Equal(sizes(pages), tt.wantPages) || !slices.Equal(slices.Concat(pages...), made) {
				t.Errorf("%d runs by 3: pages %v, want sizes %v of %v", tt.made, pages, tt.wantPages, made)
			}
			if calls := table.Calls.Snapshot(); calls["Query"] != len(tt.wantPages) || table.Calls.Total() != len(tt.wantPages) {
				t.Errorf("%d runs by 3: calls %v, want one Query per page (nothing is filtered out)", tt.made, calls)
			}
		}
	})

	// One workflow's runs, oldest first: s a succeeded run, f a failed one,
	// x a succeeded one past its retention. The matches of every filter are
	// spread between runs it drops, and the oldest run (the end of every
	// listing) and the newest are dropped by all of them.
	const mixed = "acct_mixed"
	wf := ids.New(ids.PrefixWorkflow, base)
	var all []runs.Run
	for i, kind := range "xfsxfsxxssfxsssfx" {
		status := runs.StatusSucceeded
		if kind == 'f' {
			status = runs.StatusFailed
		}
		run := in(mixed, newRun(i, wf, status))
		run.FinishedAt = run.CreatedAt.Add(time.Minute)
		if kind == 'x' {
			run.ExpiresAt = now.Add(-time.Second)
		}
		all = append(all, mustCreate(t, db, run))
	}
	want := func(keep func(runs.Run) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if !all[i].ExpiresAt.Before(now) && keep(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	succeeded := func(r runs.Run) bool { return r.Status == runs.StatusSucceeded }
	failed := func(r runs.Run) bool { return r.Status == runs.StatusFailed }
	anyRun := func(runs.Run) bool { return true }
	for _, tt := range []struct {
		name      string
		filter    runs.Filter
		keep      func(runs.Run) bool
		limit     int
		wantPages []int
	}{
		{"status (GSI2; expired runs between and after)", runs.Filter{Status: runs.StatusSucceeded}, succeeded, 3, []int{3, 3, 1}},
		{"status, exactly limit", runs.Filter{Status: runs.StatusSucceeded}, succeeded, 7, []int{7}},
		{"status, limit+1", runs.Filter{Status: runs.StatusSucceeded}, succeeded, 6, []int{6, 1}},
		{"workflow and status (GSI1, filtered; failed and expired runs between and after)", runs.Filter{WorkflowID: wf, Status: runs.StatusSucceeded}, succeeded, 3, []int{3, 3, 1}},
		{"workflow and status, exactly limit", runs.Filter{WorkflowID: wf, Status: runs.StatusSucceeded}, succeeded, 7, []int{7}},
		{"workflow and a rarer status", runs.Filter{WorkflowID: wf, Status: runs.StatusFailed}, failed, 2, []int{2, 2}},
		{"workflow and a rarer status, by 1", runs.Filter{WorkflowID: wf, Status: runs.StatusFailed}, failed, 1, []int{1, 1, 1, 1}},
		{"account (an expired run last)", runs.Filter{}, anyRun, 3, []int{3, 3, 3, 2}},
		{"account, exactly limit", runs.Filter{}, anyRun, 11, []int{11}},
		{"workflow (GSI1; an expired run last), exactly limit", runs.Filter{WorkflowID: wf}, anyRun, 11, []int{11}},
		{"workflow, limit+1", runs.Filter{WorkflowID: wf}, anyRun, 10, []int{10, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			table.Calls.Reset()
			pages := listed(t, mixed, tt.filter, tt.limit)
			if w := want(tt.keep); !slices.Equal(sizes(pages), tt.wantPages) || !slices.Equal(slices.Concat(pages...), w) {
				t.Errorf("pages %v, want sizes %v of %v (newest first)", pages, tt.wantPages, w)
			}
			t.Logf("%d pages in %d calls %v", len(pages), table.Calls.Total(), table.Calls.Snapshot())
		})
	}
}

func TestIdempotencyRecordsExpire(t *testing.T) {
	table := dynamotest.MustTable(t)
	now := base
	db := runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return now })
	ctx := context.Background()
	rec := idempotency.Record{AccountID: account, KeyHash: "abc", RequestHash: "r1", ResultID: ids.New(ids.PrefixRun, base), ExpiresAt: base.Add(idempotency.Window)}
	if err := db.PutIdempotency(ctx, rec); err != nil {
		t.Fatal(err)
	}
	second := rec
	second.RequestHash = "r2"
	if err := db.PutIdempotency(ctx, second); !errors.Is(err, idempotency.ErrTaken) {
		t.Fatalf("second record for a live key: %v, want ErrTaken", err)
	}
	got, err := db.Idempotency(ctx, account, "abc")
	if err != nil || got.RequestHash != "r1" || got.ResultID != rec.ResultID {
		t.Fatalf("Idempotency = %+v, %v", got, err)
	}
	if _, err := db.Idempotency(ctx, "acct_other", "abc"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another account's key: %v", err)
	}
	now = base.Add(idempotency.Window + time.Second)
	if _, err := db.Idempotency(ctx, account, "abc"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("expired record read as live: %v", err)
	}
	second.ExpiresAt = now.Add(idempotency.Window)
	if err := db.PutIdempotency(ctx, second); err != nil {
		t.Errorf("an expired record is not taken over: %v", err)
	}
}

// A big output lives in its own item, written when it changes: an Update of
// a run read back with it (the start check dropping a marker, a cancel)
// writes the run item only, so it needs no PutItem and costs no 256 write
// units.
func TestABigOutputIsWrittenOnlyWhenItChanges(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	run := mustCreate(t, db, newRun(1, "wf_big", runs.StatusRunning))
	run.Status, run.Output, run.FinishedAt = runs.StatusSucceeded, jsontext.Value(`"`+strings.Repeat("x", runsdb.MaxInlineOutputBytes+10)+`"`), base.Add(time.Minute)
	table.Calls.Reset()
	written, err := db.Update(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if n := table.Calls.Snapshot()["PutItem"]; n != 1 {
		t.Fatalf("finishing with a big output: %d PutItem, want 1 (the output item)", n)
	}
	table.Calls.Reset()
	if _, err := db.Update(ctx, written); err != nil {
		t.Fatal(err)
	}
	if n := table.Calls.Snapshot()["PutItem"]; n != 0 {
		t.Errorf("an Update of the run as written, output unchanged: %d PutItem", n)
	}
	read, err := db.Get(ctx, account, run.ID)
	if err != nil || string(read.Output) != string(run.Output) {
		t.Fatalf("read back %d bytes, %v", len(read.Output), err)
	}
	table.Calls.Reset()
	if _, err := db.Update(ctx, read); err != nil {
		t.Fatal(err)
	}
	if n := table.Calls.Snapshot()["PutItem"]; n != 0 {
		t.Errorf("an Update of the run as read, output unchanged: %d PutItem", n)
	}
	read.Output = jsontext.Value(`"` + strings.Repeat("y", runsdb.MaxInlineOutputBytes+10) + `"`)
	read.Revision++
	table.Calls.Reset()
	if _, err := db.Update(ctx, read); err != nil {
		t.Fatal(err)
	}
	if n := table.Calls.Snapshot()["PutItem"]; n != 1 {
		t.Errorf("an Update with a new output: %d PutItem, want 1", n)
	}
}

// TestAFinishedRunPastItsRetentionIsGoneForReaders: DynamoDB's TTL deletes
// up to about 48 hours late, so a finished run past its retention is
// already not found by Get and left out of every list; an unfinished run
// is never hidden, whatever its ttl says, so no writer loses a run it is
// still advancing.
func TestAFinishedRunPastItsRetentionIsGoneForReaders(t *testing.T) {
	table := dynamotest.MustTable(t)
	now := base.Add(24 * time.Hour)
	db := runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return now })
	ctx := context.Background()
	wf := ids.New(ids.PrefixWorkflow, base)
	expired := newRun(1, wf, runs.StatusQueued)
	expired.ExpiresAt = now.Add(-time.Second)
	expired = mustCreate(t, db, expired)
	expired.Status, expired.FinishedAt = runs.StatusSucceeded, now.Add(-time.Hour)
	if _, err := db.Update(ctx, expired); err != nil {
		t.Fatal(err)
	}
	running := newRun(2, wf, runs.StatusQueued)
	running.ExpiresAt = now.Add(-time.Second)
	running = mustCreate(t, db, running)
	kept := mustCreate(t, db, newRun(3, wf, runs.StatusQueued))

	if _, err := db.Get(ctx, account, expired.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get of a finished run past its retention: %v, want not found", err)
	}
	for _, id := range []string{running.ID, kept.ID} {
		if _, err := db.Get(ctx, account, id); err != nil {
			t.Errorf("Get %s: %v", id, err)
		}
	}
	for _, filter := range []runs.Filter{{}, {WorkflowID: wf}, {Status: runs.StatusSucceeded}, {WorkflowID: wf, Status: runs.StatusSucceeded}, {Status: runs.StatusQueued}} {
		page, err := db.List(ctx, account, filter, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, run := range page.Items {
			if run.ID == expired.ID {
				t.Errorf("List %+v shows the expired run", filter)
			}
		}
		if filter.Status != runs.StatusSucceeded && len(page.Items) != 2 {
			t.Errorf("List %+v: %d runs, want the 2 not expired", filter, len(page.Items))
		}
	}
	// Without the filter the expired run would be listed: it is still stored.
	if _, err := runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return base }).Get(ctx, account, expired.ID); err != nil {
		t.Errorf("the run should still be stored: %v", err)
	}
}

// rawTTLs reads the ttl and hideAt the store wrote on an item.
func rawTTLs(t *testing.T, table dynamotest.Table, pk, sk string) (ttl, hideAt int64) {
	t.Helper()
	out, err := table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table.Name), Key: store.ItemKey(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("read %s %s: %v (found %v)", pk, sk, err, out != nil && out.Item != nil)
	}
	var it struct {
		TTL    int64 `dynamodbav:"ttl"`
		HideAt int64 `dynamodbav:"hideAt"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		t.Fatal(err)
	}
	return it.TTL, it.HideAt
}

// TestARunsItemsOutliveItsDeadline: retention counts from a run's start, but
// a run may stay open until its deadline (a week's delay with a day's
// retention, say). DynamoDB's TTL must never delete an open run or its
// steps, so the items' ttl is past the deadline, while readers still lose
// a finished run at its retention (hideAt).
func TestARunsItemsOutliveItsDeadline(t *testing.T) {
	table := dynamotest.MustTable(t)
	ctx := context.Background()
	db := runsdb.New(table.Client, table.Name).WithRetention(24 * time.Hour).WithClock(func() time.Time { return base })
	run := newRun(1, ids.New(ids.PrefixWorkflow, base), runs.StatusQueued)
	run.ExpiresAt, run.Deadline = run.CreatedAt.Add(24*time.Hour), run.CreatedAt.Add(7*24*time.Hour)
	run = mustCreate(t, db, run)
	run.Status, run.StartedAt = runs.StatusRunning, run.CreatedAt
	run, err := db.Update(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	step := runs.Step{RunID: run.ID, StepID: "wait", Index: 0, Status: runs.StepWaiting, Attempts: 1, StartedAt: run.CreatedAt}
	if _, err := db.PutStep(ctx, step); err != nil {
		t.Fatal(err)
	}

	ttl, hideAt := rawTTLs(t, table, store.AccountPK(account), store.RunSK(run.ID))
	if want := run.Deadline.Add(runs.StoreGrace).Unix(); ttl < want {
		t.Errorf("run ttl %d is before its deadline and the grace (%d): DynamoDB could delete it while it waits", ttl, want)
	}
	if hideAt != run.ExpiresAt.Unix() {
		t.Errorf("hideAt = %d, want the run's ExpiresAt %d", hideAt, run.ExpiresAt.Unix())
	}
	stepTTL, _ := rawTTLs(t, table, store.RunStepsPK(run.ID), store.StepSK("wait"))
	if stepTTL < ttl {
		t.Errorf("step ttl %d is before its run's %d", stepTTL, ttl)
	}
	got, err := db.Get(ctx, account, run.ID)
	if err != nil || got.ExpiresAt.Unix() != run.ExpiresAt.Unix() {
		t.Fatalf("Get: %v, ExpiresAt %v, want %v", err, got.ExpiresAt, run.ExpiresAt)
	}

	// Open past its retention: still read. Finished past it: gone for
	// readers at once, though still stored.
	later := runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return run.CreatedAt.Add(3 * 24 * time.Hour) })
	if _, err := later.Get(ctx, account, run.ID); err != nil {
		t.Fatalf("an open run past its retention: %v", err)
	}
	run.Status, run.FinishedAt = runs.StatusSucceeded, run.CreatedAt.Add(2*24*time.Hour)
	if _, err := db.Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := later.Get(ctx, account, run.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a finished run past its retention: %v, want not found", err)
	}
	page, err := later.List(ctx, account, runs.Filter{}, 100, "")
	if err != nil || len(page.Items) != 0 {
		t.Errorf("List past retention: %d runs, %v; want none", len(page.Items), err)
	}
}

// TestARunStoredBeforeHideAtIsReadByItsTTL: items written before hideAt have
// only ttl, which was the run's ExpiresAt; they are read and hidden as
// before, and an update gives them both.
func TestARunStoredBeforeHideAtIsReadByItsTTL(t *testing.T) {
	table := dynamotest.MustTable(t)
	ctx := context.Background()
	db := storeOn(table)
	run := mustCreate(t, db, newRun(1, ids.New(ids.PrefixWorkflow, base), runs.StatusQueued))
	// As the old store wrote it: ttl = ExpiresAt, no hideAt.
	expires := base.Add(12 * time.Hour)
	if _, err := table.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.RunSK(run.ID)),
		UpdateExpression:         aws.String("SET #ttl = :t, #status = :s, #fin = :f REMOVE #hide"),
		ExpressionAttributeNames: map[string]string{"#ttl": "ttl", "#hide": "hideAt", "#status": "status", "#fin": "finishedAt"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": store.NumberAV(expires.Unix()), ":s": &types.AttributeValueMemberS{Value: string(runs.StatusSucceeded)},
			":f": store.NumberAV(base.Add(time.Hour).UnixMilli()),
		},
	}); err != nil {
		t.Fatal(err)
	}
	before := runsdb.New(table.Client, table.Name).WithClock(func() time.Time { return base.Add(6 * time.Hour) })
	got, err := before.Get(ctx, account, run.ID)
	if err != nil || got.ExpiresAt.Unix() != expires.Unix() {
		t.Fatalf("Get before its ttl: %v, ExpiresAt %v, want %v", err, got.ExpiresAt, expires)
	}
	if page, err := before.List(ctx, account, runs.Filter{}, 100, ""); err != nil || len(page.Items) != 1 {
		t.Fatalf("List before its ttl: %d, %v", len(page.Items), err)
	}
	if _, err := db.Get(ctx, account, run.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get past its ttl: %v, want not found", err)
	}
	if page, err := db.List(ctx, account, runs.Filter{}, 100, ""); err != nil || len(page.Items) != 0 {
		t.Errorf("List past its ttl: %d, %v; want none", len(page.Items), err)
	}
}

func TestFanOutItemsAreConditionalAndReadInIndexOrder(t *testing.T) {
	table := dynamotest.MustTable(t)
	db := storeOn(table)
	ctx := context.Background()
	run := newRun(0, ids.New(ids.PrefixWorkflow, base), runs.StatusRunning)
	if err := db.Create(ctx, run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	// Indexes written out of order, two steps whose ids share a prefix, and
	// a step record: Items reads one step's items only, by index.
	for _, i := range []int{12, 2, 1000, 0} {
		if _, err := db.PutItem(ctx, runs.Item{RunID: run.ID, StepID: "fan", Index: i, Status: runs.StepRunning, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutItem(ctx, runs.Item{RunID: run.ID, StepID: "fanout", Index: 1, ID: "inner", Status: runs.StepSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutStep(ctx, runs.Step{RunID: run.ID, StepID: "fan", Status: runs.StepRunning, ItemCount: 1001, Items: jsontext.Value(`[1,2]`), Jump: "end"}); err != nil {
		t.Fatal(err)
	}
	items, err := db.Items(ctx, run.ID, "fan")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, it := range items {
		got = append(got, it.Index)
	}
	if !slices.Equal(got, []int{0, 2, 12, 1000}) {
		t.Fatalf("Items indexes = %v, want [0 2 12 1000]", got)
	}
	other, err := db.Items(ctx, run.ID, "fanout")
	if err != nil || len(other) != 1 || other[0].ID != "inner" {
		t.Fatalf("Items of fanout = %+v, %v", other, err)
	}
	// A write from a stale read loses; a second create of an index loses.
	stale := items[0]
	next := stale
	next.Status, next.Output = runs.StepSucceeded, jsontext.Value(`{"ok":true}`)
	if _, err := db.PutItem(ctx, next); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutItem(ctx, stale); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("PutItem from a stale read: %v, want ErrRevision", err)
	}
	if _, err := db.PutItem(ctx, runs.Item{RunID: run.ID, StepID: "fan", Index: 2}); !errors.Is(err, runs.ErrRevision) {
		t.Errorf("PutItem creating an existing index: %v, want ErrRevision", err)
	}
	steps, err := db.Steps(ctx, run.ID)
	if err != nil || len(steps) != 1 || steps[0].ItemCount != 1001 || string(steps[0].Items) != `[1,2]` || steps[0].Jump != "end" {
		t.Fatalf("Steps = %+v, %v; want the one step with its items, count and jump", steps, err)
	}
}
