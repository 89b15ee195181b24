package main

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// crashingTarget stops the load right after its n-th insert, as if the
// process died there: the load's context is cancelled and no later write
// reaches ServiceNow. Its writes go one at a time, so that "after n
// inserts" is exact however the loader runs them.
type crashingTarget struct {
	loader.Target
	after  atomic.Int64 // math.MaxInt64 once "restarted"
	mu     sync.Mutex
	n      int64
	cancel context.CancelFunc
}

var errCrashed = errors.New("the process died here")

func (c *crashingTarget) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.after.Load() {
		return loader.Record{}, errCrashed
	}
	r, err := c.Target.Insert(ctx, table, fields)
	if err == nil {
		if c.n++; c.n == c.after.Load() {
			c.cancel()
		}
	}
	return r, err
}

func (c *crashingTarget) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.after.Load() {
		return loader.Record{}, errCrashed
	}
	return c.Target.Update(ctx, table, id, fields)
}

func (c *crashingTarget) Attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.after.Load() {
		return loader.AttachmentInfo{}, errCrashed
	}
	return c.Target.Attach(ctx, table, id, f)
}

// TestLoadResumesAfterACrash interrupts a load after each insert in turn;
// running the job again resumes its saved plan and journal and ends with
// the same rows as an uninterrupted load, none written twice.
func TestLoadResumesAfterACrash(t *testing.T) {
	for _, after := range []int64{1, 2, 4, 8} {
		sn := sntest.NewServer(t, sntest.Options{Username: "svc", Password: "pw", SeedChoices: true})
		target, err := servicenow.New(servicenow.Config{BaseURL: sn.URL(), Username: "svc", Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		crash := &crashingTarget{Target: target}
		crash.after.Store(after)
		cfg := testConfig(t, map[string]string{"BOOKBRIDGE_DATABASE_URL": dbtest.SQLiteURL(t)})
		a, err := app.Open(context.Background(), cfg, app.Options{Logger: testLogger(t), Target: crash})
		if err != nil {
			t.Fatal(err)
		}
		id := stageReady(t, a, 1)[0]
		if _, err := a.Flow.EnqueueLoad(context.Background(), id, "test"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		crash.cancel = cancel
		if err := a.Flow.RunLoad(ctx, id, "test"); err == nil {
			t.Fatalf("after %d inserts: the interrupted load reported no error", after)
		}
		rec, err := a.Store.Get(context.Background(), id)
		if err != nil || rec.State != staging.StateLoading || len(rec.Load.Journal) == 0 {
			t.Fatalf("after %d inserts: record %s with journal %d bytes (%v)", after, rec.State, len(rec.Load.Journal), err)
		}
		// The process starts again, and so does the job (River retries
		// it), which resumes: the company,
		// inserted before the crash, is taken from the journal, not looked
		// up or written again.
		crash.after.Store(math.MaxInt64)
		sn.ResetCalls()
		if err := a.Flow.RunLoad(context.Background(), id, "test"); err != nil {
			t.Fatal(err)
		}
		if n := sn.CountCalls("", "/api/now/table/core_company"); n != 0 {
			t.Errorf("after %d inserts: the resumed load called core_company %d times", after, n)
		}
		if rec, _ = a.Store.Get(context.Background(), id); rec.State != staging.StateLoaded {
			t.Fatalf("after %d inserts: %s after resuming: %s", after, rec.State, rec.Load.Error)
		}
		tables := sn.Dump()
		for table, n := range map[string]int{"core_company": 1, "u_ams_finance_names": 1, "u_managed_services_sales_order": 1, "u_sales_skus": 6} {
			if len(tables[table]) != n {
				t.Errorf("after %d inserts: %s has %d rows, want %d", after, table, len(tables[table]), n)
			}
		}
		if files := sn.Files()[tables["u_managed_services_sales_order"][0].ID]; len(files) != 0 {
			// stageReady's emails carry no files; the resumed load must not invent any.
			t.Errorf("after %d inserts: files %v", after, files)
		}
		a.Close()
	}
}
