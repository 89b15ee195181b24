package bookbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// liveTarget is a load target and a way to change its rows behind
// bookbridge's back, as a person working in it would.
type liveTarget struct {
	target     loader.Target
	edit       func(t *testing.T, table, id, field, value string)
	deleteRow  func(t *testing.T, table, id string)
	dropFiles  func(t *testing.T, table, id string)
	writes     func() int
	resetCalls func()
}

func snLive(t *testing.T, _ *bun.DB) liveTarget {
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	tg, err := servicenow.New(servicenow.Config{BaseURL: srv.URL(), Username: sntest.DefaultUsername, Password: sntest.DefaultPassword, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	return liveTarget{
		target: tg,
		edit: func(t *testing.T, table, id, field, value string) {
			if !srv.Edit(table, id, map[string]string{field: value}) {
				t.Fatalf("no %s %s in the double", table, id)
			}
		},
		deleteRow: func(t *testing.T, table, id string) {
			if !srv.Delete(table, id) {
				t.Fatalf("no %s %s in the double", table, id)
			}
		},
		dropFiles: func(t *testing.T, table, id string) {
			for _, f := range srv.Files()[id] {
				srv.DeleteFile(f.ID)
			}
		},
		writes: func() int {
			n := 0
			for _, w := range srv.Stats().Writes {
				n += w
			}
			return n
		},
		resetCalls: srv.ResetCalls,
	}
}

// countingSQL is the SQL target counting its write calls.
type countingSQL struct {
	*sqltarget.Target
	mu sync.Mutex
	n  int
}

func (c *countingSQL) count() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *countingSQL) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	c.count()
	return c.Target.Insert(ctx, table, fields)
}

func (c *countingSQL) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	c.count()
	return c.Target.Update(ctx, table, id, fields)
}

func (c *countingSQL) Attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	c.count()
	return c.Target.Attach(ctx, table, id, f)
}

func sqlLive(t *testing.T, db *bun.DB) liveTarget {
	ctx := context.Background()
	tg := sqltarget.New(db, sqltarget.Options{})
	if err := tg.EnsureReferenceTables(ctx); err != nil {
		t.Fatal(err)
	}
	c := &countingSQL{Target: tg}
	exec := func(t *testing.T, query string, args ...any) {
		res, err := db.NewRaw(query, args...).Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("%s %v changed nothing", query, args)
		}
	}
	return liveTarget{
		target: c,
		edit: func(t *testing.T, table, id, field, value string) {
			exec(t, "UPDATE ? SET ? = ? WHERE sys_id = ?", bun.Ident(table), bun.Ident(field), value, id)
		},
		deleteRow: func(t *testing.T, table, id string) {
			exec(t, "DELETE FROM ? WHERE sys_id = ?", bun.Ident(table), id)
		},
		dropFiles: func(t *testing.T, table, id string) {
			exec(t, "DELETE FROM ? WHERE table_name = ? AND table_sys_id = ?", bun.Ident(sqltarget.AttachmentsTable), table, id)
		},
		writes: func() int {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.n
		},
		resetCalls: func() {
			c.mu.Lock()
			c.n = 0
			c.mu.Unlock()
		},
	}
}

func directFlow(t *testing.T, db *bun.DB, target loader.Target) *bookbridge.Flow {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	flow, err := bookbridge.New(bookbridge.Config{Store: staging.New(db, staging.WithLogger(quiet)), Rules: rules, Target: target, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return flow
}

// stepTarget returns the target row of a step of the record's last load.
func stepTarget(t *testing.T, rec *staging.Record, step string) string {
	t.Helper()
	var res loader.Result
	if err := json.Unmarshal(rec.Load.Result, &res); err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		if s.ID == step && s.TargetID != "" {
			return s.TargetID
		}
	}
	t.Fatalf("%s: no row for step %s in %s", rec.Number, step, rec.Load.Result)
	return ""
}

// stepValue returns the value the record's last load wrote into a field
// of a step's row it inserted.
func stepValue(t *testing.T, rec *staging.Record, step, field string) string {
	t.Helper()
	var res loader.Result
	if err := json.Unmarshal(rec.Load.Result, &res); err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		for _, c := range s.Changes {
			if s.ID == step && c.Field == field {
				return c.New
			}
		}
	}
	t.Fatalf("%s: the load wrote no %s.%s", rec.Number, step, field)
	return ""
}

func driftLines(rr bookbridge.RecordReconciliation) []string {
	var out []string
	for _, d := range rr.Drifts {
		out = append(out, d.Kind+" "+d.Step+" "+d.Field+d.FileName+" "+d.Expected+"->"+d.Actual)
	}
	slices.Sort(out)
	return out
}

