package runs

import (
	"strings"
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	live, over := now.Add(time.Minute), now.Add(-time.Second)
	held := func(index int, run string, lease time.Time) Slot {
		return Slot{Index: index, RunID: run, LeaseUntil: lease}
	}
	queued := func(ids ...string) []QueuedRun {
		var q []QueuedRun
		for _, id := range ids {
			q = append(q, QueuedRun{RunID: id})
		}
		return q
	}
	tests := []struct {
		name      string
		state     SlotState
		limit     int
		run       string
		wantOK    bool
		wantIndex int // -1: any free one
		wantRetry time.Time
	}{
		{"an empty group admits", SlotState{}, 2, "run_b", true, -1, time.Time{}},
		{"a run keeps the slot it holds, even past its lease", SlotState{Held: []Slot{held(1, "run_b", over)}}, 2, "run_b", true, 1, time.Time{}},
		{"a full group queues, to look again at the earliest lease", SlotState{Held: []Slot{held(0, "run_a", live.Add(time.Hour)), held(1, "run_c", live)}}, 2, "run_b", false, 0, live},
		{"a slot past its lease is free", SlotState{Held: []Slot{held(0, "run_a", over), held(1, "run_c", live)}}, 2, "run_b", true, 0, time.Time{}},
		{"an older queued run goes first", SlotState{Held: []Slot{held(0, "run_a", live)}, Queue: queued("run_b", "run_d")}, 2, "run_d", false, 0, live},
		{"the oldest queued run takes the free slot", SlotState{Held: []Slot{held(0, "run_a", live)}, Queue: queued("run_b", "run_d")}, 2, "run_b", true, 1, time.Time{}},
		{"the second oldest aims at the second free slot", SlotState{Queue: queued("run_b", "run_d")}, 3, "run_d", true, 1, time.Time{}},
		{"a newcomer waits behind the queue", SlotState{Held: []Slot{held(0, "run_a", live)}, Queue: queued("run_b")}, 2, "run_z", false, 0, live},
		{"slots held past a lowered limit still count", SlotState{Held: []Slot{held(3, "run_a", live)}}, 1, "run_b", false, 0, live},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, ok, retry := Admit(tt.state, tt.limit, tt.run, now)
			if ok != tt.wantOK || (ok && tt.wantIndex >= 0 && index != tt.wantIndex) || (ok && (index < 0 || index >= max(tt.limit, 4))) || !retry.Equal(tt.wantRetry) {
				t.Errorf("Admit = %d, %t, %v; want %d, %t, %v", index, ok, retry, tt.wantIndex, tt.wantOK, tt.wantRetry)
			}
			if ok {
				for _, h := range tt.state.Held {
					if h.Index == index && h.RunID != tt.run && h.LeaseUntil.After(now) {
						t.Errorf("admitted to slot %d, held by %s", index, h.RunID)
					}
				}
			}
		})
	}
}

func TestConcurrencyGroupsNameTheirKeyByHash(t *testing.T) {
	a, b := ConcurrencyGroup("acct", "wf_1", `"acme"`), ConcurrencyGroup("acct", "wf_1", `"globex"`)
	if a == b || a != ConcurrencyGroup("acct", "wf_1", `"acme"`) || ConcurrencyGroup("acct", "wf_1", "") == a {
		t.Fatalf("groups %q %q", a, b)
	}
	if ConcurrencyGroup("other", "wf_1", `"acme"`) == a {
		t.Error("two accounts share a group")
	}
	for _, g := range []string{a, b} {
		if len(g) > 100 || strings.Contains(g, "acme") || strings.Contains(g, "globex") {
			t.Errorf("group %q holds the key's value", g)
		}
	}
}
