package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// hostileValues are query values (already percent-encoded) that a client
// may send to break a parser or a query: NUL and other control
// characters, bytes that are not UTF-8, SQL and LIKE syntax, numbers out
// of every range, and lengths past every bound.
var hostileValues = []string{
	"%00", "a%00b", "true%00", "%01", "%1B", "%1F", "%7F", "%0A", "%09", "%0D%0A",
	"%FF", "%C3%28", "%ED%A0%80", "%E2%80%AE", "%EF%BB%BF",
	"'", "%27%3B+DROP+TABLE+staging_records%3B+--", "%25", "_", "%5C", "%25%5F%5C",
	"", "-1", "0", "1e9", "99999999999999999999", "0x10", "+1", "NaN", "TRUE", "yes", "1",
	"..%2F..", "%2F%2F", "BB%00", strings.Repeat("x", 10000), strings.Repeat("a+", 99) + "a", strings.Repeat("a+", 3000) + "a", strings.Repeat("%C3%A9", 300),
}

// hostileRoute is an API route with the parameters it reads.
type hostileRoute struct {
	method, path string // path with {id} etc. filled in
	params       []string
	key          string
	ctype        string
	body         string
}

// TestHostileParameters drives every hostile value through every query
// parameter of every API route, and through every path value, on SQLite
// and on Postgres: nothing a client sends may produce a 5xx.
func TestHostileParameters(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		e := startTestServer(t, dbURL, nil)
		if st := e.do("POST", "/api/v1/deals", e.intake, "application/json", must(os.ReadFile(examplePayload)), nil); st != http.StatusCreated {
			t.Fatalf("staging the deal: %d", st)
		}
		var acc apiAnswer
		if st := e.do("POST", "/api/v1/emails", e.intake, "message/rfc822", must(os.ReadFile(exampleEmail)), &acc); st != http.StatusAccepted {
			t.Fatalf("posting the email: %d", st)
		}
		e.waitJob(acc.JobID)
		admin := must(e.p.App.Auth.CreateKey(context.Background(), "admin", auth.RoleAdmin))
		rules := string(must(os.ReadFile("../../examples/mappings/reference.yaml")))
		before := must(e.p.App.Store.GetByNumber(context.Background(), "BB0001001"))

		routes := []hostileRoute{
			{method: "POST", path: "/api/v1/deals", params: []string{"x"}, key: e.intake, ctype: "application/json", body: "{}"},
			{method: "POST", path: "/api/v1/emails", params: []string{"x"}, key: e.intake, ctype: "message/rfc822", body: "Subject: x\r\n\r\nx"},
			{method: "GET", path: "/api/v1/records", params: []string{"state", "q", "waiting_longer_than", "limit", "cursor"}, key: e.operator},
			{method: "GET", path: "/api/v1/records/{id}", params: []string{"x"}, key: e.operator},
			{method: "GET", path: "/api/v1/records/{id}/attachments/{attachment}", params: []string{"download"}, key: e.operator},
			{method: "POST", path: "/api/v1/records/{id}/load", params: []string{"dry_run", "reload"}, key: e.operator},
			{method: "POST", path: "/api/v1/records/{id}/load/retry-now", params: []string{"x"}, key: e.operator},
			{method: "POST", path: "/api/v1/records/{id}/load/stop", params: []string{"x"}, key: e.operator},
			{method: "POST", path: "/api/v1/loads/retry", params: []string{"x"}, key: e.operator, ctype: "application/json", body: `{"dry_run": true}`},
			{method: "POST", path: "/api/v1/loads/reload", params: []string{"dry_run", "name"}, key: e.operator, ctype: "application/yaml", body: rules},
			{method: "POST", path: "/api/v1/loads/reload", params: []string{"dry_run"}, key: e.operator, ctype: "application/json", body: `{"records": ["BB0001001"], "dry_run": true}`},
			{method: "POST", path: "/api/v1/mapping/impact", params: []string{"state", "now", "against_last_load", "name"}, key: admin, ctype: "application/yaml", body: rules},
			{method: "GET", path: "/api/v1/jobs/{job}", params: []string{"x"}, key: e.operator},
			{method: "POST", path: "/api/v1/reconcile", params: []string{"x"}, key: e.operator, ctype: "application/json", body: `{"records": ["BB0001001"]}`},
			{method: "POST", path: "/api/v1/records/{id}/drift/ack", params: []string{"x"}, key: e.operator},
		}
		fill := func(path, id, att, job string) string {
			return strings.NewReplacer("{id}", id, "{attachment}", att, "{job}", job).Replace(path)
		}
		send := func(method, target, key, ctype, body string) (int, string) {
			req, err := http.NewRequest(method, e.base+target, strings.NewReader(body))
			if err != nil {
				t.Fatalf("%s %s: %v", method, target, err)
			}
			req.Header.Set("X-API-Key", key)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, target, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
			return resp.StatusCode, string(b)
		}
		job := itoa(acc.JobID)
		sent, refused, failed := 0, 0, 0
		check := func(method, target string, r hostileRoute) {
			st, body := send(method, target, r.key, r.ctype, r.body)
			sent++
			if st == http.StatusBadRequest {
				refused++
			}
			if st >= 500 {
				failed++
				short := target
				if len(short) > 200 {
					short = short[:200] + "..."
				}
				t.Errorf("%s %s: %d %s", method, short, st, body)
			}
		}
		for _, r := range routes {
			base := fill(r.path, "BB0001001", "1", job)
			for _, p := range r.params {
				for _, v := range hostileValues {
					check(r.method, base+"?"+p+"="+v, r)
				}
			}
			// Hostile names too, and every path value in turn.
			check(r.method, base+"?%00=1", r)
			for _, v := range hostileValues {
				if !strings.Contains(r.path, "{") {
					break
				}
				for _, slot := range []string{"{id}", "{attachment}", "{job}"} {
					// "1" and "+1" name the record (id 1): not hostile there.
					if !strings.Contains(r.path, slot) || v == "" || v == "1" || v == "+1" {
						continue
					}
					vals := map[string]string{"{id}": "BB0001001", "{attachment}": "1", "{job}": job}
					vals[slot] = v
					check(r.method, fill(r.path, vals["{id}"], vals["{attachment}"], vals["{job}"]), r)
				}
			}
		}
		if refused == 0 || refused == sent {
			t.Errorf("%d of %d hostile requests were refused with 400: the test does not reach the handlers as intended", refused, sent)
		}
		// No hostile request loaded or changed the record.
		after := must(e.p.App.Store.GetByNumber(context.Background(), "BB0001001"))
		if after.State != before.State || after.State == staging.StateLoaded {
			t.Errorf("the record went from %s to %s", before.State, after.State)
		}
		t.Logf("%d hostile requests, %d refused with 400, %d answered 5xx", sent, refused, failed)
	})
}
