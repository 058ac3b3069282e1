package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// A fan-out step (foreach, parallel) is progress at two levels: the step's
// record, written once when the step is planned (running, with its item
// count and a foreach's items) and once when it ends; and one record per
// item (runs.Item), each with its own attempts, leases and back-offs, like
// a step's. In one Advance the items run at once, at most the step's
// concurrency (a parallel's every inner step), each recorded with a
// conditional write as it lands; when the budget ends, no item begins and
// the Advance answers "advance again" after the items in flight have
// landed. So a 1000-item foreach spans several invocations with about one
// state transition each, and a resume, or a retry from the failed step,
// redoes only the items that had not succeeded.

// concurrencyOf is how many items of step run at once.
func concurrencyOf(step workflows.Step) int {
	if step.Type == workflows.StepParallel {
		return len(step.With.Steps)
	}
	return step.With.ForeachConcurrency()
}

// itemKey is the Idempotency-Key of an item's request, the same for each
// of its attempts: "<runId>:<stepId>:<index>" for a foreach item,
// "<runId>:<stepId>:<innerId>" for a parallel's inner step.
func (a *advance) itemKey(step workflows.Step, item runs.Item) string {
	if item.ID != "" {
		return a.runID + ":" + step.ID + ":" + item.ID
	}
	return a.runID + ":" + step.ID + ":" + strconv.Itoa(item.Index)
}

// fanOut moves a fan-out step: plans it the first time (its own
// execution gives the items), then runs the items that have not ended,
// then ends the step when every item has.
func (a *advance) fanOut(index int, rec runs.Step, exists bool) (outcome, bool, error) {
	step := a.def.Steps[index]
	if !exists {
		return a.plan(index)
	}
	var items []runs.Item
	if a.planned != step.ID {
		// Planned in this pass, the step has no items yet: no Query.
		var err error
		if items, err = a.r.store.Items(a.ctx, a.runID, step.ID); err != nil {
			return again, false, err
		}
	}
	pool := newItemPool(a, index, rec, items)
	if !pool.settled() && !pool.tooLarge() {
		if err := a.markRunning(a.r.clock.Now()); err != nil {
			return again, false, err
		}
		if err := pool.run(); err != nil {
			return again, false, err
		}
	}
	now := a.r.clock.Now()
	switch {
	case pool.tooLarge():
		rec.Status, rec.FinishedAt, rec.Items = runs.StepFailed, now, pool.keptItems()
		rec.Error = &runs.Error{Code: CodeOutputSize, Message: fmt.Sprintf("the items' outputs are over %d bytes in all, the limit of a step's output (256 KiB)", runs.MaxStepOutputBytes)}
		return again, true, a.putStep(rec)
	case pool.settled() && pool.failed != nil:
		// Every item has ended: the step fails with the first item that
		// failed.
		f := pool.failed
		message := pool.describe(f) + ": " + f.Error.Message
		if n := pool.failures(); n > 1 {
			what := "item"
			if step.Type == workflows.StepParallel {
				what = "inner step"
			}
			if n > 2 {
				what += "s"
			}
			message = fmt.Sprintf("%s (and %d more %s failed)", message, n-1, what)
		}
		rec.Status, rec.FinishedAt, rec.Items = runs.StepFailed, now, pool.keptItems()
		rec.Error = &runs.Error{Code: f.Error.Code, Message: message}
		return again, true, a.putStep(rec)
	case pool.settled():
		output, err := pool.output()
		rec.Status, rec.FinishedAt, rec.Items, rec.Output = runs.StepSucceeded, now, pool.keptItems(), output
		if err != nil {
			rec.Status, rec.Output, rec.Error = runs.StepFailed, nil, &runs.Error{Code: CodeOutputSize, Message: err.Error()}
		}
		return again, true, a.putStep(rec)
	case pool.conflict:
		return again, false, errConflict
	case pool.outOfBudget || pool.wakeAt.IsZero():
		return again, false, nil
	}
	// Items wait for a back-off, or for another runner's live attempt.
	o, err := a.waitUntil(pool.wakeAt, now)
	return o, false, err
}

