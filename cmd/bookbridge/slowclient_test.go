package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// dripAnswer is what a dripping client saw.
type dripAnswer struct {
	status  int
	code    string
	closed  bool // the server closed the connection after the answer
	elapsed time.Duration
	sent    int // body bytes written before the answer came
}

// drip sends a request over a raw TCP connection: the headers at once
// (announcing the whole body), then the body from its first byte held
// back by pause, after which it goes one byte every gap. It reads the
// answer, and then whether the server closed the connection, waiting at
// most 10 s for either.
func drip(t *testing.T, addr, method, path string, header http.Header, body []byte, pause, gap time.Duration) dripAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, addr, len(body))
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	start := time.Now()
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	wg.Go(func() {
		select {
		case <-time.After(pause):
		case <-stop:
			return
		}
		for i := range body {
			if gap == 0 {
				if _, err := conn.Write(body[i:]); err == nil {
					mu.Lock()
					sent = len(body)
					mu.Unlock()
				}
				return
			}
			if _, err := conn.Write(body[i : i+1]); err != nil {
				return
			}
			mu.Lock()
			sent++
			mu.Unlock()
			select {
			case <-time.After(gap):
			case <-stop:
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the answer's body: %v", method, path, err)
	}
	ans := dripAnswer{status: resp.StatusCode, elapsed: time.Since(start)}
	mu.Lock()
	ans.sent = sent
	mu.Unlock()
	var eb struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(b, &eb) == nil {
		ans.code = eb.Code
	}
	// A closed connection reads as EOF or a reset; an open one times out.
	if err := conn.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = br.ReadByte()
	var ne net.Error
	ans.closed = err != nil && !(errors.As(err, &ne) && ne.Timeout())
	return ans
}

// TestSlowBody: with BOOKBRIDGE_READ_TIMEOUT compressed to 1 s, a deal
// whose body drips in a byte at a time is answered 408 once the second
// has passed, and its connection is closed; the same deal sent whole
// after a short pause is staged. Each route that reads a body answers a
// dripping one the same way.
func TestSlowBody(t *testing.T) {
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{"BOOKBRIDGE_READ_TIMEOUT": "1s"})
	payload := must(os.ReadFile(examplePayload))
	hdr := func(key, ctype string) http.Header {
		return http.Header{"X-Api-Key": {key}, "Content-Type": {ctype}}
	}

	slow := drip(t, e.p.Addr, "POST", "/api/v1/deals", hdr(e.intake, "application/json"), payload, 0, 100*time.Millisecond)
	if slow.status != http.StatusRequestTimeout || slow.code != "timeout" || !slow.closed {
		t.Fatalf("dripping deal: %+v, want 408 timeout and a closed connection", slow)
	}
	if slow.elapsed < time.Second || slow.elapsed > 8*time.Second || slow.sent >= len(payload) {
		t.Errorf("dripping deal answered after %s with %d of %d bytes sent, want after the 1s timeout and before the body was in",
			slow.elapsed, slow.sent, len(payload))
	}
	whole := drip(t, e.p.Addr, "POST", "/api/v1/deals", hdr(e.intake, "application/json"), payload, 200*time.Millisecond, 0)
	if whole.status != http.StatusCreated {
		t.Fatalf("deal after a short pause: %+v, want 201", whole)
	}

	for _, c := range []struct{ path, ctype, body string }{
		{"/api/v1/emails", "message/rfc822", "Subject: To Be Provisioned - ACME 0123456789\r\n\r\nECC ID: 1\r\n"},
		{"/api/v1/loads/retry", "application/json", `{"dry_run": true}`},
		{"/api/v1/loads/reload", "application/json", `{"records": ["BB0001001"], "dry_run": true}`},
		{"/api/v1/reconcile", "application/json", `{"records": ["BB0001001"]}`},
	} {
		key := e.operator
		if c.path == "/api/v1/emails" {
			key = e.intake
		}
		a := drip(t, e.p.Addr, "POST", c.path, hdr(key, c.ctype), []byte(c.body+strings.Repeat(" ", 40)), 0, 100*time.Millisecond)
		if a.status != http.StatusRequestTimeout || a.code != "timeout" || !a.closed {
			t.Errorf("POST %s dripping: %+v, want 408 timeout and a closed connection", c.path, a)
		}
	}
}
