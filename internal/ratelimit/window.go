// Package ratelimit owns the rate limits: the categories and their limits, the
// sliding-window arithmetic, and the Limiter that applies them over a Counter
// (the DynamoDB adapter lives in package store).
//
// The window is the sliding-window counter of Cloudflare and others: time is
// cut into fixed windows of length T, each with an atomic counter, and the
// number of requests in the last T at time W+e (e into window W) is estimated as
//
//	previous*(T-e)/T + current
//
// All arithmetic is on integers (milliseconds), so the admission test, the
// Remaining header and the Reset header can never disagree by rounding.
package ratelimit

import (
	"time"
)

// State is the pair of window counts the estimate is made from.
type State struct {
	Previous int64 // admitted requests in the window before the current one
	Current  int64 // admitted requests in the current window
}

// Window does the sliding-window arithmetic for one window length.
type Window struct {
	Length time.Duration
}

func (w Window) ms() int64 { return w.Length.Milliseconds() }

// Index returns the number of the fixed window that holds t. Windows are
// aligned to the Unix epoch, so every process agrees on them.
func (w Window) Index(t time.Time) int64 { return t.UnixMilli() / w.ms() }

// Start returns the time the window numbered index starts.
func (w Window) Start(index int64) time.Time { return time.UnixMilli(index * w.ms()) }

// Fits reports whether, in state s, a request at t inside the current window
// may be admitted under limit: the estimate with the request counted must not
// exceed the limit, and neither may the current window's own count.
func (w Window) Fits(s State, limit int64, t time.Time) bool {
	return w.weighted(State{Previous: s.Previous, Current: s.Current + 1}, t) <= limit*w.ms() &&
		s.Current+1 <= limit
}

// Remaining returns how many more requests would fit at t in state s.
func (w Window) Remaining(s State, limit int64, t time.Time) int64 {
	free := (limit*w.ms() - w.weighted(s, t)) / w.ms()
	free = min(free, limit-s.Current)
	return max(free, 0)
}

// weighted returns the estimate multiplied by the window length in ms.
func (w Window) weighted(s State, t time.Time) int64 {
	T := w.ms()
	elapsed := t.UnixMilli() - w.Index(t)*T
	return s.Previous*(T-elapsed) + s.Current*T
}

// NextAdmission returns the first whole second at or after now at which one
// request would be admitted, if no other request came in meanwhile, given
// state s observed in the window that holds now. The answer is what the
// X-RateLimit-Reset header reports: a client that waits until then gets in.
func (w Window) NextAdmission(s State, limit int64, now time.Time) time.Time {
	index := w.Index(now)
	second := time.Unix(now.Unix(), 0)
	if second.Before(now) {
		second = second.Add(time.Second)
	}
	// Two windows on, both counts have aged out; so the loop ends within 2T.
	end := w.Start(index + 2)
	for t := second; t.Before(end); t = t.Add(time.Second) {
		state := s
		switch w.Index(t) - index {
		case 0:
		case 1:
			state = State{Previous: s.Current}
		default:
			state = State{}
		}
		if w.Fits(state, limit, t) {
			return t
		}
	}
	return end
}