// plan executes the fan-out step itself, once: a foreach's items program
// (or a parallel's inner steps) gives the items, and the step's record is
// written running with them. A plan that fails (items that are no array,
// too many items) fails the step: a retry would compute the same.
func (a *advance) plan(index int) (outcome, bool, error) {
	step := a.def.Steps[index]
	if a.began > 0 {
		if !a.mayBegin(a.r.engine.AttemptTimeout(step)) {
			return again, false, nil
		}
		if err := a.recheck(); err != nil {
			return again, false, err
		}
	}
	now := a.r.clock.Now()
	if err := a.markRunning(now); err != nil {
		return again, false, err
	}
	a.began++
	rec := runs.Step{RunID: a.runID, StepID: step.ID, Index: index, StartedAt: now}
	result, err := a.execute(func(ctx context.Context) (engine.Result, error) {
		return a.r.engine.Execute(ctx, a.compiled, index, a.context(1), a.runID+":"+step.ID)
	})
	if err == nil && result.FanOut == nil {
		err = fmt.Errorf("runner: the engine planned no fan-out for %s", step.Type)
	}
	if err != nil {
		stepErr, err := a.stepError(step.ID, err)
		if err != nil {
			return again, false, err
		}
		rec.Status, rec.Attempts, rec.FinishedAt = runs.StepFailed, 1, a.r.clock.Now()
		rec.Error = &runs.Error{Code: stepErr.Code, Message: stepErr.Message}
		return again, true, a.putStep(rec)
	}
	rec.Status, rec.ItemCount = runs.StepRunning, result.FanOut.Count
	if result.FanOut.IDs != nil {
		// A parallel's inner step ids, so a reader of the step can name
		// the inner steps that have not begun: an object, where a
		// foreach's items are an array (runs.Step.Items).
		ids, err := marshalOutput(map[string]any{"innerSteps": result.FanOut.IDs})
		if err != nil {
			return again, false, err
		}
		rec.Items = ids
	}
	if result.FanOut.Items != nil {
		items, err := marshalOutput(result.FanOut.Items)
		if err != nil {
			rec.Status, rec.Attempts, rec.FinishedAt = runs.StepFailed, 1, a.r.clock.Now()
			rec.Error = &runs.Error{Code: CodeOutputSize, Message: "the items: " + err.Error()}
			return again, true, a.putStep(rec)
		}
		rec.Items = items
	}
	if err := a.putStep(rec); err != nil {
		return again, false, err
	}
	a.planned = step.ID
	return again, true, nil
}

// itemPool runs the items of one fan-out step in one Advance.
type itemPool struct {
	a     *advance
	index int
	step  workflows.Step
	rec   runs.Step
	base  engine.Context
	// values are a foreach's items, decoded once.
	values []any

	mu    sync.Mutex
	items []runs.Item // by index; Revision 0: never began
	// failed is the first item (by index) failed for good: once every item
	// has ended, the step fails with it.
	failed      *runs.Item
	conflict    bool
	outOfBudget bool
	// wakeAt is the earliest time an item that could not run now may.
	wakeAt       time.Time
	outputBytes  int
	lastRunCheck time.Time
	stopped      bool
}

func newItemPool(a *advance, index int, rec runs.Step, stored []runs.Item) *itemPool {
	step := a.def.Steps[index]
	p := &itemPool{a: a, index: index, step: step, rec: rec, items: make([]runs.Item, rec.ItemCount), lastRunCheck: a.r.clock.Now()}
	for i := range p.items {
		p.items[i] = runs.Item{RunID: a.runID, StepID: step.ID, Index: i}
		if step.Type == workflows.StepParallel && i < len(step.With.Steps) {
			p.items[i].ID = step.With.Steps[i].ID
		}
	}
	for _, it := range stored {
		if it.Index >= 0 && it.Index < len(p.items) {
			p.items[it.Index] = it
		}
	}
	for i := range p.items {
		it := &p.items[i]
		switch {
		case it.Status == runs.StepSucceeded:
			p.outputBytes += len(it.Output)
		case it.Status == runs.StepFailed && p.failed == nil:
			p.failed = it
		}
	}
	if vs, ok := decode(rec.Items).([]any); ok {
		p.values = vs
	}
	return p
}

// keptItems is what the step's record keeps of its items once it ends: a
// parallel's inner step ids (a few bytes), not a foreach's items (up to
// 256 KiB, needed only while it runs).
func (p *itemPool) keptItems() jsontext.Value {
	if p.step.Type == workflows.StepParallel {
		return p.rec.Items
	}
	return nil
}

// tooLarge reports whether the items that succeeded already hold more
// than the step's whole output may.
func (p *itemPool) tooLarge() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outputBytes > runs.MaxStepOutputBytes
}

// settled reports whether every item has ended: succeeded, or failed for
// good. A failed item does not stop the others: each runs (with its own
// retries), so the step's record tells every item that failed, and a retry
// from the failed step redoes only those.
func (p *itemPool) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range p.items {
		if it.Status != runs.StepSucceeded && it.Status != runs.StepFailed {
			return false
		}
	}
	return true
}

