package bookbridge_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// targetFault is an error of the faulty target, transient or not.
type targetFault struct {
	msg       string
	transient bool
}

func (e *targetFault) Error() string   { return e.msg }
func (e *targetFault) Transient() bool { return e.transient }

// faultyTarget is a memory target whose writes fail while fail returns an
// error; it counts the writes that reached the tables.
type faultyTarget struct {
	*memory.Target
	mu     sync.Mutex
	fail   func(write int) error
	writes int      // write calls
	done   int      // write calls that succeeded
	calls  []string // each write call and how it ended, for failure messages
}

func (t *faultyTarget) check(what string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes++
	var err error
	if t.fail != nil {
		err = t.fail(t.writes)
	}
	t.calls = append(t.calls, fmt.Sprintf("%d %s: %v", t.writes, what, err))
	if err == nil {
		t.done++
	}
	return err
}

// callLog returns the write calls, one a line.
func (t *faultyTarget) callLog() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.calls, "\n")
}

func (t *faultyTarget) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	if err := t.check("insert " + table); err != nil {
		return loader.Record{}, err
	}
	return t.Target.Insert(ctx, table, fields)
}

func (t *faultyTarget) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	if err := t.check("update " + table + " " + id); err != nil {
		return loader.Record{}, err
	}
	return t.Target.Update(ctx, table, id, fields)
}

func newFaultyTarget() *faultyTarget {
	t := &faultyTarget{Target: memory.New(memory.Options{Tables: refschema.Tables()})}
	for _, c := range refschema.BlockNumberChoices() {
		t.Seed("sys_choice", c)
	}
	return t
}

