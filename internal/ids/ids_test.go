package ids_test

import (
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
)

// prefixes is every prefix of the API's ids.
var prefixes = []string{ids.PrefixWorkflow, ids.PrefixRun, ids.PrefixConnection, ids.PrefixKey, ids.PrefixRateLimit, ids.PrefixEvent}

func TestEveryPrefixIsItsOwn(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range prefixes {
		if !strings.HasSuffix(p, "_") || strings.Count(p, "_") != 1 || seen[p] {
			t.Errorf("prefix %q is not a name and one underscore, or is taken twice", p)
		}
		seen[p] = true
	}
	if ids.PrefixEvent != "evt_" {
		t.Errorf("PrefixEvent = %q: an event's id is evt_…, as the contract shows it", ids.PrefixEvent)
	}
}

func TestAnEventIDIsAnIDOfItsOwnKind(t *testing.T) {
	id := ids.New(ids.PrefixEvent, time.Now())
	if !strings.HasPrefix(id, "evt_") || len(id) != len("evt_")+26 || strings.ToLower(id) != id {
		t.Fatalf("event id %q is not evt_ and a lowercase ULID", id)
	}
	if !ids.Valid(ids.PrefixEvent, id) {
		t.Fatalf("Valid refuses the event id %q", id)
	}
	for _, p := range prefixes {
		if p != ids.PrefixEvent && ids.Valid(p, id) {
			t.Errorf("the event id %q passes for a %s id", id, p)
		}
	}
	later := ids.New(ids.PrefixEvent, time.Now().Add(time.Millisecond))
	if later <= id {
		t.Errorf("event ids do not sort by time: %s then %s", id, later)
	}
}
