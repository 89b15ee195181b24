package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoAndCLIFlow runs the README's main-job command (bookbridge demo)
// and then the flow through the command line against its embedded SQLite
// database: send the deal again (duplicate), ingest the email again
// (duplicate), dry-run, load, and load again (refused: nothing changes).
func TestDemoAndCLIFlow(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"BOOKBRIDGE_LISTEN": "127.0.0.1:0"}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--dir", dir}, getenv, strings.NewReader(""), &out, &errb)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C to stop.") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("demo did not start in 90s:\n%s\n%s", out.String(), errb.String())
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended early: %v\n%s\n%s", err, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	text := out.String()
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("demo output lacks %s:\n%s", re, text)
		}
		return m[1]
	}
	url := find(`running at (http://[0-9.:]+)/`)
	intakeKey := find(`API key \(intake\):\s+(bbk_\w+)`)
	find(`console login:\s+(demo / \w+)`)
	ready := find(`(BB\d{7})\s+ready\s+Müller`)
	find(`(BB\d{7})\s+received\s+Nordlicht`)
	find(`(BB\d{7})\s+waiting_for_payload`)

	// The CLI works on the demo's database.
	cliEnv := map[string]string{
		"BOOKBRIDGE_DATABASE_URL": filepath.Join(dir, "bookbridge-demo.db"),
		"BOOKBRIDGE_TARGET":       "sql",
		"BOOKBRIDGE_TARGET_URL":   filepath.Join(dir, "bookbridge-demo-target.db"),
	}
	cli := func(args ...string) (string, int) {
		var o, e bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return cliEnv[k] }, strings.NewReader(""), &o, &e)
		if err != nil {
			e.WriteString(err.Error())
		}
		return o.String() + e.String(), exitCode(err)
	}
	if got, code := cli("validate", examplePayload); code != 0 {
		t.Fatalf("validate: %d %s", code, got)
	}
	if got, code := cli("send", "--url", url+"/api/v1/deals", "--key", intakeKey, examplePayload); code != 0 || !strings.Contains(got, `"outcome": "duplicate"`) {
		t.Fatalf("send again: %d %s", code, got)
	}
	if got, code := cli("ingest", exampleEmail); code != 0 || !strings.Contains(got, "duplicate") {
		t.Fatalf("ingest again: %d %s", code, got)
	}
	got, code := cli("load", "--dry-run", ready)
	if code != 0 || !strings.Contains(got, "core_company") || !strings.Contains(got, "insert") {
		t.Fatalf("dry run: %d %s", code, got)
	}
	if got, code := cli("load", ready); code != 0 || !strings.Contains(got, ready+": loaded") || !strings.Contains(got, "inserted") {
		t.Fatalf("load: %d %s", code, got)
	}
	if got, code := cli("load", ready); code != exitInvalid || !strings.Contains(got, "loaded") {
		t.Fatalf("load again should be refused: %d %s", code, got)
	}
	got, code = cli("load", "--dry-run", ready)
	if code != 0 || strings.Contains(got, "insert") || strings.Contains(got, "update") {
		t.Fatalf("dry run after the load should change nothing: %d %s", code, got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v\n%s", err, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not stop in 60s after its context ended")
	}
}
