package main

// The tests of loads that heal themselves (issue 20): a real serve on
// Postgres with River loads into the ServiceNow double while the double
// fails (an outage, a 429 storm, a 403) or serve itself is killed, and
// every load must end as it should without an operator, with the rows of
// loads that were never interrupted. The settings compress minutes of
// production into seconds (healEnv).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// healEnv is serve's configuration for the healing tests: the double as
// ServiceNow, and short job timeout, rescue time and retry delays so that
// a test stays within a minute or two. extra overrides.
func healEnv(dbURL string, sn *sntest.Server, extra map[string]string) map[string]string {
	env := map[string]string{
		"BOOKBRIDGE_DATABASE_URL": dbURL, "BOOKBRIDGE_LISTEN": "127.0.0.1:0", "BOOKBRIDGE_TARGET": "servicenow",
		"BOOKBRIDGE_SERVICENOW_URL": sn.URL(), "BOOKBRIDGE_SERVICENOW_USER": "svc", "BOOKBRIDGE_SERVICENOW_PASSWORD": "pw",
		"BOOKBRIDGE_SERVICENOW_TIMEOUT":    "3s",
		"BOOKBRIDGE_SERVICENOW_RATE_LIMIT": "50",
		"BOOKBRIDGE_LOAD_TIMEOUT":          "5s",
		"BOOKBRIDGE_JOB_RESCUE_AFTER":      "7s",
		"BOOKBRIDGE_LOAD_RETRY_MAX_DELAY":  "2s",
		"BOOKBRIDGE_LOG_LEVEL":             "debug",
	}
	maps.Copy(env, extra)
	return env
}

func newHealDouble(t *testing.T) *sntest.Server {
	return sntest.NewServer(t, sntest.Options{Username: "svc", Password: "pw", SeedChoices: true})
}

