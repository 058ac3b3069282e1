// Package ratelimit owns the rate limits: the categories and their limits, the
// sliding-window arithmetic, and the Limiter that applies them over a Counter
// (the DynamoDB adapter lives in package store/pipelinedb).
//
// The window is strict, at a granularity of one second: a bucket counts its
// requests per Unix second, and a request in second s is admitted only if the
// requests counted in seconds s-60 to s, itself included, are at most the
// limit. Those are 61 whole seconds, not 60, because two requests in seconds
// 60 apart can be less than 60 s apart (10.9 and 70.1); with 61 seconds, any
// two requests at most 60 s apart are always counted together, so no interval
// of 60 seconds, wherever it starts, holds more than the limit. The price is
// that a request may be refused up to one second earlier than a perfectly
// exact window would: it errs on the side of refusing, as the contract allows.
//
// The two-window estimate this replaced (the previous minute weighted by how
// much of it is still in the last 60 s) admitted 39 requests in 59.65 s at a
// limit of 20, because it assumes the previous minute's requests were spread
// evenly; per-second counts assume nothing.
package ratelimit

import (
	"time"
)

// Counts is a bucket's counted requests by Unix second.
type Counts map[int64]int64

// Window does the sliding-window arithmetic for one window length, a whole
// number of seconds (the contract's is one minute).
type Window struct {
	Length time.Duration
}

// seconds is the window's length in whole seconds.
func (w Window) seconds() int64 { return int64(w.Length / time.Second) }

// Oldest returns the oldest second counted for a request in second s: the
// window of s is the seconds Oldest(s) to s, 61 of them for a minute.
func (w Window) Oldest(s int64) int64 { return s - w.seconds() }

// Total returns the requests counted in the window of a request in second s.
// Seconds after s count too: they were written by a process whose clock runs
// ahead of this one, and counting them errs on the side of refusing.
func (w Window) Total(c Counts, s int64) int64 {
	var n int64
	for second, count := range c {
		if second >= w.Oldest(s) {
			n += count
		}
	}
	return n
}

// Reset returns when a request will be admitted, given the counts c that a
// full window of a request in second s holds and nothing more coming in: the
// first second at which the oldest counted second has left the window, which
// is that second plus the window's length plus one (the window spans
// Length+1 seconds). One request leaving is enough, because a full window
// holds no more than the limit of admitted requests; so it is the oldest
// count that decides, and never the newest ones, which are where requests
// still being refused by other processes sit for a moment before they are
// taken back. With no count at all in the window it answers as if there was
// one in second s.
//
// The Limiter uses it for both headers' promises: on a refusal (c without the
// refused request), a request sent at Reset is admitted; on an admission (c
// with it), a request sent at Reset is admitted even if all of Remaining was
// spent right now: those would be counted in second s, which c already holds,
// so they never come before the oldest count.
func (w Window) Reset(c Counts, s int64) time.Time {
	oldest, found := s, false
	for second, count := range c {
		if count > 0 && second >= w.Oldest(s) && (!found || second < oldest) {
			oldest, found = second, true
		}
	}
	return time.Unix(oldest+w.seconds()+1, 0)
}
