package main

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// crashingTarget cancels the load's context right after its n-th insert,
// as if the process died there.
type crashingTarget struct {
	loader.Target
	after  int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *crashingTarget) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	r, err := c.Target.Insert(ctx, table, fields)
	if err == nil && c.n.Add(1) == c.after {
		c.cancel()
	}
	return r, err
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
		crash := &crashingTarget{Target: target, after: after}
		cfg := testConfig(t, map[string]string{"BOOKBRIDGE_DATABASE_URL": dbtest.SQLiteURL(t)})
		a, err := app.Open(context.Background(), cfg, app.Options{Logger: testLogger(t), Target: crash})
		if err != nil {
			t.Fatal(err)
		}
		id := stageReady(t, a, 1)[0]
		if _, err := a.EnqueueLoad(context.Background(), id, "test"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		crash.cancel = cancel
		if err := a.RunLoad(ctx, id, "test"); err == nil {
			t.Fatalf("after %d inserts: the interrupted load reported no error", after)
		}
		rec, err := a.Store.Get(context.Background(), id)
		if err != nil || rec.State != staging.StateLoading || len(rec.Load.Journal) == 0 {
			t.Fatalf("after %d inserts: record %s with journal %d bytes (%v)", after, rec.State, len(rec.Load.Journal), err)
		}
		// The job runs again (River retries it) and resumes: the company,
		// inserted before the crash, is taken from the journal, not looked
		// up or written again.
		sn.ResetCalls()
		if err := a.RunLoad(context.Background(), id, "test"); err != nil {
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
