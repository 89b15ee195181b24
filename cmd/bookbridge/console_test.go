package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeMountsConsole runs "bookbridge serve" and logs in to its
// console with a user made by "bookbridge user add".
func TestServeMountsConsole(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "bookbridge.db")
	env := map[string]string{
		"BOOKBRIDGE_DATABASE_URL": db,
		"BOOKBRIDGE_LISTEN":       "127.0.0.1:0",
		"BOOKBRIDGE_TARGET":       "sql",
		"BOOKBRIDGE_TARGET_URL":   filepath.Join(dir, "target.db"),
	}
	migrated(t, db)
	if _, errOut, code := runWithDB(t, db, "an operator's password\n", "user", "add", "olga", "--role", "operator"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60s")
		}
	})
	addr := regexp.MustCompile(`http=(127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == "" && time.Now().Before(deadline); {
		if m := addr.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if base == "" {
		t.Fatalf("serve did not report its address:\n%s", logs.String())
	}

	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/records")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET /records: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = noRedirect.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || token == nil || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /login: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	form := url.Values{"name": {"olga"}, "password": {"an operator's password"}, "token": {string(token[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range resp.Cookies() {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "__Host-bookbridge_session=") {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}
