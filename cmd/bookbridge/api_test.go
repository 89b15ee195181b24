package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

type apiError struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Problems  []struct {
		Path, Rule, Message string
	} `json:"problems"`
}

// TestDealAnswers checks every documented answer of POST /api/v1/deals.
func TestDealAnswers(t *testing.T) {
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{"BOOKBRIDGE_MAX_BODY_BYTES": "100000"})
	payload := must(os.ReadFile(examplePayload))
	invalid := must(os.ReadFile("../../examples/payloads/invalid-many-problems.json"))
	newer := bytes.Replace(payload, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`), []byte(`"LastModifiedDate": "2026-11-28T10:00:00.000+0000"`), 1)
	adminKey := must(e.p.App.Auth.CreateKey(context.Background(), "root", auth.RoleAdmin))
	cases := []struct {
		name   string
		key    string
		ctype  string
		body   []byte
		status int
		code   string
	}{
		{"no key", "", "application/json", payload, 401, "unauthorized"},
		{"wrong key", "bbk_wrong", "application/json", payload, 401, "unauthorized"},
		{"wrong type", e.intake, "text/plain", payload, 415, "unsupported_media_type"},
		{"no type", e.intake, "", payload, 415, "unsupported_media_type"},
		{"too large", e.intake, "application/json", bytes.Repeat([]byte(" "), 100001), 413, "too_large"},
		{"not json", e.intake, "application/json", []byte(`{"Id": `), 400, "bad_request"},
		{"duplicate keys", e.intake, "application/json", []byte(`{"Id":"a","Id":"b"}`), 400, "bad_request"},
		{"not an object", e.intake, "application/json", []byte(`[1]`), 400, "bad_request"},
		{"invalid utf-8", e.intake, "application/json", []byte("{\"Name\":\"\xff\"}"), 400, "bad_request"},
		{"invalid deal", e.intake, "application/json", invalid, 422, "invalid"},
		{"created", e.intake, "application/json; charset=utf-8", newer, 201, ""},
		{"duplicate", e.intake, "application/json", newer, 200, ""},
		{"stale", e.intake, "application/json", payload, 409, ""},
		{"admin key may post", adminKey, "application/json", newer, 200, ""},
	}
	for _, c := range cases {
		var body apiError
		status := e.do("POST", "/api/v1/deals", c.key, c.ctype, c.body, &body)
		if status != c.status || body.Code != c.code {
			t.Errorf("%s: %d %q, want %d %q (%s)", c.name, status, body.Code, c.status, c.code, body.Error)
		}
		if c.code != "" && (body.Error == "" || body.RequestID == "") {
			t.Errorf("%s: error body lacks a message or request id: %+v", c.name, body)
		}
		if c.code == "invalid" && len(body.Problems) != 4 {
			t.Errorf("%s: want the 4 problems, got %+v", c.name, body.Problems)
		}
	}
	// An intake key cannot read; an operator key can.
	var page struct{ Records []any }
	if status := e.do("GET", "/api/v1/records", e.intake, "", nil, &apiError{}); status != 403 {
		t.Errorf("intake key reading records: %d", status)
	}
	if status := e.do("GET", "/api/v1/records", e.operator, "", nil, &page); status != 200 || len(page.Records) != 1 {
		t.Errorf("operator listing: %d %+v", status, page)
	}
	if status := e.do("GET", "/api/v1/records/BB9999999", e.operator, "", nil, &apiError{}); status != 404 {
		t.Errorf("unknown record: %d", status)
	}
	// The metrics count the outcomes.
	resp := must(e.client.Get(e.base + "/metrics"))
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`bookbridge_intake_total{outcome="created"} 1`, `bookbridge_intake_total{outcome="invalid"} 5`,
		`bookbridge_intake_total{outcome="stale"} 1`, `bookbridge_intake_total{outcome="duplicate"} 2`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/api/openapi.yaml"} {
		resp := must(e.client.Get(e.base + path))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// TestAllowlistThroughTrustedProxy: the caller's address comes from
// X-Forwarded-For only when the connection is from a trusted proxy.
func TestAllowlistThroughTrustedProxy(t *testing.T) {
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{
		"BOOKBRIDGE_ALLOWED_IPS": "10.0.0.0/8", "BOOKBRIDGE_TRUSTED_PROXIES": "127.0.0.1",
	})
	payload := must(os.ReadFile(examplePayload))
	post := func(xff string) int {
		req := must(http.NewRequest("POST", e.base+"/api/v1/deals", bytes.NewReader(payload)))
		req.Header.Set("X-API-Key", e.intake)
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp := must(e.client.Do(req))
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != 403 {
		t.Errorf("the proxy itself is not allowed: %d", got)
	}
	if got := post("192.0.2.9"); got != 403 {
		t.Errorf("client outside the allowlist: %d", got)
	}
	if got := post("10.9.8.7, 192.0.2.9"); got != 403 {
		t.Errorf("an allowed address forged before the real one: %d", got)
	}
	if got := post("10.1.2.3"); got != 201 {
		t.Errorf("allowed client through the proxy: %d", got)
	}
}

// TestIntakeSurvivesDisconnect: a request whose client is gone (its context
// cancelled) still completes the write it began.
func TestIntakeSurvivesDisconnect(t *testing.T) {
	e := startTestServer(t, dbtest.SQLiteURL(t), nil)
	h := server.New(e.p.App).Handler()
	ctx, cancel := context.WithCancel(context.Background())
	// The client goes away right after its last byte is read.
	body := &cancelAtEOF{r: bytes.NewReader(must(os.ReadFile(examplePayload))), cancel: cancel}
	req := httptest.NewRequest("POST", "/api/v1/deals", body).WithContext(ctx)
	req.Header.Set("X-API-Key", e.intake)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ctx.Err() == nil {
		t.Fatal("the request context was not cancelled during the request")
	}
	if rec.Code != 201 {
		t.Fatalf("intake with a cancelled context: %d %s", rec.Code, rec.Body.String())
	}
	page, err := e.p.App.Store.List(context.Background(), stagingFilterAll())
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("records after a disconnect: %v %d", err, len(page.Records))
	}
}

func stagingFilterAll() staging.Filter { return staging.Filter{} }

// cancelAtEOF cancels a context when its reader is exhausted.
type cancelAtEOF struct {
	r      io.Reader
	cancel func()
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}

// The server reads deals into buffers it reuses once a deal is answered.
// Deals posted at once, valid and invalid mixed, must each be stored byte
// for byte as posted: a buffer reused too early would store another deal's
// bytes. On Postgres the deals also share batches.
func TestConcurrentDealsStoredAsPosted(t *testing.T) {
	e := startTestServer(t, dbtest.PostgresURL(t), map[string]string{"BOOKBRIDGE_LOG_LEVEL": "warn"})
	base := must(os.ReadFile(examplePayload))
	invalid := must(os.ReadFile("../../examples/payloads/invalid-many-problems.json"))
	const workers, each = 8, 12
	type posted struct {
		sfID string
		body []byte
	}
	var (
		mu   sync.Mutex
		sent []posted
		errs []string
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				body, status := invalid, 422
				var sfID string
				if i%3 != 2 {
					id15 := fmt.Sprintf("006BC%010d", n)
					sfID = id15 + sfdc.IDChecksum(id15)
					body = bytes.ReplaceAll(base, []byte("006Dn00000AbCdEIAV"), []byte(sfID))
					body = bytes.Replace(body, []byte(`"0001234567"`), []byte(fmt.Sprintf(`"7%09d"`, n)), 1)
					status = 201
				}
				req, _ := http.NewRequest("POST", e.base+"/api/v1/deals", bytes.NewReader(body))
				req.Header.Set("X-API-Key", e.intake)
				req.Header.Set("Content-Type", "application/json")
				resp, err := e.client.Do(req)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err.Error())
				case resp.StatusCode != status:
					errs = append(errs, fmt.Sprintf("deal %d: status %d, want %d", n, resp.StatusCode, status))
				case sfID != "":
					sent = append(sent, posted{sfID, body})
				}
				mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d failures, first: %s", len(errs), errs[0])
	}
	if len(sent) != workers*each*2/3 {
		t.Fatalf("%d deals created", len(sent))
	}
	for _, p := range sent {
		r, err := e.p.App.Store.GetBySalesforceID(context.Background(), p.sfID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Payload.Raw, p.body) {
			t.Fatalf("%s: stored payload differs from the one posted", p.sfID)
		}
	}
}

// TestStrictParameters: a dry run asked for with anything but true is
// refused and starts nothing; a path under /api/ with an empty segment is
// 404 JSON, not a redirect.
func TestStrictParameters(t *testing.T) {
	e := startTestServer(t, dbtest.SQLiteURL(t), nil)
	if st := e.do("POST", "/api/v1/deals", e.intake, "application/json", must(os.ReadFile(examplePayload)), nil); st != http.StatusCreated {
		t.Fatalf("staging the deal: %d", st)
	}
	for _, q := range []string{"dry_run=yes", "dry_run=1", "dry_run=", "dry_run=true&dry_run=true", "dryrun=true", "dry_run=true&force=1"} {
		var ans apiError
		if st := e.do("POST", "/api/v1/records/BB0001001/load?"+q, e.operator, "", nil, &ans); st != http.StatusBadRequest || ans.Code != "bad_request" {
			t.Errorf("load?%s: %d %+v, want 400 bad_request", q, st, ans)
		}
	}
	rec := must(e.p.App.Store.GetByNumber(context.Background(), "BB0001001"))
	if job := must(e.p.App.Flow.LoadJobOf(context.Background(), rec.ID)); job != nil {
		t.Fatalf("a refused request started load job %d", job.ID)
	}
	if st := e.do("POST", "/api/v1/records/BB0001001/load?dry_run=true&reload=false", e.operator, "", nil, nil); st != http.StatusOK {
		t.Errorf("dry_run=true&reload=false: %d, want 200 (the preview)", st)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/api/v1/records//load", "/api//v1/records", "/api/v1/records/BB0001001/./load", "/api/v1/records/BB0001001/load/..", "/api"} {
		req := must(http.NewRequest("POST", e.base+path, nil))
		req.Header.Set("X-API-Key", e.operator)
		resp := must(noRedirect.Do(req))
		var body apiError
		err := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || err != nil || body.Code != "not_found" || resp.Header.Get("Location") != "" {
			t.Errorf("POST %s: %d %q (%v), Location %q; want 404 not_found JSON", path, resp.StatusCode, body.Code, err, resp.Header.Get("Location"))
		}
	}
}
