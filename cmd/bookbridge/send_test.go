package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeIntake answers with the given statuses in turn and records requests.
type fakeIntake struct {
	mu       sync.Mutex
	statuses []int
	retry    string
	seen     []time.Time
	bodies   [][]byte
	keys     []string
}

func (f *fakeIntake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	f.seen = append(f.seen, time.Now())
	f.bodies = append(f.bodies, b)
	f.keys = append(f.keys, r.Header.Get("X-API-Key"))
	status := f.statuses[min(len(f.seen)-1, len(f.statuses)-1)]
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", f.retry)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"status":"x"}`))
}

func TestSendCommand(t *testing.T) {
	payload := "../../examples/payloads/deal-full.json"
	cases := []struct {
		name     string
		statuses []int
		code     int
		attempts int
	}{
		{"created", []int{201}, 0, 1},
		{"duplicate", []int{200}, 0, 1},
		{"stale is done", []int{409}, 0, 1},
		{"invalid, no retry", []int{422}, 1, 1},
		{"unauthorized, no retry", []int{401}, 2, 1},
		{"503 then created", []int{503, 503, 201}, 0, 3},
		{"always 502", []int{502}, 2, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeIntake{statuses: c.statuses, retry: "0"}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{"send", "--url", srv.URL, "--tries", "3", "--key", "bbk_test", payload},
				func(string) string { return "" }, strings.NewReader(""), &out, &errb)
			if got := exitCode(err); got != c.code {
				t.Fatalf("exit %d, want %d (%v)\n%s%s", got, c.code, err, out.String(), errb.String())
			}
			if len(f.seen) != c.attempts {
				t.Fatalf("%d attempts, want %d", len(f.seen), c.attempts)
			}
			if f.keys[0] != "bbk_test" || !bytes.Contains(f.bodies[0], []byte("DR00004711")) {
				t.Fatal("payload or key not sent")
			}
		})
	}
}

func TestSendHonoursRetryAfter(t *testing.T) {
	f := &fakeIntake{statuses: []int{429, 201}, retry: "1"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	out, err := sendPayload(context.Background(), srv.Client(), srv.URL, "k", []byte(`{}`), 3, 5*time.Second, nil)
	if err != nil || out.Status != 201 {
		t.Fatalf("%v %+v", err, out)
	}
	if gap := f.seen[1].Sub(f.seen[0]); gap < time.Second {
		t.Fatalf("second attempt after %s, before the 1s Retry-After", gap)
	}
}

func TestSendNeedsKey(t *testing.T) {
	_, _, code := runCLI(t, "send", "../../examples/payloads/deal-full.json")
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
}
