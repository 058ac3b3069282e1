package idempotency

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
)

func TestTheSameJSONWrittenAnotherWayHasOneDigest(t *testing.T) {
	same := [][]string{
		{`{"input":{"x":1}}`, `{ "input" : {"x":1} }`, "{\n\t\"input\": {\"x\": 1}\n}"},
		{`{"a":1,"b":[1,2],"c":{"d":null,"e":true}}`, `{"c":{"e":true,"d":null},"b":[1,2],"a":1}`},
		{`"A\u00e9/"`, `"Aé\/"`, `"\u0041\u00E9/"`},
		{`1`, `1.0`, `1.00`, `1e0`, `10E-1`, `0.1e1`, `1E+0`},
		{`100`, `1e2`, `1.00e2`, `10000e-2`},
		{`0`, `-0`, `0.0`, `0e10`, `-0.0E-3`},
		{`-1.5`, `-15e-1`, `-0.15e1`},
		{`[{"b":1,"a":2},{"a":2,"b":1}]`, `[{"a":2,"b":1},{"b":1,"a":2}]`},
	}
	for _, group := range same {
		want, err := Digest([]byte(group[0]))
		if err != nil {
			t.Fatalf("%s: %v", group[0], err)
		}
		for _, other := range group[1:] {
			if got, err := Digest([]byte(other)); err != nil || got != want {
				t.Errorf("%s and %s: digests differ (%v)", group[0], other, err)
			}
		}
	}
}

func TestDifferentJSONHasAnotherDigest(t *testing.T) {
	values := []string{
		`{"input":{"x":1}}`, `{"input":{"x":2}}`, `{"input":{"y":1}}`, `{"input":{"x":"1"}}`, `{"input":[1]}`,
		`{"input":{"x":1,"y":1}}`, `{"input":{}}`, `{}`, `[]`, `[1,2]`, `[2,1]`, `[[1],2]`, `[1,[2]]`, `null`, `true`, `false`,
		`""`, `"a"`, `"b"`,
		// Past a double's precision: two numbers (JCS would make them one).
		`9007199254740993`, `9007199254740992`,
		`0.1`, `0.1000000000000000055511151231257827`,
		`1e400`, `1e401`, `-1`, `1`, `10`, `1.5`, `15`,
		// A name holding what would be a member separator is not two members.
		`{"a":1,"b":2}`, `{"a\":1,\"b":2}`,
		`{"a":{"b":1}}`, `{"a":{"b":1},"c":{}}`, `{"a":[{"b":1}]}`,
	}
	seen := map[[32]byte]string{}
	for _, v := range values {
		d, err := Digest([]byte(v))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if prev, ok := seen[d]; ok {
			t.Errorf("%s and %s share a digest", prev, v)
		}
		seen[d] = v
	}
}

func TestDigestRefusesWhatIsNotOneJSONValue(t *testing.T) {
	for _, v := range []string{``, `{`, `{"a":1,"a":2}`, `[1,]`, `{"a"}`, `1 2`, `{} {}`, "\"\xff\"", `[1}`, `{"a":1]`, `01`} {
		if _, err := Digest([]byte(v)); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
}

func TestDigestOfADeepValueDoesNotRecurse(t *testing.T) {
	// The decoder's own limit is 10000 levels; just under it, objects and
	// arrays interleaved, is read in linear time with no recursion.
	const depth = 9999
	var b strings.Builder
	for i := range depth {
		if i%2 == 0 {
			b.WriteString(`{"a":`)
		} else {
			b.WriteString(`[`)
		}
	}
	b.WriteString(`1`)
	for i := depth - 1; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString(`}`)
		} else {
			b.WriteString(`]`)
		}
	}
	if _, err := Digest([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
}

func TestFingerprintNamesTheRouteAndTarget(t *testing.T) {
	base := Request{Operation: "POST /runs/{id}/retry", Target: "run_1", Body: []byte(`{}`)}
	fp := func(r Request) string {
		s, err := r.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := base
	empty.Body = nil
	if fp(empty) != fp(base) {
		t.Error("no body and {} differ")
	}
	otherOp, otherTarget := base, base
	otherOp.Operation = "POST /workflows/{id}/run"
	otherTarget.Target = "run_2"
	if fp(otherOp) == fp(base) || fp(otherTarget) == fp(base) {
		t.Error("another route or target has the same fingerprint")
	}
}

// memStore is Store in memory, with the same conditional write.
type memStore struct {
	mu   sync.Mutex
	recs map[string]Record
}

func (s *memStore) Idempotency(_ context.Context, account, keyHash string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[account+"#"+keyHash]
	if !ok {
		return Record{}, domain.ErrNotFound
	}
	return rec, nil
}

func (s *memStore) PutIdempotency(_ context.Context, rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.AccountID+"#"+rec.KeyHash]; ok {
		return ErrTaken
	}
	s.recs[rec.AccountID+"#"+rec.KeyHash] = rec
	return nil
}

func TestDoCreatesOncePerKey(t *testing.T) {
	store := &memStore{recs: map[string]Record{}}
	var mu sync.Mutex
	created := map[string]int{}
	var prepared atomic.Int64
	creation := Creation[string]{
		Prepare: func(context.Context) (string, func(context.Context) (string, error), error) {
			id := "thing_" + string(rune('a'+prepared.Add(1)))
			return id, func(context.Context) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				created[id]++
				return id, nil
			}, nil
		},
		Existing: func(_ context.Context, id string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if created[id] == 0 {
				created[id]++ // the first request stopped before creating it
			}
			return id, nil
		},
	}
	now := time.Now()
	req := Request{Operation: "POST /things", Target: "t", Body: []byte(`{"a":1,"b":2}`)}
	var wg sync.WaitGroup
	results := make([]string, 20)
	replays := make([]bool, 20)
	for i := range results {
		wg.Go(func() {
			r := req
			if i%2 == 1 {
				r.Body = []byte(`{ "b" : 2.0, "a" : 1 }`)
			}
			var err error
			results[i], replays[i], err = Do(context.Background(), store, "acct", "k1", r, creation, now)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	firsts := 0
	for i, r := range results {
		if r != results[0] {
			t.Errorf("answer %d is %s, answer 0 %s", i, r, results[0])
		}
		if !replays[i] {
			firsts++
		}
	}
	if len(created) != 1 || firsts != 1 {
		t.Errorf("created %v, %d answers not replayed; want one thing, one first answer", created, firsts)
	}
	other := req
	other.Body = []byte(`{"a":1,"b":3}`)
	_, _, err := Do(context.Background(), store, "acct", "k1", other, creation, now)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeConflict {
		t.Errorf("another body: %v, want CONFLICT", err)
	}
	// A record written before fingerprints matches through Legacy.
	_ = store.PutIdempotency(context.Background(), Record{AccountID: "acct", KeyHash: KeyHash("old"), RequestHash: "legacy-hash", ResultID: "thing_old"})
	legacy := req
	legacy.Legacy = "legacy-hash"
	if got, replayed, err := Do(context.Background(), store, "acct", "old", legacy, creation, now); err != nil || !replayed || got != "thing_old" {
		t.Errorf("legacy record: %s %v %v", got, replayed, err)
	}
}
