package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

const (
	examplePayload = "../../examples/payloads/deal-full.json"
	exampleEmail   = "../../examples/emails/ph-deal-full.eml"
	examplePDF     = "../../examples/emails/Contract_DR00004711.pdf"
)

// testEnv is a running server with its ServiceNow double and keys.
type testEnv struct {
	t        testing.TB
	p        *process
	sn       *sntest.Server
	base     string
	intake   string
	operator string
	// client sends the tests' API requests; it checks every answer
	// against openapi.yaml and fails the test on a mismatch.
	client *http.Client
}

func testConfig(t testing.TB, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTestServer starts bookbridge in-process on port 0 against dbURL,
// loading into a ServiceNow double.
func startTestServer(t testing.TB, dbURL string, extra map[string]string) *testEnv {
	t.Helper()
	sn := sntest.NewServer(t, sntest.Options{Username: "svc", Password: "pw", SeedChoices: true})
	env := map[string]string{
		"BOOKBRIDGE_DATABASE_URL":        dbURL,
		"BOOKBRIDGE_LISTEN":              "127.0.0.1:0",
		"BOOKBRIDGE_TARGET":              "servicenow",
		"BOOKBRIDGE_SERVICENOW_URL":      sn.URL(),
		"BOOKBRIDGE_SERVICENOW_USER":     "svc",
		"BOOKBRIDGE_SERVICENOW_PASSWORD": "pw",
	}
	for k, v := range extra {
		env[k] = v
	}
	ctx := context.Background()
	p, err := startProcess(ctx, testConfig(t, env), app.Options{Logger: testLogger(t), Work: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	e := &testEnv{t: t, p: p, sn: sn, base: "http://" + p.Addr, client: checkedClient(t)}
	if e.intake, err = p.App.Auth.CreateKey(ctx, "salesforce", auth.RoleIntake); err != nil {
		t.Fatal(err)
	}
	if e.operator, err = p.App.Auth.CreateKey(ctx, "ops", auth.RoleOperator); err != nil {
		t.Fatal(err)
	}
	return e
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (e *testEnv) do(method, path, key, ctype string, body []byte, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Request-Id") == "" {
		e.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// waitJob polls a job until it is finished and returns its final status.
func (e *testEnv) waitJob(id int64) bookbridge.JobStatus {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var st bookbridge.JobStatus
		if code := e.do("GET", "/api/v1/jobs/"+itoa(id), e.operator, "", nil, &st); code != 200 {
			e.t.Fatalf("job %d: %d", id, code)
		}
		switch st.State {
		case "completed", "discarded", "cancelled":
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("job %d did not finish in 60s", id)
	return bookbridge.JobStatus{}
}

func itoa(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type recordAnswer struct {
	ID          int64  `json:"id"`
	Number      string `json:"number"`
	State       string `json:"state"`
	Loadable    bool   `json:"loadable"`
	Attachments []struct {
		ID       int64  `json:"id"`
		FileName string `json:"file_name"`
		SHA256   string `json:"sha256"`
		Usable   bool   `json:"usable"`
	} `json:"attachments"`
	History []struct {
		Kind string `json:"kind"`
	} `json:"history"`
}

// TestEndToEnd is the whole flow on each database: a deal posted twice, its
// PH email, a dry run, a load into the ServiceNow double, and loads again
// that change nothing.
func TestEndToEnd(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		e := startTestServer(t, dbURL, nil)
		payload := must(os.ReadFile(examplePayload))
		email := must(os.ReadFile(exampleEmail))

		var in struct{ Outcome, ID, Number, State string }
		if code := e.do("POST", "/api/v1/deals", e.intake, "application/json", payload, &in); code != 201 || in.Outcome != "created" {
			t.Fatalf("first post: %d %+v", code, in)
		}
		if code := e.do("POST", "/api/v1/deals", e.intake, "application/json", payload, &in); code != 200 || in.Outcome != "duplicate" {
			t.Fatalf("second post: %d %+v", code, in)
		}
		number := in.Number

		var acc bookbridge.EmailAccepted
		if code := e.do("POST", "/api/v1/emails", e.intake, "message/rfc822", email, &acc); code != 202 || acc.JobID == 0 {
			t.Fatalf("email: %d %+v", code, acc)
		}
		if st := e.waitJob(acc.JobID); st.State != "completed" || st.Email == nil || st.Email.Outcome != "applied" {
			t.Fatalf("email job: %+v %+v", st, st.Email)
		}
		if code := e.do("POST", "/api/v1/emails", e.intake, "message/rfc822", email, &acc); code != 200 || !acc.Duplicate {
			t.Fatalf("email again: %d %+v", code, acc)
		}

		var rec recordAnswer
		if code := e.do("GET", "/api/v1/records/"+number, e.operator, "", nil, &rec); code != 200 || rec.State != "ready" || !rec.Loadable {
			t.Fatalf("record: %d %+v", code, rec)
		}
		if len(rec.Attachments) != 1 || !rec.Attachments[0].Usable {
			t.Fatalf("attachments: %+v", rec.Attachments)
		}
		pdf := must(os.ReadFile(examplePDF))
		req, _ := http.NewRequest("GET", e.base+"/api/v1/records/"+number+"/attachments/"+itoa(rec.Attachments[0].ID), nil)
		req.Header.Set("X-API-Key", e.operator)
		resp := must(e.client.Do(req))
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, pdf) || resp.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("attachment download: %s, %d bytes", resp.Header.Get("Content-Type"), len(got))
		}

		// Dry run: everything is an insert, nothing is written.
		var preview struct {
			Loadable bool `json:"loadable"`
			Diff     struct {
				Steps []struct{ ID, Table, Action string } `json:"steps"`
			} `json:"diff"`
		}
		if code := e.do("POST", "/api/v1/records/"+number+"/load?dry_run=true", e.operator, "", nil, &preview); code != 200 || !preview.Loadable {
			t.Fatalf("dry run: %d %+v", code, preview)
		}
		for _, s := range preview.Diff.Steps {
			if s.Action != "insert" {
				t.Errorf("dry run step %s: %s, want insert", s.ID, s.Action)
			}
		}
		if n := e.sn.CountCalls("POST", "/api/now/table/"); n != 0 {
			t.Fatalf("dry run wrote %d records", n)
		}

		// The load.
		var job struct {
			JobID int64 `json:"job_id"`
		}
		if code := e.do("POST", "/api/v1/records/"+number+"/load", e.operator, "", nil, &job); code != 202 {
			t.Fatalf("load: %d", code)
		}
		if st := e.waitJob(job.JobID); st.State != "completed" || st.Record == nil || st.Record.State != "loaded" {
			t.Fatalf("load job: %+v", st)
		}
		// The record names its latest load job.
		var withJob struct {
			LoadJob *bookbridge.JobStatus `json:"load_job"`
		}
		if code := e.do("GET", "/api/v1/records/"+number, e.operator, "", nil, &withJob); code != 200 ||
			withJob.LoadJob == nil || withJob.LoadJob.ID != job.JobID || withJob.LoadJob.State != "completed" {
			t.Fatalf("record's load job: %d %+v, want job %d", code, withJob.LoadJob, job.JobID)
		}
		tables := e.sn.Dump()
		want := map[string]int{"core_company": 1, "u_ams_finance_names": 1, "u_managed_services_sales_order": 1, "u_sales_skus": 6, "problem": 0}
		for table, n := range want {
			if len(tables[table]) != n {
				t.Errorf("%s has %d rows, want %d", table, len(tables[table]), n)
			}
		}
		so := tables["u_managed_services_sales_order"][0]
		files := e.sn.Files()[so.ID]
		if len(files) != 1 || files[0].Name != "Contract_DR00004711.pdf" || files[0].SHA256 != rec.Attachments[0].SHA256 {
			t.Fatalf("sales order files: %+v", files)
		}

		// Pressing the button again: not loadable, and nothing changes.
		writes := e.sn.CountCalls("POST", "") + e.sn.CountCalls("PATCH", "") + e.sn.CountCalls("PUT", "")
		var errBody struct{ Code string }
		if code := e.do("POST", "/api/v1/records/"+number+"/load", e.operator, "", nil, &errBody); code != 409 || errBody.Code != "not_loadable" {
			t.Fatalf("second load: %d %+v", code, errBody)
		}
		if code := e.do("POST", "/api/v1/records/"+number+"/load?dry_run=true", e.operator, "", nil, &preview); code != 200 {
			t.Fatalf("dry run after load: %d", code)
		}
		for _, s := range preview.Diff.Steps {
			if s.Action != "unchanged" {
				t.Errorf("after the load, step %s would %s", s.ID, s.Action)
			}
		}
		// A newer version of the deal makes it loadable again; loading it
		// updates nothing that did not change and inserts nothing.
		newer := bytes.Replace(payload, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`), []byte(`"LastModifiedDate": "2026-11-28T10:00:00.000+0000"`), 1)
		if code := e.do("POST", "/api/v1/deals", e.intake, "application/json", newer, &in); code != 200 || in.Outcome != "updated" {
			t.Fatalf("newer version: %d %+v", code, in)
		}
		if code := e.do("POST", "/api/v1/records/"+number+"/load", e.operator, "", nil, &job); code != 202 {
			t.Fatalf("reload: %d", code)
		}
		if st := e.waitJob(job.JobID); st.State != "completed" || st.Record.State != "loaded" {
			t.Fatalf("reload job: %+v", st)
		}
		if got := e.sn.CountCalls("POST", "") + e.sn.CountCalls("PATCH", "") + e.sn.CountCalls("PUT", ""); got != writes {
			t.Fatalf("the reload of an unchanged deal made %d writes", got-writes)
		}
		for table, n := range want {
			if len(e.sn.Dump()[table]) != n {
				t.Errorf("after reload %s has %d rows, want %d", table, len(e.sn.Dump()[table]), n)
			}
		}
	})
}