// failures counts the items that failed for good.
func (p *itemPool) failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, it := range p.items {
		if it.Status == runs.StepFailed {
			n++
		}
	}
	return n
}

// describe names an item in its step's error.
func (p *itemPool) describe(it *runs.Item) string {
	if it.ID != "" {
		return "inner step " + it.ID
	}
	return "item " + strconv.Itoa(it.Index)
}

// run runs the items that have not ended with the step's concurrency, and
// returns when no more may begin and those in flight have landed.
func (p *itemPool) run() error {
	p.base = p.a.context(0)
	next := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range min(concurrencyOf(p.step), len(p.items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := p.runItem(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					p.stop()
				}
			}
		}()
	}
	for i := range p.items {
		if p.isStopped() {
			break
		}
		if p.items[i].Status == runs.StepSucceeded || p.items[i].Status == runs.StepFailed {
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

func (p *itemPool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

func (p *itemPool) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// later notes that an item may run at t, not now.
func (p *itemPool) later(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wakeAt.IsZero() || t.Before(p.wakeAt) {
		p.wakeAt = t
	}
}

// mayBegin reports whether item i may begin an attempt now: not after a
// conflict or a cancel, and within the Advance's budget. It
// reads the run again at most once a second, so a cancel stops the items
// from beginning (the ones in flight land, and the next pass ends the run
// cancelled).
func (p *itemPool) mayBegin(inner workflows.Step) (bool, error) {
	a := p.a
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return false, nil
	}
	if !a.mayBegin(a.r.engine.AttemptTimeout(inner)) {
		p.outOfBudget, p.stopped = true, true
		p.mu.Unlock()
		return false, nil
	}
	recheck := false
	if now := a.r.clock.Now(); a.began > 0 && now.Sub(p.lastRunCheck) >= time.Second {
		p.lastRunCheck, recheck = now, true
	}
	a.began++
	p.mu.Unlock()
	if !recheck {
		return true, nil
	}
	// The read is outside the lock: the other items' writes go on meanwhile.
	err := a.recheck()
	if err == nil {
		return true, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if errors.Is(err, errConflict) {
		p.conflict = true
		return false, nil
	}
	return false, err
}

// runItem takes item i as far as it goes in this Advance: attempts, short
// back-offs slept here, until it succeeds, fails for good, or must wait.
func (p *itemPool) runItem(i int) error {
	a := p.a
	inner := engine.InnerStep(p.step, i)
	p.mu.Lock()
	it := p.items[i]
	p.mu.Unlock()
	now := a.r.clock.Now()
	switch {
	case it.Status == runs.StepRunning && now.Before(it.NextAttemptAt):
		p.later(it.NextAttemptAt) // maybe another runner's live attempt
		return nil
	case it.Status == runs.StepRunning:
		// Past its lease, that attempt failed.
		var err error
		if it, err = p.failedAttempt(it, inner, &engine.StepError{Code: CodeInterrupted, Message: "the runner stopped during this attempt", Retryable: true}); err != nil || it.Status != runs.StepRunning {
			return err
		}
	case it.Status == runs.StepWaiting && now.Before(it.NextAttemptAt):
		p.later(it.NextAttemptAt)
		return nil
	}
	for {
		ok, err := p.mayBegin(inner)
		if err != nil || !ok {
			if it.Status == runs.StepRunning {
				// Ours, after a back-off slept here: the next Advance tries
				// it again.
				it.Status, it.NextAttemptAt = runs.StepWaiting, a.r.clock.Now()
				if _, werr := p.put(it); err == nil {
					err = werr
				}
			}
			return err
		}
		now := a.r.clock.Now()
		it.Status, it.Attempts, it.Error, it.NextAttemptAt = runs.StepRunning, it.Attempts+1, nil, now.Add(a.lease(inner))
		if it.StartedAt.IsZero() {
			it.StartedAt = now
		}
		if it, err = p.put(it); err != nil || it.Revision == 0 {
			return err
		}
		rc := p.itemContext(it)
		result, err := a.execute(func(ctx context.Context) (engine.Result, error) {
			return a.r.engine.ExecuteItem(ctx, a.compiled, p.index, i, rc, a.itemKey(p.step, it))
		})
		if err == nil {
			output, merr := marshalOutput(result.Output)
			if merr == nil {
				it.Status, it.Output, it.FinishedAt, it.NextAttemptAt = runs.StepSucceeded, output, a.r.clock.Now(), time.Time{}
				_, err := p.put(it)
				return err
			}
			err = &engine.StepError{Code: CodeOutputSize, Message: merr.Error()}
		}
		stepErr, err := a.stepError(p.step.ID, err)
		if err != nil {
			return err
		}
		if it, err = p.failedAttempt(it, inner, stepErr); err != nil || it.Status != runs.StepRunning {
			return err
		}
	}
}

// failedAttempt records a failed attempt of an item: for good if it may not
// be tried again (the step then fails), else a back-off, slept here if it
// is short (the item stays running, ours: the returned item says so), or
// recorded waiting.
func (p *itemPool) failedAttempt(it runs.Item, inner workflows.Step, stepErr *engine.StepError) (runs.Item, error) {
	a := p.a
	now := a.r.clock.Now()
	it.Error = &runs.Error{Code: stepErr.Code, Message: stepErr.Message}
	if !stepErr.Retryable || it.Attempts >= maxAttempts(inner) {
		it.Status, it.FinishedAt, it.NextAttemptAt = runs.StepFailed, now, time.Time{}
		written, err := p.put(it)
		if err == nil && written.Revision > 0 {
			p.mu.Lock()
			if p.failed == nil || written.Index < p.failed.Index {
				p.failed = &written
			}
			p.mu.Unlock()
		}
		return written, err
	}
	backoff := a.backoff(it.Attempts, stepErr.RetryAfter)
	until := now.Add(backoff)
	if a.maySleep(until, backoff) {
		if err := a.r.clock.Sleep(a.ctx, backoff); err != nil {
			return it, err
		}
		return it, nil // still running, and ours
	}
	it.Status, it.NextAttemptAt = runs.StepWaiting, until
	p.later(until)
	return p.put(it)
}

// put writes an item conditionally. A lost write (another runner moved it)
// stops the pool: the item is returned with Revision 0, and the pass
// starts again from what is stored.
func (p *itemPool) put(it runs.Item) (runs.Item, error) {
	written, err := p.a.r.store.PutItem(p.a.ctx, it)
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(err, runs.ErrRevision) {
		p.conflict, p.stopped = true, true
		return runs.Item{}, nil
	}
	if err != nil {
		return runs.Item{}, err
	}
	p.items[it.Index] = written
	if written.Status == runs.StepSucceeded {
		p.outputBytes += len(written.Output)
		if p.outputBytes > runs.MaxStepOutputBytes {
			// The whole output cannot fit: no more items begin, and the
			// step fails when those in flight land.
			p.stopped = true
		}
	}
	return written, nil
}

// itemContext is the run's context with the item: .item and .index for a
// foreach item, and .run.attempt the item's attempt.
func (p *itemPool) itemContext(it runs.Item) engine.Context {
	rc := make(engine.Context, len(p.base)+2)
	for k, v := range p.base {
		rc[k] = v
	}
	if run, ok := p.base["run"].(map[string]any); ok {
		copied := make(map[string]any, len(run))
		for k, v := range run {
			copied[k] = v
		}
		copied["attempt"] = it.Attempts
		rc["run"] = copied
	}
	if p.step.Type == workflows.StepForeach {
		var item any
		if it.Index < len(p.values) {
			item = p.values[it.Index]
		}
		rc["item"], rc["index"] = item, it.Index
	}
	return rc
}

// output is the step's output from its items: a foreach's the array of the
// item outputs in item order, a parallel's an object keyed by inner step id;
// at most runs.MaxStepOutputBytes in all.
func (p *itemPool) output() (jsontext.Value, error) {
	var buf bytes.Buffer
	if p.step.Type == workflows.StepParallel {
		byID := make(map[string]json.RawMessage, len(p.items))
		for _, it := range p.items {
			byID[it.ID] = json.RawMessage(it.Output)
		}
		b, err := json.Marshal(byID) // keys sorted, so one output always reads back the same
		if err != nil {
			return nil, fmt.Errorf("the step's output is not JSON: %v", err)
		}
		buf.Write(b)
	} else {
		buf.WriteByte('[')
		for i, it := range p.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(it.Output)
		}
		buf.WriteByte(']')
	}
	if buf.Len() > runs.MaxStepOutputBytes {
		return nil, fmt.Errorf("the step's output is %d bytes, over the limit of %d (256 KiB)", buf.Len(), runs.MaxStepOutputBytes)
	}
	return jsontext.Value(buf.Bytes()), nil
}
