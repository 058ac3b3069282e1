package ratelimit_test

import (
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ratelimit"
)

var minute = ratelimit.Window{Length: time.Minute}

// at returns the time e into window number index.
func at(index int64, e time.Duration) time.Time {
	return time.UnixMilli(index * 60000).Add(e)
}

func TestWindowFits(t *testing.T) {
	tests := []struct {
		name  string
		state ratelimit.State
		limit int64
		t     time.Time
		want  bool
	}{
		{"an empty window admits", ratelimit.State{}, 100, at(10, 0), true},
		{"the last request under the limit is admitted", ratelimit.State{Current: 99}, 100, at(10, 30*time.Second), true},
		{"a full current window refuses", ratelimit.State{Current: 100}, 100, at(10, 59*time.Second), false},
		{"a full previous window refuses at the start of the next", ratelimit.State{Previous: 100}, 100, at(10, 0), false},
		{"half way on, half of the previous window counts", ratelimit.State{Previous: 100, Current: 49}, 100, at(10, 30*time.Second), true},
		{"half way on, one more than half is too many", ratelimit.State{Previous: 100, Current: 50}, 100, at(10, 30*time.Second), false},
		{"one millisecond before the weight admits, it does not", ratelimit.State{Previous: 100}, 100, at(10, 599*time.Millisecond), false},
		{"at 1/limit of the window the previous weight admits one", ratelimit.State{Previous: 100}, 100, at(10, 600*time.Millisecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minute.Fits(tt.state, tt.limit, tt.t); got != tt.want {
				t.Fatalf("Fits(%+v, %d, %v) = %v, want %v", tt.state, tt.limit, tt.t, got, tt.want)
			}
		})
	}
}

func TestWindowRemaining(t *testing.T) {
	tests := []struct {
		name  string
		state ratelimit.State
		t     time.Time
		want  int64
	}{
		{"an empty window has the whole limit", ratelimit.State{}, at(3, 0), 100},
		{"counts in the current window are taken off", ratelimit.State{Current: 40}, at(3, 0), 60},
		{"a quarter into the window, three quarters of the previous count remain", ratelimit.State{Previous: 40}, at(3, 15*time.Second), 70},
		{"rounding never promises a request that would be refused", ratelimit.State{Previous: 1, Current: 99}, at(3, 59*time.Second), 0},
		{"never negative", ratelimit.State{Previous: 100, Current: 100}, at(3, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minute.Remaining(tt.state, 100, tt.t); got != tt.want {
				t.Fatalf("Remaining = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNextAdmission(t *testing.T) {
	tests := []struct {
		name  string
		state ratelimit.State
		limit int64
		now   time.Time
		want  time.Time
	}{
		{"with room, it is now (rounded up to the second)", ratelimit.State{Current: 1}, 100, at(5, 1500*time.Millisecond), at(5, 2*time.Second)},
		{"a full current window opens 1/limit into the next window, rounded up", ratelimit.State{Current: 100}, 100, at(5, 10*time.Second), at(6, time.Second)},
		// 100*(60-e)/60 + 51 <= 100 first holds at e = 30.6 s.
		{"a full previous window with room in the current opens when enough has aged out", ratelimit.State{Previous: 100, Current: 50}, 100, at(5, 20*time.Second), at(5, 31*time.Second)},
		{"with a limit of one, it opens only when the count has aged out fully", ratelimit.State{Current: 1}, 1, at(5, 0), at(7, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.limit
			got := minute.NextAdmission(tt.state, limit, tt.now)
			if !got.Equal(tt.want) {
				t.Fatalf("NextAdmission = %v, want %v", got, tt.want)
			}
			// The promise behind the Reset header: a request at that time,
			// with nothing else in between, is admitted.
			state := tt.state
			switch minute.Index(got) - minute.Index(tt.now) {
			case 1:
				state = ratelimit.State{Previous: tt.state.Current}
			case 2:
				state = ratelimit.State{}
			}
			if !minute.Fits(state, limit, got) {
				t.Fatalf("a request at the promised %v would not fit", got)
			}
		})
	}
}
