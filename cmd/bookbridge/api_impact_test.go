package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// The impact API shows what reference-next.yaml changes in a loaded
// record, refuses what it must, and a bulk reload runs only once those
// rules are in use.
func TestAPIImpactAndReload(t *testing.T) {
	for _, db := range []struct{ name, url string }{{"sqlite", dbtest.SQLiteURL(t)}, {"postgres", dbtest.PostgresURL(t)}} {
		t.Run(db.name, func(t *testing.T) { testAPIImpactAndReload(t, db.url) })
	}
}

func testAPIImpactAndReload(t *testing.T, dbURL string) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, mappings.Reference, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startTestServer(t, dbURL, map[string]string{"BOOKBRIDGE_RULES": rulesFile})
	ctx := context.Background()
	e.do("POST", "/api/v1/deals", e.intake, "application/json", must(os.ReadFile(examplePayload)), nil)
	var acc apiAnswer
	e.do("POST", "/api/v1/emails", e.intake, "message/rfc822", must(os.ReadFile(exampleEmail)), &acc)
	e.waitJob(acc.JobID)
	e.do("POST", "/api/v1/records/BB0001001/load", e.operator, "", nil, &acc)
	e.waitJob(acc.JobID)
	if r := must(e.p.App.Store.GetByNumber(ctx, "BB0001001")); r.State != staging.StateLoaded {
		t.Fatalf("BB0001001 is %s, want loaded", r.State)
	}
	admin := must(e.p.App.Auth.CreateKey(ctx, "admin", auth.RoleAdmin))
	next := must(os.ReadFile("../../examples/mappings/reference-next.yaml"))
	broken := []byte("version: 1\nsteps: [\n")

	type check func(t *testing.T, body []byte)
	impactShows := func(t *testing.T, body []byte) {
		var rep bookbridge.ImpactReport
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Checked != 1 || rep.Changed != 1 || rep.Failed != 0 || len(rep.Records) != 1 || rep.Records[0].Number != "BB0001001" {
			t.Fatalf("report: %+v", rep)
		}
		var dropped, tenant bool
		for _, row := range rep.Records[0].NoLongerWritten {
			dropped = dropped || row.Table == "u_sales_skus"
		}
		for _, f := range rep.Records[0].Fields {
			tenant = tenant || strings.HasSuffix(f.Field, "u_tenant_id")
		}
		if !dropped || !tenant {
			t.Fatalf("the report misses the dropped SKU row (%v) or the tenant id change (%v): %s", dropped, tenant, body)
		}
	}
	problems := func(t *testing.T, body []byte) {
		var eb struct {
			Error    string `json:"error"`
			Problems []struct {
				File string `json:"file"`
				Line int    `json:"line"`
				Col  int    `json:"col"`
			} `json:"problems"`
		}
		if err := json.Unmarshal(body, &eb); err != nil {
			t.Fatal(err)
		}
		if len(eb.Problems) == 0 || eb.Problems[0].File != "new.yaml" || eb.Problems[0].Line == 0 || !strings.Contains(eb.Error, "new.yaml:") {
			t.Fatalf("problems: %s", body)
		}
	}
	count := func(n int) check {
		return func(t *testing.T, body []byte) {
			var ans struct {
				Count   int `json:"count"`
				Records []struct {
					JobID int64  `json:"job_id"`
					Error string `json:"error"`
				} `json:"records"`
			}
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			if ans.Count != n {
				t.Fatalf("count %d, want %d: %s", ans.Count, n, body)
			}
			for _, r := range ans.Records {
				if r.JobID != 0 {
					e.waitJob(r.JobID)
				}
			}
		}
	}
	reloadPreview := func(t *testing.T, body []byte) {
		var p struct {
			Rules    bookbridge.RulesInfo `json:"rules"`
			Loadable bool                 `json:"loadable"`
			Diff     any                  `json:"diff"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Rules.Hash != e.p.App.Flow.Rules().Hash() || !p.Loadable || p.Diff == nil {
			t.Fatalf("reload preview: %s", body)
		}
	}
	const impact, bulk = "/api/v1/mapping/impact", "/api/v1/loads/reload"
	steps := []struct {
		name, method, path, key, ctype string
		body                           []byte
		status                         int
		code                           string
		check                          check
		// before runs first (such as putting rules in use).
		before func(t *testing.T)
	}{
		{name: "impact", method: "POST", path: impact, key: admin, ctype: "application/yaml", body: next, status: 200, check: impactShows},
		{name: "impact at now", method: "POST", path: impact + "?now=true&state=loaded", key: admin, ctype: "text/yaml", body: next, status: 200, check: impactShows},
		{name: "impact needs admin", method: "POST", path: impact, key: e.operator, ctype: "application/yaml", body: next, status: 403, code: "forbidden"},
		{name: "impact bad state", method: "POST", path: impact + "?state=gone", key: admin, ctype: "application/yaml", body: next, status: 400, code: "bad_request"},
		{name: "impact bad type", method: "POST", path: impact, key: admin, ctype: "application/json", body: next, status: 415, code: "unsupported_media_type"},
		{name: "impact rules invalid", method: "POST", path: impact + "?name=new.yaml", key: admin, ctype: "text/plain", body: broken, status: 422, code: "rules_invalid", check: problems},
		{name: "reload preview", method: "POST", path: "/api/v1/records/BB0001001/load?reload=true&dry_run=true", key: e.operator, status: 200, check: reloadPreview},
		{name: "reload bad flag", method: "POST", path: "/api/v1/records/BB0001001/load?reload=yes-please", key: e.operator, status: 400, code: "bad_request"},
		{name: "bulk by number, dry", method: "POST", path: bulk, key: e.operator, ctype: "application/json", body: []byte(`{"records": ["BB0001001"], "dry_run": true}`), status: 200, check: count(1)},
		{name: "bulk unknown record", method: "POST", path: bulk, key: e.operator, ctype: "application/json", body: []byte(`{"records": ["BB0001001", "BB9999999"]}`), status: 404, code: "not_found"},
		{name: "bulk of rules not in use", method: "POST", path: bulk + "?dry_run=true", key: e.operator, ctype: "application/yaml", body: next, status: 409, code: "rules_mismatch"},
		{name: "bulk of rules in use, dry", method: "POST", path: bulk + "?dry_run=true", key: e.operator, ctype: "application/yaml", body: next, status: 200, check: count(1),
			before: func(t *testing.T) {
				if err := os.WriteFile(rulesFile, next, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := e.p.App.ReloadRules(); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "bulk of rules in use", method: "POST", path: bulk, key: e.operator, ctype: "application/yaml", body: next, status: 202, check: count(1)},
		// Reloaded with them, the record's last load is what the rules plan.
		{name: "bulk again changes nothing", method: "POST", path: bulk + "?dry_run=true", key: e.operator, ctype: "application/yaml", body: next, status: 200, check: count(0)},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before(t)
		}
		var raw json.RawMessage
		status := e.do(s.method, s.path, s.key, s.ctype, s.body, &raw)
		var eb struct {
			Code string `json:"code"`
		}
		json.Unmarshal(raw, &eb)
		if status != s.status || eb.Code != s.code {
			t.Fatalf("%s: %d %q, want %d %q\n%s", s.name, status, eb.Code, s.status, s.code, raw)
		}
		if s.check != nil {
			s.check(t, raw)
		}
	}
	if rec := must(e.p.App.Store.GetByNumber(ctx, "BB0001001")); rec.State != staging.StateLoaded {
		t.Fatalf("after the reload BB0001001 is %s: %s", rec.State, rec.Load.Error)
	}
	hist := must(e.p.App.Store.History(ctx, must(e.p.App.Store.GetByNumber(ctx, "BB0001001")).ID))
	var named bool
	for _, ev := range hist {
		b, _ := json.Marshal(ev)
		named = named || strings.Contains(string(b), e.p.App.Flow.Rules().Hash())
	}
	if !named {
		t.Fatalf("no history entry names the rules' hash %s", e.p.App.Flow.Rules().Hash())
	}
}
