package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// stallProxy forwards loopback connections to Postgres until stalled;
// then it forwards nothing more, as a frozen database server answers.
type stallProxy struct {
	addr    string
	mu      sync.Mutex
	stalled chan struct{} // closed while stalled
	done    chan struct{} // closed when the test ends
}

func startStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{addr: ln.Addr().String(), stalled: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); close(p.done) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	return p
}

func (p *stallProxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		p.mu.Lock()
		stalled := p.stalled
		p.mu.Unlock()
		select {
		case <-stalled:
			<-p.done // frozen: nothing is forwarded again
			return
		default:
		}
		if n > 0 {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			to.Close()
			return
		}
	}
}

func (p *stallProxy) stall() { close(p.stalled) }

// /readyz answers 503 within 2 s when the database stops answering, and a
// graceful shutdown that runs out of its deadline cuts off the requests
// still running, logs how many and returns an error (serve then exits
// non-zero).
func TestReadyzAndShutdownWhenTheDatabaseHangs(t *testing.T) {
	u, err := url.Parse(dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startStallProxy(t, u.Host)
	u.Host = proxy.addr
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedBuffer{&mu, &logs}, nil))
	cfg := testConfig(t, map[string]string{"BOOKBRIDGE_DATABASE_URL": u.String(), "BOOKBRIDGE_LISTEN": "127.0.0.1:0"})
	ctx := context.Background()
	p, err := startProcess(ctx, cfg, app.Options{Logger: log}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.App.Auth.CreateKey(ctx, "salesforce", auth.RoleIntake)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + p.Addr
	client := &http.Client{Timeout: 2 * time.Second} // the probe's bound
	get := func() int {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("/readyz before the database hangs: %d", got)
	}

	proxy.stall()
	if got := get(); got != 503 {
		t.Fatalf("/readyz while the database hangs: %d, want 503", got)
	}

	// A deal posted now hangs with the database; the shutdown's deadline
	// cuts it off.
	payload, err := os.ReadFile(examplePayload)
	if err != nil {
		t.Fatal(err)
	}
	posted := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/api/v1/deals", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		posted <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); p.inFlight.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the deal was not being served within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = p.Shutdown(sctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 request(s) still running were cut off") {
		t.Fatalf("Shutdown past its deadline: %v", err)
	}
	select {
	case <-posted: // the cut-off request's connection was closed
	case <-time.After(10 * time.Second):
		t.Fatal("the cut-off request's connection stayed open")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "requests_cut_off=1") {
		t.Fatalf("the log does not say how many requests were cut off:\n%s", logs.String())
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
