package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

const testToken = "embed-test-token"

// TestGatewayProcess builds the example with "go build", runs it as its own
// process on a loopback port and drives it over HTTP the way a team's
// callers would: a deal, the same deal again, an invalid deal, the PH email,
// a dry run, the load, a second press, a newer version and its reload. Then
// it stops the process with SIGTERM and reads the target database it wrote.
// The staging store (and River's tables) are on SQLite and on Postgres.
func TestGatewayProcess(t *testing.T) {
	dbtest.EachURL(t, testGatewayProcess)
}

func testGatewayProcess(t *testing.T, dbURL string) {
	ctx := testContext(t, 5*time.Minute)
	bin := buildExample(t, ctx)
	dir := t.TempDir()
	p := startExample(t, ctx, bin, nil, "-listen", "127.0.0.1:0", "-data", dir, "-db", dbURL)
	c := client{t: t, ctx: ctx, base: "http://" + p.addr}

	deal := readFile(t, "../payloads/deal-full.json")
	want, err := sfdc.Decode[sfdc.Opportunity](deal)
	if err != nil {
		t.Fatal(err)
	}

	// The team's auth decides who may call.
	if status, body := c.do("POST", "/deals", "wrong-token", deal); status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %s", status, body)
	}

	var intake struct{ Outcome, Number, State string }
	if status, body := c.json("POST", "/deals", deal, &intake); status != http.StatusCreated ||
		intake.Outcome != "created" || !strings.HasPrefix(intake.Number, "BB") || intake.State != "received" {
		t.Fatalf("first deal: %d %s", status, body)
	}
	number := intake.Number
	if status, body := c.json("POST", "/deals", deal, &intake); status != http.StatusOK ||
		intake.Outcome != "duplicate" || intake.Number != number {
		t.Fatalf("same deal again: %d %s", status, body)
	}

	// An invalid deal is answered with every problem sfdc.Validate finds.
	invalid := readFile(t, "../payloads/invalid-many-problems.json")
	var wantProblems *sfdc.ValidationError
	if d, err := sfdc.Decode[sfdc.Opportunity](invalid); err != nil || !errors.As(sfdc.Validate(&d.Value), &wantProblems) {
		t.Fatalf("the invalid fixture does not fail validation: %v", err)
	}
	var rejected struct{ Problems []sfdc.Problem }
	if status, body := c.json("POST", "/deals", invalid, &rejected); status != http.StatusUnprocessableEntity ||
		len(rejected.Problems) < 2 || !slices.Equal(rejected.Problems, wantProblems.Problems) {
		t.Fatalf("invalid deal: %d %s", status, body)
	}
	if status, body := c.do("POST", "/deals", testToken, []byte(`{"Id": "1", "Id": "2"}`)); status != http.StatusBadRequest {
		t.Fatalf("duplicate keys: %d %s", status, body)
	}

	// The PH email joins the deal (the record is then ready: GET below).
	eml := readFile(t, "../emails/ph-deal-full.eml")
	var email struct{ Outcome, Number string }
	if status, body := c.json("POST", "/emails", eml, &email); status != http.StatusOK ||
		email.Outcome != "applied" || email.Number != number {
		t.Fatalf("PH email: %d %s", status, body)
	}
	if status, body := c.json("POST", "/emails", eml, &email); status != http.StatusOK || email.Outcome != "duplicate" {
		t.Fatalf("same email again: %d %s", status, body)
	}
	notPH := []byte("From: a@example.com\r\nSubject: Lunch?\r\n\r\nNoon.\r\n")
	if status, body := c.json("POST", "/emails", notPH, &email); status != http.StatusUnprocessableEntity || email.Outcome != "not_ph" {
		t.Fatalf("not a PH email: %d %s", status, body)
	}

	var rec record
	if status, body := c.json("GET", "/records/"+number, nil, &rec); status != http.StatusOK ||
		rec.State != "ready" || !rec.Loadable || len(rec.Attachments) != 1 {
		t.Fatalf("record before the load: %d %s", status, body)
	}
	pdf := readFile(t, "../emails/Contract_DR00004711.pdf")
	pdfSum := sha256.Sum256(pdf)
	if a := rec.Attachments[0]; a.FileName != "Contract_DR00004711.pdf" || a.SHA256 != hex.EncodeToString(pdfSum[:]) {
		t.Fatalf("staged attachment: %+v", a)
	}

	// Dry run: every step would insert.
	var preview struct {
		Loadable bool
		Diff     struct{ Steps []struct{ ID, Action string } }
	}
	if status, body := c.json("POST", "/records/"+number+"/load?dry_run=true", nil, &preview); status != http.StatusOK ||
		!preview.Loadable || len(preview.Diff.Steps) == 0 {
		t.Fatalf("dry run: %d %s", status, body)
	}
	for _, s := range preview.Diff.Steps {
		if s.Action != "insert" {
			t.Errorf("dry run: step %s would %s, want insert", s.ID, s.Action)
		}
	}

	// The load: every step inserts (so the dry run wrote nothing).
	var load loadAnswer
	if status, body := c.json("POST", "/records/"+number+"/load", nil, &load); status != http.StatusOK ||
		load.State != "loaded" || load.Result.Status != "loaded" {
		t.Fatalf("load: %d %s", status, body)
	}
	if got := load.outcomes(); len(got) != 1 || got["inserted"] != len(preview.Diff.Steps) {
		t.Errorf("load outcomes %v, want %d inserted", got, len(preview.Diff.Steps))
	}

	// Pressing again is refused: the record is loaded and unchanged.
	if status, body := c.do("POST", "/records/"+number+"/load", testToken, nil); status != http.StatusConflict {
		t.Fatalf("second load: %d %s", status, body)
	}
	if status, body := c.json("GET", "/records/"+number, nil, &rec); status != http.StatusOK ||
		rec.State != "loaded" || rec.Loadable || rec.Load.Attempts != 1 || len(rec.Load.Result) == 0 {
		t.Fatalf("record after the load: %d %s", status, body)
	}

	// A newer version makes it loadable again; the reload finds every
	// record and changes nothing.
	newer := bytes.Replace(deal, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`),
		[]byte(`"LastModifiedDate": "2026-11-28T10:00:00.000+0000"`), 1)
	if bytes.Equal(newer, deal) {
		t.Fatal("deal-full.json no longer has the LastModifiedDate this test bumps")
	}
	if status, body := c.json("POST", "/deals", newer, &intake); status != http.StatusOK || intake.Outcome != "updated" {
		t.Fatalf("newer version: %d %s", status, body)
	}
	if status, body := c.json("POST", "/records/"+number+"/load", nil, &load); status != http.StatusOK || load.State != "loaded" {
		t.Fatalf("reload: %d %s", status, body)
	}
	if got := load.outcomes(); len(got) != 1 || got["unchanged"] != len(preview.Diff.Steps) {
		t.Errorf("reload outcomes %v, want all %d unchanged", got, len(preview.Diff.Steps))
	}

	if status, _ := c.do("GET", "/records/BB9999999", testToken, nil); status != http.StatusNotFound {
		t.Errorf("unknown record: %d, want 404", status)
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.stderr.String())
	}

	checkTarget(t, ctx, filepath.Join(dir, "target.db"), &want.Value, hex.EncodeToString(pdfSum[:]))
}

// checkTarget reads the SQL target the example wrote and checks its rows.
func checkTarget(t *testing.T, ctx context.Context, path string, deal *sfdc.Opportunity, pdfSHA string) {
	t.Helper()
	db, err := bundb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, files, err := sqltarget.New(db, sqltarget.Options{}).Dump(ctx, targetTables...)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, files, deal, pdfSHA)
}

// targetTables are the tables a load of the reference rules may write.
var targetTables = []string{"core_company", "u_ams_finance_names", "u_managed_services_sales_order", "u_sales_skus", "problem"}

// checkRows checks that a target holds exactly the rows of one load of deal:
// one company, one finance name, one sales order with the contract PDF, one
// SKU per managed-services line that has a SKU, and no problem ticket.
func checkRows(t *testing.T, rows map[string][]loader.Record, files map[string][]loader.AttachmentInfo, deal *sfdc.Opportunity, pdfSHA string) {
	t.Helper()
	var wantSKUs []string
	for _, l := range deal.ManagedServicesLines() {
		if l.SKU != "" {
			wantSKUs = append(wantSKUs, l.SKU)
		}
	}
	var gotSKUs []string
	for _, r := range rows["u_sales_skus"] {
		gotSKUs = append(gotSKUs, r.Fields["u_adobe_sku"])
	}
	slices.Sort(wantSKUs)
	slices.Sort(gotSKUs)
	if len(wantSKUs) == 0 || !slices.Equal(gotSKUs, wantSKUs) {
		t.Errorf("SKUs %v, want %v", gotSKUs, wantSKUs)
	}
	for table, n := range map[string]int{"core_company": 1, "u_ams_finance_names": 1, "u_managed_services_sales_order": 1, "problem": 0} {
		if len(rows[table]) != n {
			t.Fatalf("%s has %d rows, want %d", table, len(rows[table]), n)
		}
	}
	if c := rows["core_company"][0].Fields; c["name"] != deal.Account.Name || c["u_ecc_id"] != deal.EndUserECCID {
		t.Errorf("company: %v", c)
	}
	so := rows["u_managed_services_sales_order"][0]
	if so.Fields["u_dr_number"] != deal.DealRegistrationID {
		t.Errorf("sales order: %v", so.Fields)
	}
	if f := files[so.ID]; len(f) != 1 || f[0].Name != "Contract_DR00004711.pdf" || f[0].SHA256 != pdfSHA {
		t.Errorf("files on the sales order: %+v", f)
	}
	for id, f := range files {
		if id != so.ID && len(f) > 0 {
			t.Errorf("files on record %s, which is not the sales order: %+v", id, f)
		}
	}
}

// TestCrashResume kills the example with SIGKILL half-way through a load into
// a slow ServiceNow double, starts it again on the same data directory and
// waits for River to rescue the load job, which resumes from the record's
// journal: the record ends loaded, and the double holds the rows of one
// uninterrupted load, none twice.
func TestCrashResume(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	bin := buildExample(t, ctx)
	sn := sntest.NewServer(t, sntest.Options{Latency: 300 * time.Millisecond, SeedChoices: true})
	dir := t.TempDir()
	env := []string{"EMBED_SERVICENOW_PASSWORD=" + sntest.DefaultPassword}
	// A short job timeout makes River deem the killed load's job stuck soon
	// (after 1.25× the timeout: before the restarted process takes over
	// River's leadership, whose rescuer then retries the job at once), and is
	// still above one whole load's run.
	args := []string{"-listen", "127.0.0.1:0", "-data", dir, "-servicenow", sn.URL(),
		"-servicenow-user", sntest.DefaultUsername, "-job-timeout", "6s"}
	p := startExample(t, ctx, bin, env, args...)
	c := client{t: t, ctx: ctx, base: "http://" + p.addr}

	deal := readFile(t, "../payloads/deal-full.json")
	want, err := sfdc.Decode[sfdc.Opportunity](deal)
	if err != nil {
		t.Fatal(err)
	}
	var staged struct{ Outcome, Number string }
	if status, body := c.json("POST", "/deals", deal, &staged); status != http.StatusCreated {
		t.Fatalf("deal: %d %s", status, body)
	}
	number := staged.Number
	if status, body := c.json("POST", "/emails", readFile(t, "../emails/ph-deal-full.eml"), &staged); status != http.StatusOK || staged.Outcome != "applied" {
		t.Fatalf("PH email: %d %s", status, body)
	}

	// The load's request waits for the job; the kill cuts it off.
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", c.base+"/records/"+number+"/load", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- "no answer: " + err.Error()
			return
		}
		resp.Body.Close()
		answered <- resp.Status
	}()
	waitFor(t, ctx, "the company to reach the double", func() bool { return len(sn.Dump()["core_company"]) > 0 })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if a := <-answered; !strings.HasPrefix(a, "no answer") {
		t.Fatalf("the load answered %s before the kill", a)
	}
	rows := sn.Dump()
	if len(rows["core_company"]) != 1 || len(rows["u_sales_skus"]) != 0 {
		t.Fatalf("at the kill the double has %d companies and %d SKUs, want 1 and none yet (a load cut half-way)",
			len(rows["core_company"]), len(rows["u_sales_skus"]))
	}
	rec := readRecord(t, ctx, filepath.Join(dir, "staging.db"), number)
	if rec.State != staging.StateLoading || len(rec.Load.Journal) == 0 {
		t.Fatalf("after the kill the record is %s with a journal of %d bytes, want loading with a journal", rec.State, len(rec.Load.Journal))
	}

	p = startExample(t, ctx, bin, env, args...)
	c.base = "http://" + p.addr
	var got record
	waitFor(t, ctx, "the record to leave loading", func() bool {
		c.json("GET", "/records/"+number, nil, &got)
		return got.State != "loading"
	})
	if got.State != "loaded" || got.Load.Attempts != 1 {
		t.Fatalf("after the restart the record is %s after %d load attempts, want loaded by the first attempt, resumed", got.State, got.Load.Attempts)
	}
	pdf := sha256.Sum256(readFile(t, "../emails/Contract_DR00004711.pdf"))
	checkRows(t, sn.Dump(), sn.Files(), &want.Value, hex.EncodeToString(pdf[:]))
	if v := sn.Violations(); len(v) > 0 {
		t.Errorf("the double recorded violations: %v", v)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, p.stderr.String())
	}
}

// waitFor polls cond every 50 ms until it holds, failing t when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readRecord reads a record straight from the staging database of a
// stopped example.
func readRecord(t *testing.T, ctx context.Context, path, number string) *staging.Record {
	t.Helper()
	db, err := bundb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := staging.New(db).GetByNumber(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestUsageErrors checks the exit code of a bad command line.
func TestUsageErrors(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	bin := buildExample(t, ctx)
	for _, args := range [][]string{{"-no-such-flag"}, {"extra-argument"}, {"-param", "no-equals-sign"}} {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(cleanEnv(), "EMBED_DATA_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit code 2\n%s", args, err, out)
		}
	}
}

// testContext bounds the whole test, leaving time to report before go
// test's own deadline.
func testContext(t *testing.T, max time.Duration) context.Context {
	deadline := time.Now().Add(max)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

var (
	buildOnce sync.Once
	buildDir  string
	buildOut  []byte
	buildErr  error
)

// buildExample compiles this package with "go build" once per test binary.
func buildExample(t *testing.T, ctx context.Context) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "bookbridge-embed-test-")
		if buildErr != nil {
			return
		}
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(buildDir, "embed"), ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(buildDir, "embed")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// cleanEnv is the test's environment without EMBED_* settings, so that a
// developer's own configuration cannot point the example elsewhere.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "EMBED_") })
}

// process is the running example.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
	err    error // cmd.Wait's answer, once exited is closed
}

// startExample runs the binary with env added to the test's environment and
// waits until it prints its address.
func startExample(t *testing.T, ctx context.Context, bin string, env []string, args ...string) *process {
	t.Helper()
	out := &addrWatcher{found: make(chan string, 1)}
	p := &process{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(append(cleanEnv(), "EMBED_TOKEN="+testToken), env...)
	p.cmd.Stdout, p.cmd.Stderr = out, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("the example's log:\n%s", p.stderr.String())
		}
	})
	select {
	case p.addr = <-out.found:
		return p
	case <-p.exited:
		t.Fatalf("the example exited before listening: %v\n%s", p.err, p.stderr.String())
	case <-ctx.Done():
		t.Fatalf("the example did not print its address in time\n%s", p.stderr.String())
	}
	return nil
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatalf("the example did not stop within a minute of SIGTERM\n%s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// addrWatcher takes the example's stdout and reports the address of its
// "listening on ADDRESS" line.
type addrWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan string
	sent  bool
}

func (w *addrWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for _, line := range strings.SplitAfter(w.buf.String(), "\n") {
		addr, ok := strings.CutPrefix(line, "listening on ")
		if ok && strings.HasSuffix(addr, "\n") && !w.sent {
			w.sent = true
			w.found <- strings.TrimSpace(addr)
		}
	}
	return len(b), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client calls the example over HTTP with the test's deadline.
type client struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (c client) do(method, path, token string, body []byte) (int, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// json calls with the test token and decodes the answer into v.
func (c client) json(method, path string, body []byte, v any) (int, []byte) {
	c.t.Helper()
	status, b := c.do(method, path, testToken, body)
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %v\n%s", method, path, status, err, b)
	}
	return status, b
}

// record is the part of GET /records/{number} the test reads.
type record struct {
	State       string
	Loadable    bool
	Attachments []struct {
		FileName string `json:"file_name"`
		SHA256   string
	}
	Load struct {
		Attempts int
		Result   json.RawMessage
	}
}

// loadAnswer is the part of POST /records/{number}/load the test reads.
type loadAnswer struct {
	State  string
	Result struct {
		Status string
		Steps  []struct{ ID, Outcome string }
	}
}

// outcomes counts the load's steps by outcome.
func (a loadAnswer) outcomes() map[string]int {
	n := map[string]int{}
	for _, s := range a.Result.Steps {
		n[s.Outcome]++
	}
	return n
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