// riverFlow is a Flow whose loads run on a River client over the test's
// database, as an embedding service would set it up.
func riverFlow(t *testing.T, db *bun.DB, target loader.Target, retry bookbridge.LoadRetry) *bookbridge.Flow {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	flow, err := bookbridge.New(bookbridge.Config{
		Store: staging.New(db, staging.WithLogger(quiet)), Rules: rules, Target: target, Logger: quiet, LoadRetry: retry,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	driver := riverdatabasesql.New(db.DB)
	var migrator *rivermigrate.Migrator[*sql.Tx]
	if bundb.KindOf(db) == bundb.SQLite {
		migrator, err = rivermigrate.New(riversqlite.New(db.DB), nil)
	} else {
		migrator, err = rivermigrate.New(driver, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	flow.AddWorkers(workers)
	cfg := &river.Config{Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 20 * time.Millisecond, Logger: quiet, TestOnly: true}
	var client *river.Client[*sql.Tx]
	if bundb.KindOf(db) == bundb.SQLite {
		client, err = river.NewClient(riversqlite.New(db.DB), cfg)
	} else {
		client, err = river.NewClient(driver, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	flow.UseQueue(client)
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})
	return flow
}

// stageReady stages the sample deal and its PH email.
func stageReady(t *testing.T, flow *bookbridge.Flow) *staging.Record {
	t.Helper()
	ctx := context.Background()
	deal, _ := os.ReadFile("examples/payloads/deal-full.json")
	if _, err := flow.AcceptDeal(ctx, deal); err != nil {
		t.Fatal(err)
	}
	eml, _ := os.ReadFile("examples/emails/ph-deal-full.eml")
	res, err := flow.ProcessEmail(ctx, eml, "test")
	if err != nil || res.Outcome != "applied" {
		t.Fatalf("email: %+v %v", res, err)
	}
	rec, err := flow.FindRecord(ctx, res.Number)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitLeftLoading waits (bounded) until the record is no longer loading.
func waitLeftLoading(t *testing.T, flow *bookbridge.Flow, id int64, within time.Duration) *staging.Record {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rec, err := flow.Store().Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != staging.StateLoading {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still loading after %s: %s", rec.Number, within, describeLoad(rec))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The load worker tries a load again through transient failures, resuming
// from its journal, and fails a permanent one at once; on both engines.
func TestLoadWorkerRetriesTransientFailures(t *testing.T) {
	fast := bookbridge.LoadRetry{Window: time.Minute, MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}
	cases := []struct {
		name        string
		retry       bookbridge.LoadRetry
		fail        func(write int) error
		wantState   staging.State
		wantRetries int
		transient   bool
		wantError   string
	}{
		{
			name:  "an outage of three writes heals",
			retry: fast,
			fail: func(w int) error {
				if w >= 3 && w <= 5 {
					return &targetFault{"connection refused", true}
				}
				return nil
			},
			wantState: staging.StateLoaded, wantRetries: 3,
		},
		{
			name:      "a permanent failure fails at once",
			retry:     fast,
			fail:      func(w int) error { return &targetFault{"ServiceNow answered 403 Forbidden", false} },
			wantState: staging.StateLoadFailed, wantError: "403",
		},
		{
			name:  "a failure that outlasts the window fails with its reason",
			retry: bookbridge.LoadRetry{Window: 300 * time.Millisecond, MinDelay: 100 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
			fail: func(w int) error {
				return &targetFault{"ServiceNow answered 503", true}
			},
			wantState: staging.StateLoadFailed, wantError: "gave up retrying", transient: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *bun.DB) {
				target := newFaultyTarget()
				target.fail = tc.fail
				flow := riverFlow(t, db, target, tc.retry)
				rec := stageReady(t, flow)
				if _, err := flow.EnqueueLoad(context.Background(), rec.ID, "test"); err != nil {
					t.Fatal(err)
				}
				got := waitLeftLoading(t, flow, rec.ID, 30*time.Second)
				if got.State != tc.wantState {
					t.Fatalf("state %s, want %s", describeLoad(got), tc.wantState)
				}
				// Independent writes run concurrently, so one run may meet
				// several of the failing writes: each run counts one retry.
				if tc.wantRetries > 0 && (got.Load.Retries < 1 || got.Load.Retries > tc.wantRetries) {
					t.Errorf("retries %d, want 1 to %d", got.Load.Retries, tc.wantRetries)
				}
				if tc.wantState == staging.StateLoadFailed && !tc.transient && got.Load.Retries != 0 {
					t.Errorf("a permanent failure was retried %d times", got.Load.Retries)
				}
				if tc.wantError != "" && !containsFold(got.Load.Error, tc.wantError) {
					t.Errorf("error %q, want it to say %q", got.Load.Error, tc.wantError)
				}
				if got.Load.Retrying() {
					t.Errorf("the finished load still has a next try: %s", describeLoad(got))
				}
				rows := target.Dump()
				if tc.wantState == staging.StateLoaded {
					for table, n := range map[string]int{"core_company": 1, "u_ams_finance_names": 1, "u_managed_services_sales_order": 1, "u_sales_skus": 6} {
						if len(rows[table]) != n {
							t.Errorf("%s holds %d rows, want %d", table, len(rows[table]), n)
						}
					}
				}
				if job, err := flow.LoadJobOf(context.Background(), rec.ID); err != nil || job == nil {
					t.Errorf("load job: %+v %v", job, err)
				}
			})
		})
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// An operator sees the partial writes of a retrying load, makes it try
// now, stops it, and retries it with the failed loads: the retry resumes
// from the journal, so the target gets each write once.
func TestRetryNowStopAndRetryFailed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		// The writes of a load that never failed, on a database of its own.
		cleanDB, err := bundb.Open(ctx, filepath.Join(t.TempDir(), "clean.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer cleanDB.Close()
		clean := newFaultyTarget()
		cleanFlow := riverFlow(t, cleanDB, clean, bookbridge.LoadRetry{})
		first := stageReady(t, cleanFlow)
		if _, err := cleanFlow.Load(ctx, first.ID, "test"); err != nil {
			t.Fatal(err)
		}
		wantWrites := clean.done

		target := newFaultyTarget()
		var down sync.Mutex
		outage := true
		target.fail = func(w int) error {
			down.Lock()
			defer down.Unlock()
			if outage && w > 2 {
				return &targetFault{"dial tcp 127.0.0.1:1: connection refused", true}
			}
			return nil
		}
		flow := riverFlow(t, db, target, bookbridge.LoadRetry{Window: 24 * time.Hour, MinDelay: time.Hour})
		rec := stageReady(t, flow)
		if _, err := flow.EnqueueLoad(ctx, rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		retrying := waitFor(t, flow, rec.ID, func(r *staging.Record) bool { return r.Load.Retries == 1 })
		if retrying.State != staging.StateLoading || !retrying.Load.Retrying() || !strings.Contains(retrying.Load.Error, "connection refused") {
			t.Fatalf("after the first failure: %s", describeLoad(retrying))
		}
		p := flow.Progress(retrying)
		if p == nil || len(p.Pending) == 0 {
			t.Fatalf("progress of the retrying load: %+v", p)
		}
		rows := 0
		for _, w := range p.Written {
			if w.Op != loader.OpAttach {
				rows++
			}
		}
		if rows != 2 {
			t.Errorf("progress lists %d rows written, the target took 2: %+v", rows, p.Written)
		}
		if err := flow.RetryNow(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, flow, rec.ID, func(r *staging.Record) bool { return r.Load.Retries == 2 })
		stopped, err := flow.StopRetrying(ctx, rec.ID, "olga")
		if err != nil {
			t.Fatal(err)
		}
		if stopped.State != staging.StateLoadFailed || !strings.Contains(stopped.Load.Error, "olga") || !strings.Contains(stopped.Load.Error, "connection refused") {
			t.Fatalf("after stopping: %s %q", stopped.State, stopped.Load.Error)
		}
		if err := flow.RetryNow(ctx, rec.ID); err == nil {
			t.Error("RetryNow of a failed load was accepted")
		}

		down.Lock()
		outage = false
		down.Unlock()
		if got, err := flow.FailedLoads(ctx, bookbridge.RetryFilter{ErrorContains: "no such text"}); err != nil || len(got) != 0 {
			t.Fatalf("a filter matching nothing: %v %v", got, err)
		}
		retried, err := flow.RetryFailed(ctx, bookbridge.RetryFilter{ErrorContains: "CONNECTION REFUSED"}, "olga")
		if err != nil || len(retried) != 1 || retried[0].JobID == 0 || retried[0].Number != rec.Number {
			t.Fatalf("RetryFailed: %+v %v", retried, err)
		}
		done := waitLeftLoading(t, flow, rec.ID, 30*time.Second)
		if done.State != staging.StateLoaded {
			t.Fatalf("after the retry: %s", describeLoad(done))
		}
		// Writes that reached the target before the failure were not made
		// again: as many succeeded as in a clean run, however many failed
		// (a try's steps that do not depend on each other are written side
		// by side, and a varying number of them meets the outage).
		if got := target.done; got != wantWrites {
			t.Errorf("the target got %d successful writes, a clean load makes %d; the write calls:\n%s\nthe clean load's:\n%s",
				got, wantWrites, target.callLog(), clean.callLog())
		}
		if n := len(target.Dump()["u_sales_skus"]); n != len(clean.Dump()["u_sales_skus"]) {
			t.Errorf("%d SKU rows, a clean load writes %d", n, len(clean.Dump()["u_sales_skus"]))
		}
	})
}

// waitFor waits (bounded) until ok holds for the record.
func waitFor(t *testing.T, flow *bookbridge.Flow, id int64, ok func(*staging.Record) bool) *staging.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := flow.Store().Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met in 30s: %s", rec.Number, describeLoad(rec))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describeLoad is a record's load without its journal, for messages.
func describeLoad(r *staging.Record) string {
	return fmt.Sprintf("%s attempts=%d retries=%d next_try_at=%s error=%q", r.State, r.Load.Attempts, r.Load.Retries, r.Load.NextTryAt, r.Load.Error)
}
