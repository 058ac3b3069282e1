package webhooks_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// memoryStore is webhooks.Store in maps, with the adapter's rules: the unit
// tests of Verify and the fuzz targets run the service many times, which the
// DynamoDB adapter (tested against dynalite in store/webhooksdb) is not
// needed for.
type memoryStore struct {
	mu sync.Mutex
	// heads is what each account's workflows' heads say, by account then
	// workflow id.
	heads map[string]map[string]webhooks.Head
	items map[string]webhooks.Record
	// gets counts Get calls: Verify must not read for a header it refuses.
	gets int
}

func newMemoryStore() *memoryStore {
	return &memoryStore{heads: map[string]map[string]webhooks.Head{}, items: map[string]webhooks.Record{}}
}

func (m *memoryStore) setHead(account, workflowID string, head webhooks.Head) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.heads[account] == nil {
		m.heads[account] = map[string]webhooks.Head{}
	}
	m.heads[account][workflowID] = head
}

func (m *memoryStore) setTrigger(account, workflowID, trigger string) {
	m.setHead(account, workflowID, webhooks.Head{TriggerType: trigger})
}

func (m *memoryStore) Put(_ context.Context, rec webhooks.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.items[rec.WorkflowID]; ok && old.AccountID != rec.AccountID {
		return domain.ErrNotFound
	}
	m.items[rec.WorkflowID] = rec
	return nil
}

func (m *memoryStore) Delete(_ context.Context, account, workflowID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.items[workflowID]; ok && old.AccountID == account {
		delete(m.items, workflowID)
	}
	return nil
}

func (m *memoryStore) WorkflowHead(_ context.Context, account, workflowID string) (webhooks.Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	head, ok := m.heads[account][workflowID]
	if !ok {
		return webhooks.Head{}, domain.ErrNotFound
	}
	return head, nil
}

func (m *memoryStore) Roll(_ context.Context, account, workflowID string, current secrets.Sealed, keepPreviousUntil, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.items[workflowID]
	if !ok {
		m.items[workflowID] = webhooks.Record{WorkflowID: workflowID, AccountID: account, Current: current, CreatedAt: at}
		return nil
	}
	if rec.AccountID != account {
		return domain.ErrNotFound
	}
	rec.Previous, rec.PreviousExpiresAt = nil, time.Time{}
	if !keepPreviousUntil.IsZero() {
		previous := rec.Current
		rec.Previous, rec.PreviousExpiresAt = &previous, keepPreviousUntil
	}
	rec.Current = current
	m.items[workflowID] = rec
	return nil
}

func (m *memoryStore) Get(_ context.Context, workflowID string) (webhooks.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	rec, ok := m.items[workflowID]
	if !ok {
		return webhooks.Record{}, domain.ErrNotFound
	}
	return rec, nil
}

func (m *memoryStore) count() (items, gets int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items), m.gets
}

func mustLocalSealer(tb testing.TB) secrets.Sealer {
	tb.Helper()
	sealer, err := secrets.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return sealer
}
