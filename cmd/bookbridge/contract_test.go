package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// openAPIDoc is the part of openapi.yaml the contract test reads.
type openAPIDoc struct {
	Paths      map[string]map[string]struct{ Responses map[string]any } `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Enum []string `yaml:"enum"`
			} `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

// seenAnswer is one answer the test got: the operation, its status and
// the error code of its body (empty for a success).
type seenAnswer struct {
	method, path string
	status       int
	code         string
}

// TestAPIAnswersAreDocumented drives every route of the API into each of
// its answers and checks that every status is listed for its operation in
// openapi.yaml and every error code in the Error schema's enum, and that
// every code of the enum was answered somewhere.
func TestAPIAnswersAreDocumented(t *testing.T) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(must(os.ReadFile("internal/server/openapi.yaml")), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	codes := doc.Components.Schemas["Error"].Properties["code"].Enum
	if len(codes) == 0 {
		t.Fatal("openapi.yaml: the Error schema lists no codes")
	}

	// A rule file whose plan fails for the sample deal (its name is no date).
	ref := string(must(os.ReadFile("../../examples/mappings/reference.yaml")))
	broken := strings.Replace(ref, "parseDate(sfdc.Service_Commence_Date__c)", "parseDate(sfdc.Name)", 1)
	if broken == ref {
		t.Fatal("reference.yaml no longer has the expression this test breaks")
	}
	rules := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(rules, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}

	var seen []seenAnswer
	drive := func(e *testEnv, method, path, route, key, ctype string, body []byte) *apiAnswer {
		t.Helper()
		var out apiAnswer
		status := e.do(method, path, key, ctype, body, &out)
		seen = append(seen, seenAnswer{method, route, status, out.Code})
		return &out
	}

	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{"BOOKBRIDGE_MAX_BODY_BYTES": "100000",
		"BOOKBRIDGE_LOAD_RETRY_MAX_DELAY": "1h"})
	payload := must(os.ReadFile(examplePayload))
	email := must(os.ReadFile(exampleEmail))
	const deals, emails = "/api/v1/deals", "/api/v1/emails"
	for _, c := range []struct {
		key, ctype string
		body       []byte
	}{
		{"", "application/json", payload}, {e.intake, "text/plain", payload}, {e.intake, "application/json", bytes.Repeat([]byte(" "), 100001)},
		{e.intake, "application/json", []byte(`{"Id": `)}, {e.intake, "application/json", must(os.ReadFile("../../examples/payloads/invalid-many-problems.json"))},
		{e.intake, "application/json", payload}, {e.intake, "application/json", payload},
		{e.intake, "application/json", bytes.Replace(payload, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`), []byte(`"LastModifiedDate": "2026-11-26T10:00:00.000+0000"`), 1)},
	} {
		drive(e, "POST", deals, deals, c.key, c.ctype, c.body)
	}
	drive(e, "POST", emails, emails, "", "message/rfc822", email)
	drive(e, "POST", emails, emails, e.intake, "text/plain", email)
	drive(e, "POST", emails, emails, e.intake, "message/rfc822", bytes.Repeat([]byte("x"), 100001))
	acc := drive(e, "POST", emails, emails, e.intake, "message/rfc822", email)
	drive(e, "POST", emails, emails, e.intake, "message/rfc822", email)
	e.waitJob(acc.JobID)

	const list, one = "/api/v1/records", "/api/v1/records/{id}"
	drive(e, "GET", list, list, e.operator, "", nil)
	drive(e, "GET", list+"?state=nonsense", list, e.operator, "", nil)
	drive(e, "GET", list, list, e.intake, "", nil)
	drive(e, "GET", list, list, "bbk_unknown", "", nil)
	drive(e, "GET", list+"/BB0001001", one, e.operator, "", nil)
	drive(e, "GET", list+"/BB9999999", one, e.operator, "", nil)
	drive(e, "GET", list+"/BB0001001/attachments/999", one+"/attachments/{attachment}", e.operator, "", nil)

	const load, job = "/api/v1/records/{id}/load", "/api/v1/jobs/{id}"
	drive(e, "POST", "/api/v1/records/BB0001001/load?dry_run=true", load, e.operator, "", nil)
	drive(e, "POST", "/api/v1/records/BB9999999/load", load, e.operator, "", nil)
	// An email without its deal: nothing to plan.
	other := bytes.ReplaceAll(email, []byte("0001234567"), []byte("0009999999"))
	other = bytes.ReplaceAll(other, []byte("Message-ID: <"), []byte("Message-ID: <other-"))
	e.waitJob(drive(e, "POST", emails, emails, e.intake, "message/rfc822", other).JobID)
	drive(e, "POST", "/api/v1/records/BB0001002/load?dry_run=true", load, e.operator, "", nil)
	// The target refuses: a permanent failure of the dry run.
	e.sn.SetForbidden(true)
	drive(e, "POST", "/api/v1/records/BB0001001/load?dry_run=true", load, e.operator, "", nil)
	e.sn.SetForbidden(false)
	// ServiceNow is down: the load retries (the next try an hour away).
	e.sn.Down()
	started := drive(e, "POST", "/api/v1/records/BB0001001/load", load, e.operator, "", nil)
	drive(e, "POST", "/api/v1/records/BB0001001/load", load, e.operator, "", nil)
	waitFor(t, 30*time.Second, func() bool {
		r := must(e.p.App.Store.GetByNumber(context.Background(), "BB0001001"))
		return r.Load.Retrying()
	})
	drive(e, "GET", "/api/v1/jobs/"+strconv.FormatInt(started.JobID, 10), job, e.operator, "", nil)
	drive(e, "GET", "/api/v1/jobs/99999", job, e.operator, "", nil)
	if err := e.sn.Up(); err != nil {
		t.Fatal(err)
	}
	drive(e, "POST", "/api/v1/records/BB0001001/load/retry-now", load+"/retry-now", e.operator, "", nil)
	drive(e, "POST", "/api/v1/records/BB0001002/load/retry-now", load+"/retry-now", e.operator, "", nil)
	drive(e, "POST", "/api/v1/records/BB0001002/load/stop", load+"/stop", e.operator, "", nil)
	e.waitJob(started.JobID)
	if r := must(e.p.App.Store.GetByNumber(context.Background(), "BB0001001")); r.State != staging.StateLoaded {
		t.Fatalf("BB0001001 is %s after its load, want loaded", r.State)
	}

	// The impact of a rule change (admin) and reloads with the rules in use.
	admin := must(e.p.App.Auth.CreateKey(context.Background(), "admin", auth.RoleAdmin))
	next := must(os.ReadFile("../../examples/mappings/reference-next.yaml"))
	const impact, bulk = "/api/v1/mapping/impact", "/api/v1/loads/reload"
	drive(e, "POST", impact, impact, admin, "application/yaml", next)
	drive(e, "POST", impact, impact, e.operator, "application/yaml", next)
	drive(e, "POST", impact+"?state=nonsense", impact, admin, "application/yaml", next)
	drive(e, "POST", impact, impact, admin, "application/json", next)
	drive(e, "POST", impact, impact, admin, "text/yaml", bytes.Repeat([]byte("#"), 100001))
	drive(e, "POST", impact, impact, admin, "text/plain", []byte("version: 1\nsteps: [\n"))
	drive(e, "POST", "/api/v1/records/BB0001001/load?reload=true&dry_run=true", load, e.operator, "", nil)
	drive(e, "POST", "/api/v1/records/BB0001001/load?reload=maybe", load, e.operator, "", nil)
	drive(e, "POST", bulk, bulk, e.operator, "application/json", []byte(`{"records": ["BB0001001"], "dry_run": true}`))
	drive(e, "POST", bulk, bulk, e.operator, "application/json", []byte(`{"records": ["BB9999999"]}`))
	drive(e, "POST", bulk, bulk, e.operator, "application/json", []byte(`{"record": "BB0001001"}`))
	drive(e, "POST", bulk, bulk, e.operator, "text/html", next)
	drive(e, "POST", bulk+"?dry_run=true", bulk, e.operator, "application/yaml", next)
	drive(e, "POST", bulk+"?dry_run=true", bulk, e.operator, "application/yaml", []byte("version: 1\nsteps: [\n"))
	drive(e, "POST", bulk+"?dry_run=true", bulk, e.operator, "application/yaml", must(os.ReadFile("../../examples/mappings/reference.yaml")))
	reloaded := drive(e, "POST", "/api/v1/records/BB0001001/load?reload=true", load, e.operator, "", nil)
	e.waitJob(reloaded.JobID)
	var many struct {
		Records []struct {
			JobID int64 `json:"job_id"`
		} `json:"records"`
	}
	if st := e.do("POST", bulk, e.operator, "application/json", []byte(`{"records": ["BB0001001"]}`), &many); st != http.StatusAccepted || len(many.Records) != 1 || many.Records[0].JobID == 0 {
		t.Fatalf("bulk reload: %d %+v", st, many)
	}
	seen = append(seen, seenAnswer{"POST", bulk, http.StatusAccepted, ""})
	e.waitJob(many.Records[0].JobID)

	// BB0001001 is loaded and in sync: nothing to acknowledge.
	const ack = "/api/v1/records/{id}/drift/ack"
	drive(e, "POST", "/api/v1/records/BB0001001/drift/ack", ack, e.operator, "", nil)

	const retry = "/api/v1/loads/retry"
	drive(e, "POST", retry, retry, e.operator, "application/json", []byte(`{"dry_run": true}`))
	drive(e, "POST", retry, retry, e.operator, "application/json", []byte(`{"older_than": "soon"}`))
	drive(e, "POST", retry, retry, e.operator, "application/json", nil)

	// Query parameters are strict on every route: a bad value, a control
	// character, or on a write route one the route does not take.
	for _, c := range []struct{ method, path, route, key, ctype string }{
		{"POST", deals + "?dry_run=true", deals, e.intake, "application/json"},
		{"POST", emails + "?x=1", emails, e.intake, "message/rfc822"},
		{"GET", list + "?limit=", list, e.operator, ""},
		{"GET", list + "?q=%00", list, e.operator, ""},
		{"GET", list + "/BB0001001?x=%00", one, e.operator, ""},
		{"GET", list + "/BB0001001/attachments/1?download=1", one + "/attachments/{attachment}", e.operator, ""},
		{"POST", "/api/v1/records/BB0001001/load?dry_run=yes", load, e.operator, ""},
		{"POST", "/api/v1/records/BB0001001/load/retry-now?now=true", load + "/retry-now", e.operator, ""},
		{"POST", "/api/v1/records/BB0001001/load/stop?x=1", load + "/stop", e.operator, ""},
		{"POST", retry + "?dry_run=true", retry, e.operator, "application/json"},
		{"POST", bulk + "?dry_run=true", bulk, e.operator, "application/json"},
		{"POST", bulk + "?dry_run=1", bulk, e.operator, "application/yaml"},
		{"POST", impact + "?now=%1B", impact, admin, "application/yaml"},
		{"GET", "/api/v1/jobs/1?x=%FF", job, e.operator, ""},
		{"POST", "/api/v1/reconcile?x=1", "/api/v1/reconcile", e.operator, "application/json"},
		{"POST", "/api/v1/records/BB0001001/drift/ack?x=1", "/api/v1/records/{id}/drift/ack", e.operator, ""},
	} {
		if a := drive(e, c.method, c.path, c.route, c.key, c.ctype, []byte("{}")); a.Code != "bad_request" {
			t.Errorf("%s %s: code %q, want bad_request", c.method, c.path, a.Code)
		}
	}

	// Rules that cannot plan the deal.
	b := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{"BOOKBRIDGE_RULES": rules, "BOOKBRIDGE_READ_TIMEOUT": "1s"})
	b.do("POST", deals, b.intake, "application/json", payload, nil)
	drive(b, "POST", "/api/v1/records/BB0001001/load?dry_run=true", load, b.operator, "", nil)
	// A body that comes too slowly (the read timeout is 1s here).
	slow := drip(t, b.p.Addr, "POST", deals, http.Header{"X-Api-Key": {b.intake}, "Content-Type": {"application/json"}}, payload, 0, 100*time.Millisecond)
	seen = append(seen, seenAnswer{"POST", deals, slow.status, slow.code})
	// A database that went away.
	if err := b.p.App.DB.Close(); err != nil {
		t.Fatal(err)
	}
	drive(b, "GET", "/readyz", "/readyz", "", "", nil)
	drive(b, "GET", list, list, b.operator, "", nil)

	emitted := map[string]bool{}
	for _, s := range seen {
		op, ok := doc.Paths[s.path][strings.ToLower(s.method)]
		if !ok {
			t.Errorf("%s %s is not in openapi.yaml", s.method, s.path)
			continue
		}
		st := strconv.Itoa(s.status)
		if _, ok := op.Responses[st]; !ok {
			if _, ok := op.Responses[st[:1]+"XX"]; !ok {
				t.Errorf("%s %s answered %d, which openapi.yaml does not list for it", s.method, s.path, s.status)
			}
		}
		if s.code != "" {
			emitted[s.code] = true
			if !slices.Contains(codes, s.code) {
				t.Errorf("%s %s answered code %q, which the Error schema does not list", s.method, s.path, s.code)
			}
		}
	}
	for _, c := range codes {
		if !emitted[c] {
			t.Errorf("openapi.yaml lists the code %q, which no answer of this test had", c)
		}
	}
}

// apiAnswer holds the fields of any answer the contract test reads.
type apiAnswer struct {
	Code  string `json:"code"`
	JobID int64  `json:"job_id"`
}

// waitFor polls ok until it holds, for at most d.
func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
