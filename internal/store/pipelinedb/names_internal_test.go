package pipelinedb

import (
	"reflect"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/store"
)

// TestEveryWindowNamesItsOwnSeconds: the names an Add sends are built once
// per window and reused within it, never across windows.
func TestEveryWindowNamesItsOwnSeconds(t *testing.T) {
	c := &RateCounter{}
	first := c.namesOf(1000, 941)
	if again := c.namesOf(1000, 941); reflect.ValueOf(again).Pointer() != reflect.ValueOf(first).Pointer() {
		t.Fatal("the same window's names were built again")
	}
	next := c.namesOf(1001, 942)
	for second, names := range map[int64]map[string]string{1000: first, 1001: next} {
		oldest := second - 59
		if names["#now"] != store.RateSecondAttr(second) || names["#ttl"] != store.AttrTTL || len(names) != removedPerAdd+2 {
			t.Fatalf("window %d: %v", second, names)
		}
		if names["#r0"] != store.RateSecondAttr(oldest-2) || names["#r59"] != store.RateSecondAttr(oldest-61) {
			t.Errorf("window %d removes %s to %s", second, names["#r0"], names["#r59"])
		}
	}
	if first["#now"] == next["#now"] {
		t.Error("a new second reused the last window's names")
	}
	if e := removeExpression(); !strings.HasPrefix(e, "ADD #now :one SET #ttl = :ttl REMOVE #r0, #r1, ") || !strings.HasSuffix(e, ", #r59") {
		t.Errorf("expression %s", e)
	}
}