// Reconcile reports a deleted row, an edited field and a removed file of
// a loaded record, with no write; an acknowledged drift is not reported
// again until the row changes again. On both targets and both stores.
func TestReconcileFindsDrift(t *testing.T) {
	targets := []struct {
		name string
		open func(t *testing.T, db *bun.DB) liveTarget
	}{{"servicenow", snLive}, {"sql", sqlLive}}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				live := tc.open(t, db)
				flow := directFlow(t, db, live.target)
				rec := stageReady(t, flow)
				loaded, err := flow.Load(ctx, rec.ID, "test")
				if err != nil || loaded.State != staging.StateLoaded {
					t.Fatalf("load: %v %s", err, describeLoad(loaded))
				}
				other := intakeOnly(t, flow)
				live.resetCalls()

				reconcile := func(t *testing.T, opts bookbridge.ReconcileOptions) bookbridge.ReconcileReport {
					t.Helper()
					report, err := flow.Reconcile(ctx, opts)
					if err != nil {
						t.Fatalf("Reconcile: %v", err)
					}
					if n := live.writes(); n != 0 {
						t.Fatalf("Reconcile made %d writes, want none", n)
					}
					return report
				}

				report := reconcile(t, bookbridge.ReconcileOptions{})
				if len(report.Records) != 1 || report.Records[0].Number != loaded.Number || report.Records[0].Status != bookbridge.ReconcileInSync || report.InSync != 1 {
					t.Fatalf("fresh load: %+v, want %s in sync (the only loaded record)", report, loaded.Number)
				}
				// company, finance name, sales order, 6 SKUs.
				if got := report.Records[0].Rows; got != 9 {
					t.Errorf("rows checked = %d, want 9", got)
				}
				// One read per table and one listing of files.
				if report.Calls.Get != 4 || report.Calls.Attachments != 1 {
					t.Errorf("calls = %+v, want 4 reads and 1 listing", report.Calls)
				}

				sku := stepTarget(t, loaded, "skus[0]")
				qty := stepValue(t, loaded, "skus[0]", "u_qty")
				if qty == "7" || qty == "8" {
					t.Fatalf("the sample's first SKU has quantity %s; the test edits it to 7 and 8", qty)
				}
				so := stepTarget(t, loaded, "sales_order")
				finance := stepTarget(t, loaded, "finance_name")
				live.edit(t, "u_sales_skus", sku, "u_qty", "7")
				live.deleteRow(t, "u_ams_finance_names", finance)
				live.dropFiles(t, "u_managed_services_sales_order", so)

				report = reconcile(t, bookbridge.ReconcileOptions{Records: []int64{loaded.ID, other.ID}})
				if len(report.Records) != 2 || report.Drifted != 1 || report.Errors != 1 {
					t.Fatalf("after the edits: drifted %d, errors %d, records %+v", report.Drifted, report.Errors, report.Records)
				}
				rr := report.Records[0]
				if rr.ID != loaded.ID {
					rr = report.Records[1]
				}
				want := []string{
					"attachment_missing sales_order Contract_DR00004711.pdf ->",
					"field_changed skus[0] u_qty " + qty + "->7",
					"row_missing finance_name  ->",
				}
				if got := driftLines(rr); rr.Status != bookbridge.ReconcileDrifted || !slices.Equal(got, want) {
					t.Fatalf("drifts = %s %q, want drifted %q", rr.Status, got, want)
				}
				for _, d := range rr.Drifts {
					if d.TargetID == "" || d.Table == "" {
						t.Errorf("drift %+v does not name the target row", d)
					}
				}

				ack, err := flow.AcknowledgeDrift(ctx, loaded.ID, "olga")
				if err != nil || ack.Status != bookbridge.ReconcileAcknowledged || ack.Acknowledged.By != "olga" {
					t.Fatalf("AcknowledgeDrift: %+v %v", ack, err)
				}
				hist, err := flow.Store().History(ctx, loaded.ID)
				if err != nil || hist[len(hist)-1].Kind != staging.EventDriftAcknowledged || hist[len(hist)-1].User != "olga" {
					t.Fatalf("history does not end with the acknowledgement: %v", err)
				}
				report = reconcile(t, bookbridge.ReconcileOptions{})
				if report.Drifted != 0 || report.Acknowledged != 1 || report.Records[0].Status != bookbridge.ReconcileAcknowledged {
					t.Fatalf("after the acknowledgement: %+v, want it acknowledged, not drifted", report.Records)
				}

				// The row changes again: reported again.
				live.edit(t, "u_sales_skus", sku, "u_qty", "8")
				report = reconcile(t, bookbridge.ReconcileOptions{})
				if report.Drifted != 1 || report.Records[0].Status != bookbridge.ReconcileDrifted {
					t.Fatalf("after a second edit: %+v, want drifted again", report.Records)
				}
				if got := driftLines(report.Records[0]); !slices.Contains(got, "field_changed skus[0] u_qty "+qty+"->8") {
					t.Errorf("drifts = %q, want u_qty %s -> 8", got, qty)
				}

				// Restored by hand: the SKU no longer drifts.
				live.edit(t, "u_sales_skus", sku, "u_qty", qty)
				report = reconcile(t, bookbridge.ReconcileOptions{})
				if got := driftLines(report.Records[0]); len(got) != 2 {
					t.Errorf("after restoring u_qty: drifts %q, want the missing row and file only", got)
				}
			})
		})
	}
}

// intakeOnly stages a second deal that is not loaded.
func intakeOnly(t *testing.T, flow *bookbridge.Flow) *staging.Record {
	t.Helper()
	body, err := os.ReadFile("examples/payloads/deal-basic.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := flow.AcceptDeal(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := flow.FindRecord(context.Background(), res.Record.Number)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestAcknowledgeDriftInSync(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		live := snLive(t, db)
		flow := directFlow(t, db, live.target)
		rec := stageReady(t, flow)
		if _, err := flow.Load(context.Background(), rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := flow.AcknowledgeDrift(context.Background(), rec.ID, "olga"); !errors.Is(err, bookbridge.ErrNoDrift) {
			t.Fatalf("AcknowledgeDrift of a record in sync: %v, want ErrNoDrift", err)
		}
	})
}