// stageDeals stages n ready records with distinct keys, each with its PH
// email and the contract PDF, and returns their ids. The same n give the
// same deals in any database.
func stageDeals(t *testing.T, store *staging.Store, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	base := must(os.ReadFile(examplePayload))
	pdf := must(os.ReadFile(examplePDF))
	var ids []int64
	for i := range n {
		ecc := fmt.Sprintf("00066%05d", i)
		dr := fmt.Sprintf("DR6%07d", i)
		id15 := fmt.Sprintf("006Dn0000H%05d", i)
		body := bytes.ReplaceAll(base, []byte("0001234567"), []byte(ecc))
		body = bytes.ReplaceAll(body, []byte("DR00004711"), []byte(dr))
		body = bytes.ReplaceAll(body, []byte("006Dn00000AbCdEIAV"), []byte(id15+sfdc.IDChecksum(id15)))
		d, err := sfdc.Decode[sfdc.Opportunity](body)
		if err != nil {
			t.Fatal(err)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			t.Fatal(err)
		}
		res, err := store.Intake(ctx, staging.PayloadFromOpportunity(d))
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.IngestEmail(ctx, staging.Email{
			MessageID: fmt.Sprintf("heal-%d@test", i), Subject: "To Be Provisioned - Müller & Søn Größe GmbH " + dr,
			Raw:         []byte(fmt.Sprintf("Subject: heal %d\r\n\r\nECC ID: %s\r\n", i, ecc)),
			Fields:      map[string]string{"ecc_id": ecc, "dr_number": dr, "company_name": "Müller & Søn Größe GmbH", "tenant_id": "t" + ecc},
			Attachments: []staging.EmailAttachment{{FileName: "Contract_" + dr + ".pdf", ContentType: "application/pdf", Data: pdf, Usable: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Record.ID)
	}
	return ids
}

// targetRows is what a ServiceNow double holds, comparable between two
// doubles: per table, each row as JSON without its sys_ fields, a
// reference to another row written as that row's table, and the files
// attached to it (name, type, size and digest), sorted.
type targetRows map[string][]string

func rowsOf(sn *sntest.Server) targetRows {
	dump, files := sn.Dump(), sn.Files()
	tableOf := map[string]string{}
	for table, rows := range dump {
		for _, r := range rows {
			tableOf[r.ID] = table
		}
	}
	out := targetRows{}
	for table, rows := range dump {
		for _, r := range rows {
			row := map[string]any{}
			for k, v := range r.Fields {
				if strings.HasPrefix(k, "sys_") {
					continue
				}
				if ref, ok := tableOf[v]; ok {
					v = "reference to " + ref
				}
				row[k] = v
			}
			var fs []string
			for _, f := range files[r.ID] {
				fs = append(fs, fmt.Sprintf("%s %s %d %s", f.Name, f.ContentType, f.Size, f.SHA256))
			}
			sort.Strings(fs)
			row["(files)"] = fs
			out[table] = append(out[table], string(must(json.Marshal(row))))
		}
		sort.Strings(out[table])
	}
	return out
}

// diff names the tables whose rows differ from want's, with counts.
func (got targetRows) diff(want targetRows) []string {
	var out []string
	tables := map[string]bool{}
	for k := range got {
		tables[k] = true
	}
	for k := range want {
		tables[k] = true
	}
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		if slices.Equal(got[table], want[table]) {
			continue
		}
		msg := fmt.Sprintf("%s: %d rows, want %d", table, len(got[table]), len(want[table]))
		for _, r := range got[table] {
			if !slices.Contains(want[table], r) {
				msg += "; unexpected " + r
				break
			}
		}
		out = append(out, msg)
	}
	return out
}

// cleanLoad is what n loads that nothing interrupted write: the rows they
// leave in ServiceNow, the writes per table and the calls they make.
type cleanLoad struct {
	rows   targetRows
	writes map[string]int
	calls  int
}

// loadCleanly loads the deals of stageDeals(n) one after the other into a
// double that never fails, from a store on SQLite.
func loadCleanly(t *testing.T, n int) cleanLoad {
	t.Helper()
	ctx := context.Background()
	sn := newHealDouble(t)
	a, err := app.Open(ctx, testConfig(t, healEnv(dbtest.SQLiteURL(t), sn, nil)), app.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, id := range stageDeals(t, a.Store, n) {
		rec, err := a.Flow.Load(ctx, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != staging.StateLoaded {
			t.Fatalf("the clean load of %s ended %s: %s", rec.Number, rec.State, rec.Load.Error)
		}
	}
	st := sn.Stats()
	if st.Writes["sys_attachment"] != n {
		t.Fatalf("the clean loads uploaded %d files, want %d (one contract each)", st.Writes["sys_attachment"], n)
	}
	return cleanLoad{rows: rowsOf(sn), writes: st.Writes, calls: st.Calls}
}

// checkLikeClean checks that the double holds exactly the rows of the
// clean loads and that no row or file was written more often than they
// wrote it (so none twice).
func checkLikeClean(t *testing.T, sn *sntest.Server, want cleanLoad) {
	t.Helper()
	if d := rowsOf(sn).diff(want.rows); len(d) > 0 {
		t.Errorf("the double's rows differ from loads never interrupted:\n%s", strings.Join(d, "\n"))
	}
	if got := sn.Stats().Writes; !maps.Equal(got, want.writes) {
		t.Errorf("writes per table %v, want %v (as loads never interrupted)", got, want.writes)
	}
	if v := sn.Violations(); len(v) > 0 {
		t.Errorf("the double recorded violations: %v", v)
	}
}

// enqueueLoads starts the load of every record, as one press of Load each.
func enqueueLoads(t *testing.T, a *app.App, ids []int64) []int64 {
	t.Helper()
	var jobs []int64
	for _, id := range ids {
		job, err := a.Flow.EnqueueLoad(context.Background(), id, "test")
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	return jobs
}

// records reads the records.
func records(t *testing.T, store *staging.Store, ids []int64) []*staging.Record {
	t.Helper()
	var out []*staging.Record
	for _, id := range ids {
		rec, err := store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// waitSettled polls the records until none is loading, for at most
// within, and returns them as they ended.
func waitSettled(t *testing.T, store *staging.Store, ids []int64, within time.Duration) []*staging.Record {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		recs := records(t, store, ids)
		if !slices.ContainsFunc(recs, func(r *staging.Record) bool { return r.State == staging.StateLoading }) {
			return recs
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, r := range recs {
				lines = append(lines, fmt.Sprintf("%s: %s, %d retries, last error %q, next try %s",
					r.Number, r.State, r.Load.Retries, r.Load.Error, r.Load.NextTryAt.Format(time.TimeOnly)))
			}
			t.Fatalf("loads still under way after %s:\n%s", within, strings.Join(lines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitUntil polls cond every 50 ms for at most within.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkLoaded checks that every record was loaded by its first load (no
// operator pressed Load again) and returns the retries they took in all.
func checkLoaded(t *testing.T, recs []*staging.Record) (retries int) {
	t.Helper()
	for _, r := range recs {
		if r.State != staging.StateLoaded || r.Load.Attempts != 1 {
			t.Errorf("%s: %s after %d loads, want loaded by the first: %s", r.Number, r.State, r.Load.Attempts, r.Load.Error)
		}
		retries += r.Load.Retries
	}
	return retries
}

// hasWritten says whether a load is under way with writes in its journal.
func hasWritten(a *app.App, r *staging.Record) bool {
	if r.State != staging.StateLoading {
		return false
	}
	p := a.Flow.Progress(r)
	return p != nil && len(p.Written) > 0
}

// startServe starts serve in-process, as replicas_test does, and shuts it
// down when the test ends.
func startServe(t *testing.T, env map[string]string) *process {
	t.Helper()
	p, err := startProcess(context.Background(), testConfig(t, env), app.Options{Logger: testLogger(t), Work: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return p
}

// openControl opens the app without workers: the test stages records,
// presses Load and reads records with it while serve processes work.
func openControl(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), testConfig(t, env), app.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestLoadsHealAfterAnOutage takes ServiceNow down for 20 seconds in the
// middle of 16 loads: the loads retry, show it on their records, and all
// end loaded once ServiceNow is back, with the rows of loads never
// interrupted.
func TestLoadsHealAfterAnOutage(t *testing.T) {
	const n, outage = 16, 20 * time.Second
	want := loadCleanly(t, n)
	sn := newHealDouble(t)
	sn.SetLatency(100 * time.Millisecond)
	p := startServe(t, healEnv(dbtest.PostgresURL(t), sn, nil))
	ids := stageDeals(t, p.App.Store, n)
	start := time.Now()
	enqueueLoads(t, p.App, ids)

	waitUntil(t, "the first companies to reach ServiceNow", time.Minute, func() bool { return sn.Stats().Writes["core_company"] >= 3 })
	sn.Down()
	down := time.Now()
	loadedBefore := 0
	for _, r := range records(t, p.App.Store, ids) {
		if r.State == staging.StateLoaded {
			loadedBefore++
		}
	}
	if loadedBefore == n {
		t.Fatal("every load ended before the outage; slow the double down")
	}
	// While ServiceNow is down, the loads wait for their next try and say
	// so on their records.
	var retrying *staging.Record
	for time.Now().Before(down.Add(outage)) {
		for _, r := range records(t, p.App.Store, ids) {
			if retrying == nil && r.State == staging.StateLoading && r.Load.Retrying() {
				retrying = r
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if retrying == nil {
		t.Errorf("no record showed a retrying load during the %s outage", outage)
	} else {
		if retrying.Load.Error == "" || retrying.Load.Retries < 1 {
			t.Errorf("%s is retrying with %d retries and error %q, want the reason", retrying.Number, retrying.Load.Retries, retrying.Load.Error)
		}
		t.Logf("during the outage %s said: %d retries, next try %s, last error %q",
			retrying.Number, retrying.Load.Retries, retrying.Load.NextTryAt.Format(time.TimeOnly), retrying.Load.Error)
	}
	if err := sn.Up(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()

	recs := waitSettled(t, p.App.Store, ids, 90*time.Second)
	retries := checkLoaded(t, recs)
	if retries == 0 {
		t.Error("no load retried: the outage met no load")
	}
	checkLikeClean(t, sn, want)
	st := sn.Stats()
	t.Logf("outage of %s: %d of %d loaded before it; all loaded %s after ServiceNow came back (%s in all); "+
		"%d calls (clean loads: %d), %d answered 429, %d retries, operator actions: 0",
		outage, loadedBefore, n, time.Since(up).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond),
		st.Calls, want.calls, st.RateLimited, retries)
}

// TestLoadsRideOutA429Storm starts 17 loads at once against an instance
// that allows 2 calls a second: every load ends loaded without an
// operator, and the shared rate keeps the calls answered 429 at 20% or
// fewer.
func TestLoadsRideOutA429Storm(t *testing.T) {
	const n = 17
	want := loadCleanly(t, n)
	sn := newHealDouble(t)
	sn.SetRateLimit(2)
	p := startServe(t, healEnv(dbtest.PostgresURL(t), sn, map[string]string{
		// The server's defaults: the storm is about the shared rate, and a
		// short job timeout would cut the throttled runs into many.
		"BOOKBRIDGE_SERVICENOW_RATE_LIMIT": "10", "BOOKBRIDGE_LOAD_TIMEOUT": "20s", "BOOKBRIDGE_JOB_RESCUE_AFTER": "25s"}))
	ids := stageDeals(t, p.App.Store, n)
	start := time.Now()
	enqueueLoads(t, p.App, ids)

	recs := waitSettled(t, p.App.Store, ids, 5*time.Minute)
	took := time.Since(start)
	retries := checkLoaded(t, recs)
	checkLikeClean(t, sn, want)
	st := sn.Stats()
	if st.RateLimited*5 > st.Calls {
		t.Errorf("%d of %d calls were answered 429, more than 20%%", st.RateLimited, st.Calls)
	}
	t.Logf("429 storm (2 calls/s, %d loads): all loaded after %s; %d calls (clean loads: %d), %d answered 429 (%.1f%%), %d load retries, operator actions: 0",
		n, took.Round(100*time.Millisecond), st.Calls, want.calls, st.RateLimited, 100*float64(st.RateLimited)/float64(st.Calls), retries)
}

// TestForbiddenFailsAtOnce has ServiceNow answer 403 to everything: each
// load fails at once with the reason, after one attempt's calls, and is
// not retried.
func TestForbiddenFailsAtOnce(t *testing.T) {
	const n = 3
	sn := newHealDouble(t)
	sn.SetForbidden(true)
	p := startServe(t, healEnv(dbtest.PostgresURL(t), sn, nil))
	ids := stageDeals(t, p.App.Store, n)
	start := time.Now()
	jobs := enqueueLoads(t, p.App, ids)

	recs := waitSettled(t, p.App.Store, ids, 30*time.Second)
	took := time.Since(start)
	for i, r := range recs {
		if r.State != staging.StateLoadFailed || r.Load.Retries != 0 || !r.Load.NextTryAt.IsZero() {
			t.Errorf("%s: %s after %d retries (next try %s), want load_failed with none", r.Number, r.State, r.Load.Retries, r.Load.NextTryAt)
		}
		if !strings.Contains(r.Load.Error, "403") {
			t.Errorf("%s failed with %q, which does not give the 403", r.Number, r.Load.Error)
		}
		// The job ends with the run that failed the record (a moment
		// after it): nothing tries the load again.
		var job *rivertype.JobRow
		waitUntil(t, "the load job of "+r.Number+" to end", 10*time.Second, func() bool {
			job = must(p.App.Queue.Client().JobGet(context.Background(), jobs[i]))
			return job.FinalizedAt != nil
		})
		if job.State != rivertype.JobStateCompleted || job.Attempt != 1 {
			t.Errorf("%s: its job is %s after %d attempts, want completed after one", r.Number, job.State, job.Attempt)
		}
	}
	st := sn.Stats()
	// A load stops at its first answer: one call each, unless the first
	// step looks up several tables at once.
	if st.Calls < n || st.Calls > n*4 {
		t.Errorf("%d calls for %d forbidden loads, want one attempt's calls each", st.Calls, n)
	}
	if len(st.Writes) > 0 {
		t.Errorf("writes %v by forbidden loads", st.Writes)
	}
	t.Logf("403: %d loads load_failed after %s with %q; %d calls, %d answered 429, 0 retries, operator actions: 0",
		n, took.Round(100*time.Millisecond), recs[0].Load.Error, st.Calls, st.RateLimited)
}

var (
	serveBinOnce sync.Once
	serveBinDir  string
	serveBinOut  []byte
	serveBinErr  error
)

// buildServe compiles this command with "go build" once per test binary.
func buildServe(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	serveBinOnce.Do(func() {
		if serveBinDir, serveBinErr = os.MkdirTemp("", "bookbridge-heal-test-"); serveBinErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		serveBinOut, serveBinErr = exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(serveBinDir, "bookbridge"), ".").CombinedOutput()
	})
	if serveBinErr != nil {
		t.Fatalf("go build: %v\n%s", serveBinErr, serveBinOut)
	}
	return filepath.Join(serveBinDir, "bookbridge")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if serveBinDir != "" {
		os.RemoveAll(serveBinDir)
	}
	os.Exit(code)
}

// serveProcess is "bookbridge serve" running as its own OS process.
type serveProcess struct {
	cmd    *exec.Cmd
	log    *syncLog
	exited chan struct{}
}

// syncLog keeps a process's log and tells when a line holds a text.
type syncLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	serving chan struct{}
	once    sync.Once
}

func (l *syncLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "bookbridge is serving") {
			l.once.Do(func() { close(l.serving) })
		}
	}
	return len(b), nil
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServeProcess runs "bookbridge serve" with env (and no BOOKBRIDGE_
// setting of the test's own environment) and waits until it serves.
func startServeProcess(t *testing.T, bin string, env map[string]string) *serveProcess {
	t.Helper()
	p := &serveProcess{cmd: exec.Command(bin, "serve"), log: &syncLog{serving: make(chan struct{})}, exited: make(chan struct{})}
	p.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "BOOKBRIDGE_") })
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("log of serve (pid %d):\n%s", p.cmd.Process.Pid, p.log.String())
		}
	})
	select {
	case <-p.log.serving:
		return p
	case <-p.exited:
		t.Fatalf("serve exited before serving: %v\n%s", p.cmd.ProcessState, p.log.String())
	case <-time.After(time.Minute):
		t.Fatalf("serve did not serve within a minute\n%s", p.log.String())
	}
	return nil
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *serveProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("kill -9 %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("serve (pid %d) did not exit within 30s of SIGKILL", p.cmd.Process.Pid)
	}
}

// TestLoadsResumeAfterKill9 kills serve with SIGKILL while 8 loads are
// under way and starts it again: every load ends loaded within a minute
// of the restart, with the rows of loads never interrupted.
func TestLoadsResumeAfterKill9(t *testing.T) {
	const n = 8
	bin := buildServe(t)
	want := loadCleanly(t, n)
	sn := newHealDouble(t)
	sn.SetLatency(150 * time.Millisecond)
	env := healEnv(dbtest.PostgresURL(t), sn, nil)
	a := openControl(t, env)
	serve := startServeProcess(t, bin, env)
	ids := stageDeals(t, a.Store, n)
	start := time.Now()
	enqueueLoads(t, a, ids)

	waitUntil(t, "two loads to write to ServiceNow", time.Minute, func() bool {
		return len(slices.DeleteFunc(records(t, a.Store, ids), func(r *staging.Record) bool { return !hasWritten(a, r) })) >= 2
	})
	serve.kill(t)
	killed := time.Now()
	interrupted := 0
	for _, r := range records(t, a.Store, ids) {
		if hasWritten(a, r) {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Fatal("the kill interrupted no load that had written; slow the double down")
	}
	callsAtKill := sn.Stats().Calls

	startServeProcess(t, bin, env)
	restarted := time.Now()
	recs := waitSettled(t, a.Store, ids, time.Minute)
	retries := checkLoaded(t, recs)
	checkLikeClean(t, sn, want)
	st := sn.Stats()
	t.Logf("kill -9 after %s with %d loads half-written: all loaded %s after the restart (%s after the kill); "+
		"%d calls (%d before the kill; clean loads: %d), %d answered 429, %d retries, operator actions: 0",
		killed.Sub(start).Round(100*time.Millisecond), interrupted, time.Since(restarted).Round(100*time.Millisecond),
		time.Since(killed).Round(100*time.Millisecond), st.Calls, callsAtKill, want.calls, st.RateLimited, retries)
}

// TestSurvivorFinishesLoadsOfAKilledServer runs two serve processes on one
// database and kills one (SIGKILL) while it has loads under way: the
// other finishes them, and every load ends loaded with the rows of loads
// never interrupted.
func TestSurvivorFinishesLoadsOfAKilledServer(t *testing.T) {
	const n = 16
	bin := buildServe(t)
	want := loadCleanly(t, n)
	sn := newHealDouble(t)
	sn.SetLatency(150 * time.Millisecond)
	env := healEnv(dbtest.PostgresURL(t), sn, nil)
	a := openControl(t, env)
	victim := startServeProcess(t, bin, env)
	ids := stageDeals(t, a.Store, n)
	start := time.Now()
	jobs := enqueueLoads(t, a, ids)

	// The first process alone takes loads; the second joins once two of
	// them have written, and the first dies then.
	waitUntil(t, "two loads to write to ServiceNow", time.Minute, func() bool {
		return len(slices.DeleteFunc(records(t, a.Store, ids), func(r *staging.Record) bool { return !hasWritten(a, r) })) >= 2
	})
	survivor := startServe(t, env)
	victim.kill(t)
	killed := time.Now()
	var interrupted []string
	for _, r := range records(t, a.Store, ids) {
		if hasWritten(a, r) {
			interrupted = append(interrupted, r.Number)
		}
	}
	if len(interrupted) == 0 {
		t.Fatal("the kill interrupted no load that had written; slow the double down")
	}

	// River's leader rescues a job of a dead process after JOB_RESCUE_AFTER
	// (7s); the survivor is leader at the latest when the dead one's lease
	// ends, and its rescuer looks every 30 s.
	recs := waitSettled(t, survivor.App.Store, ids, 75*time.Second)
	retries := checkLoaded(t, recs)
	checkLikeClean(t, sn, want)
	takenOver := 0
	for _, id := range jobs {
		job, err := a.Queue.Client().JobGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(job.AttemptedBy)))) > 1 {
			takenOver++
		}
	}
	if takenOver == 0 {
		t.Error("no load job ran on both processes: the survivor took over none")
	}
	st := sn.Stats()
	t.Logf("two servers, one killed after %s with %d loads half-written (%v): all loaded %s after the kill; "+
		"%d jobs ran on both; %d calls (clean loads: %d), %d answered 429, %d retries, operator actions: 0",
		killed.Sub(start).Round(100*time.Millisecond), len(interrupted), interrupted, time.Since(killed).Round(100*time.Millisecond),
		takenOver, st.Calls, want.calls, st.RateLimited, retries)
}
