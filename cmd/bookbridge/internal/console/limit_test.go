package console

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

// TestLoginThrottle: failed logins are counted per user name and address
// together, so that behind one gateway one user's wrong passwords lock out
// only that user; a much higher ceiling holds per address; a throttled
// login is 429 with Retry-After and a page that says when to try again.
// The window is an hour and the test moves the app's clock past it.
func TestLoginThrottle(t *testing.T) {
	h := newSQLiteHarness(t, map[string]string{"BOOKBRIDGE_TRUSTED_PROXIES": "127.0.0.1/32"},
		WithLoginLimit(LoginLimit{PerUser: 3, PerAddress: 8, Window: time.Hour}))
	olga, petra := h.addUser("olga", auth.RoleOperator), h.addUser("petra", auth.RoleViewer)
	try := func(name, password, from string) answer {
		t.Helper()
		c := h.client()
		tok := loginToken.FindStringSubmatch(c.get("/login").body)[1]
		return c.post("/login", url.Values{"name": {name}, "password": {password}, "token": {tok}}, "X-Forwarded-For", from)
	}
	expect := func(what string, a answer, want int) {
		t.Helper()
		if a.status != want {
			t.Fatalf("%s: %d, want %d\n%s", what, a.status, want, a.body)
		}
		if want != http.StatusTooManyRequests {
			return
		}
		secs, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 3600 {
			t.Fatalf("%s: Retry-After %q, want seconds up to the hour's window", what, a.header.Get("Retry-After"))
		}
		if !strings.Contains(a.body, "Try again in ") || !strings.Contains(a.body, `id="login-error"`) || !strings.Contains(a.body, `name="token"`) {
			t.Fatalf("%s: the page does not say when to try again, or lacks the form:\n%s", what, a.body)
		}
	}

	for i := range 3 {
		expect("olga's wrong password "+strconv.Itoa(i+1), try("olga", "guessing wrong", "10.0.0.1"), http.StatusUnauthorized)
	}
	locked := try("Olga", "guessing wrong", "10.0.0.1") // any spelling of the name counts
	expect("olga's 4th try", locked, http.StatusTooManyRequests)
	if !strings.Contains(locked.body, "for this name from your address") || !strings.Contains(locked.body, "Try again in 60 minutes") {
		t.Errorf("olga's 4th try says: %s", loginError(locked.body))
	}
	expect("olga's right password while locked", try("olga", olga, "10.0.0.1"), http.StatusTooManyRequests)
	expect("petra behind the same gateway", try("petra", petra, "10.0.0.1"), http.StatusSeeOther)
	expect("olga from another address", try("olga", "guessing wrong", "10.0.0.2"), http.StatusUnauthorized)

	// The window ends: olga may log in; a success forgets her failures.
	h.clock.set(time.Hour + time.Minute)
	expect("olga after the window", try("olga", olga, "10.0.0.1"), http.StatusSeeOther)
	expect("olga wrong", try("olga", "guessing wrong", "10.0.0.1"), http.StatusUnauthorized)
	expect("olga right", try("olga", olga, "10.0.0.1"), http.StatusSeeOther)
	for i := range 3 {
		expect("olga wrong after a success "+strconv.Itoa(i+1), try("olga", "guessing wrong", "10.0.0.1"), http.StatusUnauthorized)
	}
	expect("olga locked again", try("olga", "guessing wrong", "10.0.0.1"), http.StatusTooManyRequests)

	// The ceiling per address: many names, one wrong password each.
	for i := range 8 {
		expect("name "+strconv.Itoa(i), try("guess"+strconv.Itoa(i), "wrong", "10.0.0.3"), http.StatusUnauthorized)
	}
	ceiling := try("guess-more", "wrong", "10.0.0.3")
	expect("a 9th name from one address", ceiling, http.StatusTooManyRequests)
	if !strings.Contains(ceiling.body, "Too many failed logins from your address") {
		t.Errorf("the ceiling says: %s", loginError(ceiling.body))
	}
	expect("petra from that address", try("petra", petra, "10.0.0.3"), http.StatusTooManyRequests)
	expect("petra from her own", try("petra", petra, "10.0.0.4"), http.StatusSeeOther)
}

func loginError(body string) string {
	_, after, _ := strings.Cut(body, `id="login-error">`)
	msg, _, _ := strings.Cut(after, "<")
	return msg
}

// Logins begun at the same time cannot pass the count together, and the
// tables stay bounded whatever names and addresses are tried.
func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := newLoginLimiter(LoginLimit{PerUser: 10, PerAddress: 15, Window: 15 * time.Minute})
	addr := netip.MustParseAddr("192.0.2.1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 50 {
		wg.Go(func() {
			if ok, _, _ := l.begin("olga", addr, now); ok {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != 10 {
		t.Fatalf("%d of 50 concurrent logins passed, want 10", passed)
	}
	ok, retry, address := l.begin("olga", addr, now.Add(5*time.Minute))
	if ok || address || !retry.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("11th: ok %v, retry %s, address %v; want refused until the window's end", ok, retry, address)
	}
	for i := range 5 {
		if ok, _, _ := l.begin("user"+strconv.Itoa(i), addr, now); !ok {
			t.Fatalf("another name %d was refused before the address's ceiling", i)
		}
	}
	if ok, _, address := l.begin("one-more", addr, now); ok || !address {
		t.Fatalf("past the address's ceiling: ok %v, address %v", ok, address)
	}
	if ok, _, _ := l.begin("olga", addr, now.Add(15*time.Minute)); !ok {
		t.Fatal("refused after the window ended")
	}

	// Far more names and addresses than the tables keep.
	for i := range 3 * loginKeys {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.begin("name"+strconv.Itoa(i), a, now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(l.users) > loginKeys || len(l.addrs) > loginKeys {
		t.Fatalf("tables grew to %d users, %d addresses; at most %d each", len(l.users), len(l.addrs), loginKeys)
	}
}

// TestSlowLoginForm: a login form whose body drips in is answered 408
// once BOOKBRIDGE_READ_TIMEOUT (1 s here) has passed, and the connection
// is closed.
func TestSlowLoginForm(t *testing.T) {
	h := newSQLiteHarness(t, map[string]string{"BOOKBRIDGE_READ_TIMEOUT": "1s"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := "name=olga&password=" + strings.Repeat("x", 100)
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nname=ol",
		strings.TrimPrefix(h.url, "http://"), len(form))
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive in time") {
		t.Fatalf("slow login form: %d\n%s", resp.StatusCode, body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after the 408")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stayed open after the 408 (the read timed out)")
	}
}
