package servicenow

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The adaptive rate: each 429 halves the rate (once per congestion event,
// see gate.throttled) down to minRate; after raiseAfter calls in a row are
// answered without a 429, the rate climbs by 1/raiseSteps of the
// configured RateLimit, up to it.
const (
	minRate    = 0.5
	cutFactor  = 0.5
	raiseAfter = 10
	raiseSteps = 20
)

// gate is the one pace of every call a Target sends, shared by all its
// goroutines: a token bucket (golang.org/x/time/rate) whose rate adapts
// to the instance's 429 answers, and a pause that holds every call until
// the time a Retry-After asked for.
type gate struct {
	max   rate.Limit // the configured RateLimit
	floor rate.Limit
	burst int // the configured Burst
	// adaptive is false without a configured limit (RateLimit < 0): the
	// pause still applies, the rate stays unlimited.
	adaptive bool
	// turn lets one caller at a time take a token: the limiter then has
	// at most one reservation out, so a change of rate applies to every
	// later call at once instead of to a queue of reservations made at
	// the old rate.
	turn chan struct{}

	mu sync.Mutex
	// lim paces the calls at cur. A change of rate replaces it with a
	// bucket that counts from the last call sent (lastSent), so the new
	// rate neither credits the time before the change nor lets a burst
	// through.
	lim      *rate.Limiter
	lastSent time.Time
	// until is the earliest time the next call may be sent.
	until time.Time
	// changed is closed (and replaced) whenever until moves later or the
	// rate changes, so that a caller waiting for a token gives it back and
	// waits again under the new terms.
	changed chan struct{}
	cur     rate.Limit
	// lastCut and lastChange are when the rate was last lowered and last
	// changed; answers to calls sent before them say nothing about the
	// current rate.
	lastCut, lastChange time.Time
	// good counts answers without a 429 since the last change.
	good int
}

func newGate(perSecond float64, burst int) *gate {
	g := &gate{burst: burst, changed: make(chan struct{}), turn: make(chan struct{}, 1)}
	if perSecond < 0 {
		g.max, g.cur = rate.Inf, rate.Inf
		g.lim = rate.NewLimiter(rate.Inf, burst)
		return g
	}
	g.adaptive = true
	g.max, g.cur = rate.Limit(perSecond), rate.Limit(perSecond)
	g.floor = min(rate.Limit(minRate), g.max)
	g.lim = rate.NewLimiter(g.max, burst)
	return g
}

// pausedError is returned by wait when the pause lasts longer than the
// caller may wait.
type pausedError struct {
	method, table string
	wait          time.Duration
}

func (e *pausedError) Error() string {
	return "servicenow: " + e.method + " " + e.table + ": not sent: the instance asked (Retry-After) for no call for another " +
		e.wait.Round(time.Second).String() + "; load again after that (the journal resumes)"
}

func (e *pausedError) Is(target error) bool          { return target == ErrRateLimited }
func (e *pausedError) Transient() bool               { return true }
func (e *pausedError) RetryAfterHint() time.Duration { return e.wait }

// wait returns when a call may be sent: after the pause, with a token of
// the rate. A pause longer than maxPause fails at once with a
// *pausedError. The error is ctx's cause when ctx ends first.
func (g *gate) wait(ctx context.Context, maxPause time.Duration, method, table string) error {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-g.turn }()
	for {
		g.mu.Lock()
		until, changed, lim := g.until, g.changed, g.lim
		g.mu.Unlock()
		if d := time.Until(until); d > 0 {
			if d > maxPause {
				return &pausedError{method: method, table: table, wait: d}
			}
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		r := lim.Reserve()
		d := r.Delay()
		if d == rate.InfDuration {
			// Burst 0 with a finite rate never grants a token.
			r.Cancel()
			d = 0
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-changed:
				t.Stop()
				r.Cancel()
				continue
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return context.Cause(ctx)
			}
		}
		g.mu.Lock()
		now := time.Now()
		// A pause that began while this call waited still holds it.
		if paused := now.Before(g.until); !paused {
			g.lastSent = now
			g.mu.Unlock()
			return nil
		}
		g.mu.Unlock()
	}
}

// changedLocked tells waiting callers that the terms changed.
func (g *gate) changedLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// setRateLocked paces calls at r with burst b from now on, counting from
// the last call sent.
func (g *gate) setRateLocked(r rate.Limit, b int) {
	g.cur = r
	g.lim = rate.NewLimiter(r, b)
	if !g.lastSent.IsZero() {
		g.lim.ReserveN(g.lastSent, 1)
	}
	g.changedLocked()
}

// pause holds every call until now+d (or later, if already so).
func (g *gate) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pauseLocked(time.Now().Add(d))
}

func (g *gate) pauseLocked(until time.Time) {
	if until.After(g.until) {
		g.until = until
		g.changedLocked()
	}
}

// throttled records a 429 to a call sent at sent: every call waits for
// wait, and the rate is cut, once for all the 429s to calls sent before
// the previous cut.
func (g *gate) throttled(sent time.Time, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.pauseLocked(now.Add(wait))
	if !g.adaptive || sent.Before(g.lastCut) {
		return
	}
	g.lastCut, g.lastChange, g.good = now, now, 0
	// A burst would hit the instance's limit again at once.
	g.setRateLocked(max(g.floor, g.cur*cutFactor), 1)
}

// answered records an answer other than 429 to a call sent at sent, and
// raises the rate after raiseAfter of them in a row.
func (g *gate) answered(sent time.Time) {
	if !g.adaptive {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur >= g.max || sent.Before(g.lastChange) {
		return
	}
	g.good++
	if g.good < raiseAfter {
		return
	}
	g.lastChange, g.good = time.Now(), 0
	r, b := min(g.max, g.cur+g.max/raiseSteps), 1
	if r == g.max {
		b = g.burst
	}
	g.setRateLocked(r, b)
}

// rate is the current rate in calls per second (+Inf when unlimited).
func (g *gate) rate() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == rate.Inf {
		return math.Inf(1)
	}
	return float64(g.cur)
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
