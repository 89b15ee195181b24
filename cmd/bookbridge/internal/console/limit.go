package console

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login throttling: each client address may try loginBurst logins at once
// and then one every loginEvery; at most loginSlots password checks run at
// a time, since each argon2id check takes 64 MiB of memory.
const (
	loginBurst   = 10
	loginEvery   = 6 * time.Second
	loginSlots   = 4
	loginClients = 10000 // addresses remembered before the table starts anew
)

type loginLimiter struct {
	mu    sync.Mutex
	per   map[netip.Addr]*rate.Limiter
	slots chan struct{}
	burst int
	every time.Duration
}

func newLoginLimiter(burst int, every time.Duration) *loginLimiter {
	return &loginLimiter{per: map[netip.Addr]*rate.Limiter{}, slots: make(chan struct{}, loginSlots), burst: burst, every: every}
}

// allow reports whether the client may try a login now.
func (l *loginLimiter) allow(client netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.per[client]
	if !ok {
		if len(l.per) >= loginClients {
			clear(l.per)
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.per[client] = lim
	}
	return lim.Allow()
}

// acquire waits for a password-check slot; false when ctx ended first.
func (l *loginLimiter) acquire(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *loginLimiter) release() { <-l.slots }
