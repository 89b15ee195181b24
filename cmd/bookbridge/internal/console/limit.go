package console

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// LoginLimit bounds failed console logins. Failures are counted in fixed
// windows per user name and client address together, so that behind a
// shared gateway one user's wrong passwords lock out that user from
// there and nobody else, and per client address alone, with a much
// higher ceiling that bounds guessing across many names.
type LoginLimit struct {
	// PerUser is how many failed logins one user name may have from one
	// address in a window (default 10).
	PerUser int
	// PerAddress is how many failed logins one address may have in a
	// window, whatever the names (default 100).
	PerAddress int
	// Window is the length of a window (default 15 minutes).
	Window time.Duration
}

// DefaultLoginLimit is the console's login limit unless WithLoginLimit
// sets another.
var DefaultLoginLimit = LoginLimit{PerUser: 10, PerAddress: 100, Window: 15 * time.Minute}

const (
	// loginSlots is how many password checks run at a time: each argon2id
	// check takes 64 MiB of memory.
	loginSlots = 4
	// loginKeys is how many counts are kept of each kind; when full, the
	// ended windows are dropped, and if none has ended the table starts
	// anew.
	loginKeys = 10000
	// maxNameKey is how much of a user name the count is kept under.
	maxNameKey = 128
)

// loginWindow counts the failures of one key in one window.
type loginWindow struct {
	start time.Time
	n     int
}

// full reports whether the window that holds now has limit failures, and
// when it ends; a window that ended starts anew.
func (w *loginWindow) full(now time.Time, limit int, length time.Duration) (bool, time.Time) {
	if !now.Before(w.start.Add(length)) {
		w.start, w.n = now, 0
	}
	return w.n >= limit, w.start.Add(length)
}

type userAtAddr struct {
	name string
	addr netip.Addr
}

type loginLimiter struct {
	lim   LoginLimit
	mu    sync.Mutex
	users map[userAtAddr]*loginWindow
	addrs map[netip.Addr]*loginWindow
	slots chan struct{}
}

func newLoginLimiter(lim LoginLimit) *loginLimiter {
	d := DefaultLoginLimit
	if lim.PerUser <= 0 {
		lim.PerUser = d.PerUser
	}
	if lim.PerAddress <= 0 {
		lim.PerAddress = d.PerAddress
	}
	if lim.Window <= 0 {
		lim.Window = d.Window
	}
	return &loginLimiter{lim: lim, users: map[userAtAddr]*loginWindow{}, addrs: map[netip.Addr]*loginWindow{},
		slots: make(chan struct{}, loginSlots)}
}

// userKey is the name a user's failures are counted under: the same for
// every spelling of it a login accepts.
func userKey(name string, addr netip.Addr) userAtAddr {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) > maxNameKey {
		name = name[:maxNameKey]
	}
	return userAtAddr{name: name, addr: addr}
}

// begin counts a login of name from addr as failed until succeeded takes
// it back, so that logins running at the same time cannot pass the limit
// together. When a count is full it counts nothing and returns false, the
// time the login may be tried again, and whether the address's count (not
// only the user's) is full.
func (l *loginLimiter) begin(name string, addr netip.Addr, now time.Time) (ok bool, retryAt time.Time, address bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	uw := window(l.users, userKey(name, addr), now, l.lim.Window)
	aw := window(l.addrs, addr, now, l.lim.Window)
	userFull, userEnd := uw.full(now, l.lim.PerUser, l.lim.Window)
	addrFull, addrEnd := aw.full(now, l.lim.PerAddress, l.lim.Window)
	switch {
	case userFull && addrFull:
		return false, later(userEnd, addrEnd), true
	case userFull:
		return false, userEnd, false
	case addrFull:
		return false, addrEnd, true
	}
	uw.n++
	aw.n++
	return true, time.Time{}, false
}

// succeeded takes back the count of a login begun that succeeded, and
// forgets the user's failures from that address.
func (l *loginLimiter) succeeded(name string, addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, userKey(name, addr))
	if aw, ok := l.addrs[addr]; ok && aw.n > 0 {
		aw.n--
	}
}

// window returns the count of key, made when missing; a full table drops
// its ended windows first, or starts anew when none has ended.
func window[K comparable](m map[K]*loginWindow, key K, now time.Time, length time.Duration) *loginWindow {
	if w, ok := m[key]; ok {
		return w
	}
	if len(m) >= loginKeys {
		for k, w := range m {
			if !now.Before(w.start.Add(length)) {
				delete(m, k)
			}
		}
		if len(m) >= loginKeys {
			clear(m)
		}
	}
	w := &loginWindow{start: now}
	m[key] = w
	return w
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
