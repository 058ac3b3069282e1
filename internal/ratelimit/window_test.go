package ratelimit_test

import (
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ratelimit"
)

var minute = ratelimit.Window{Length: time.Minute}

// at returns the time e into minute number index.
func at(index int64, e time.Duration) time.Time {
	return time.UnixMilli(index * 60000).Add(e)
}

func TestWindowOldestAndTotal(t *testing.T) {
	if got := minute.Oldest(1000); got != 940 {
		t.Fatalf("Oldest(1000) = %d, want 940: the window of a second is it and the 60 before", got)
	}
	tests := []struct {
		name   string
		counts ratelimit.Counts
		want   int64
	}{
		{"nothing counted", nil, 0},
		{"the request's own second and the oldest one count", ratelimit.Counts{1000: 2, 940: 3}, 5},
		{"61 seconds back is out", ratelimit.Counts{1000: 1, 939: 7}, 1},
		{"a later second (a clock ahead of ours) counts", ratelimit.Counts{1001: 4, 999: 1}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minute.Total(tt.counts, 1000); got != tt.want {
				t.Fatalf("Total = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWindowReset(t *testing.T) {
	tests := []struct {
		name   string
		counts ratelimit.Counts
		want   int64
	}{
		{"the oldest counted second leaves the window 61 s after it began", ratelimit.Counts{950: 1, 990: 9}, 1011},
		{"only the oldest second matters, not how much the newer ones hold", ratelimit.Counts{950: 1, 1000: 500}, 1011},
		{"counts already out of the window are ignored", ratelimit.Counts{900: 5, 960: 1}, 1021},
		{"a second taken back to zero is not the oldest", ratelimit.Counts{945: 0, 970: 2}, 1031},
		{"with nothing counted it is as if the request's own second were", nil, 1061},
		{"a later second written by a clock ahead of ours", ratelimit.Counts{1001: 3}, 1062},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minute.Reset(tt.counts, 1000); !got.Equal(time.Unix(tt.want, 0)) {
				t.Fatalf("Reset = %d, want %d", got.Unix(), tt.want)
			}
		})
	}
}
