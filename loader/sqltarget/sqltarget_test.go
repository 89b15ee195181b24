package sqltarget_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

var refTables = []string{"core_company", "u_ams_finance_names", "u_managed_services_sales_order", "u_sales_skus", "problem"}

func newTarget(t *testing.T, db *bun.DB) *sqltarget.Target {
	t.Helper()
	tg := sqltarget.New(db, sqltarget.Options{})
	if err := tg.EnsureReferenceTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target { return newTarget(t, dbtest.SQLite(t)) })
	})
	t.Run("postgres", func(t *testing.T) {
		dbtest.RequirePostgres(t)
		loadertest.RunConformance(t, func(t *testing.T) loader.Target { return newTarget(t, dbtest.Postgres(t)) })
	})
}

func TestEnsureReferenceTablesIsRepeatable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		tg := newTarget(t, db)
		if err := tg.EnsureReferenceTables(ctx); err != nil {
			t.Fatalf("second run: %v", err)
		}
		recs, _, err := tg.Dump(ctx, "sys_choice")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(recs["sys_choice"]); n != len(refschema.BlockNumberChoices()) {
			t.Errorf("%d choices after two runs, want %d", n, len(refschema.BlockNumberChoices()))
		}
		// A column added to the schema later is added to the table.
		if err := tg.EnsureTables(ctx, map[string][]string{"core_company": {"u_new_field"}}, nil); err != nil {
			t.Fatal(err)
		}
		rec, err := tg.Insert(ctx, "core_company", map[string]string{"u_new_field": "x", "u_ecc_id": "1"})
		if err != nil || rec.Fields["u_new_field"] != "x" {
			t.Fatalf("insert into the new column: %v %v", rec, err)
		}
	})
}

func TestReferencePlanTwiceAndTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		tg := newTarget(t, db)
		plan := loadertest.ReferencePlan(10)
		saves := 0
		opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: func(context.Context, loader.Journal) error { saves++; return nil }}
		first, err := loader.Apply(ctx, plan, tg, loader.Journal{}, opts)
		if err != nil || first.Status != loader.StatusLoaded {
			t.Fatalf("first load: %v %s", err, first.Summary())
		}
		if saves != 1 || len(first.Journal.Writes) != 14 {
			t.Errorf("journal saved %d times with %d writes; want once, after the commit, with 14", saves, len(first.Journal.Writes))
		}
		recs, files, err := tg.Dump(ctx, refTables...)
		if err != nil {
			t.Fatal(err)
		}
		after := loadertest.Canonical(recs, files)
		if n := len(recs["u_sales_skus"]); n != 10 {
			t.Errorf("%d SKUs", n)
		}
		if v := recs["core_company"][0].Fields["u_block_number"]; v != "3" {
			t.Errorf("block number %q, want 3", v)
		}
		second, err := loader.Apply(ctx, plan, tg, loader.Journal{}, opts)
		if err != nil || second.Changed() || second.Status != loader.StatusLoaded {
			t.Fatalf("second load: %v %s", err, second.Summary())
		}
		recs, files, _ = tg.Dump(ctx, refTables...)
		if got := loadertest.Canonical(recs, files); got != after {
			t.Errorf("second load changed the tables")
		}
		so := recs["u_managed_services_sales_order"][0].ID
		content, err := tg.FileContent(ctx, files[so][0].ID)
		if err != nil || loadertest.SHA256Hex(content) != files[so][0].SHA256 {
			t.Errorf("stored file: %v", err)
		}
	})
}

// failingSource fails the upload, the last write of the reference load
// with no SKUs.
type failingSource struct{}

func (failingSource) Open(context.Context, string) ([]byte, error) {
	return nil, errors.New("staging store unavailable")
}

func TestAFailedLoadLeavesNothingBehind(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		tg := newTarget(t, db)
		res, err := loader.Apply(ctx, loadertest.ReferencePlan(3), tg, loader.Journal{}, loader.Options{Attachments: failingSource{}})
		if err == nil || res.Status != loader.StatusFailed {
			t.Fatalf("err %v status %s", err, res.Status)
		}
		if len(res.Journal.Writes) != 0 {
			t.Errorf("the journal reports %d writes that were rolled back", len(res.Journal.Writes))
		}
		recs, _, err := tg.Dump(ctx, refTables...)
		if err != nil {
			t.Fatal(err)
		}
		for table, rows := range recs {
			if len(rows) != 0 {
				t.Errorf("%s has %d rows after a failed load", table, len(rows))
			}
		}
		// The retry with a working source loads everything.
		res, err = loader.Apply(ctx, loadertest.ReferencePlan(3), tg, res.Journal, loader.Options{Attachments: loadertest.ReferenceFiles()})
		if err != nil || res.Status != loader.StatusLoaded || res.Count(loader.Inserted) != 6 {
			t.Fatalf("retry: %v %s", err, res.Summary())
		}
	})
}

func TestUnknownTableAndColumn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		tg := newTarget(t, db)
		if _, err := tg.Find(ctx, loader.Query{Table: "u_nope", Where: []map[string]string{{"a": "1"}}}); err == nil {
			t.Error("find in an unknown table")
		}
		if _, err := tg.Find(ctx, loader.Query{Table: "core_company", Where: []map[string]string{{"u_nope": "1"}}}); err == nil {
			t.Error("find on an unknown column")
		}
		if _, err := tg.Insert(ctx, "core_company; DROP TABLE problem", map[string]string{"a": "1"}); err == nil {
			t.Error("a table name that is not a name")
		}
	})
}

// TestCrashAfterCommitBeforeJournalSave: the load committed but the journal
// was not saved; loading again finds every record and writes nothing.
func TestCrashAfterCommitBeforeJournalSave(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		tg := newTarget(t, db)
		crash := errors.New("crash before the journal was saved")
		opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: func(context.Context, loader.Journal) error { return crash }}
		res, err := loader.Apply(ctx, loadertest.ReferencePlan(4), tg, loader.Journal{}, opts)
		if !errors.Is(err, crash) || res.Status != loader.StatusFailed {
			t.Fatalf("err %v status %s", err, res.Status)
		}
		again, err := loader.Apply(ctx, loadertest.ReferencePlan(4), tg, loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()})
		if err != nil || again.Changed() || again.Count(loader.Unchanged) != 7 {
			t.Fatalf("after the crash: %v %s", err, again.Summary())
		}
	})
}
