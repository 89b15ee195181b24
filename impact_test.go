package bookbridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// dumpTarget is a target whose rows a test can read back.
type dumpTarget struct {
	loader.Target
	dump func(t *testing.T) map[string][]map[string]string
}

func memoryTarget(t testing.TB) dumpTarget {
	m := memory.New(memory.Options{Tables: refschema.Tables()})
	for _, c := range refschema.BlockNumberChoices() {
		m.Seed("sys_choice", c)
	}
	return dumpTarget{Target: m, dump: func(t *testing.T) map[string][]map[string]string {
		out := map[string][]map[string]string{}
		for table, recs := range m.Dump() {
			for _, r := range recs {
				row := map[string]string{"sys_id": r.ID}
				for k, v := range r.Fields {
					row[k] = v
				}
				out[table] = append(out[table], row)
			}
		}
		return out
	}}
}

func sqlTarget(t *testing.T) dumpTarget {
	db := dbtest.SQLite(t)
	st := sqltarget.New(db, sqltarget.Options{})
	if err := st.EnsureReferenceTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dumpTarget{Target: st, dump: func(t *testing.T) map[string][]map[string]string {
		out := map[string][]map[string]string{}
		for table := range refschema.Tables() {
			var rows []map[string]any
			if err := db.NewSelect().Table(table).Scan(context.Background(), &rows); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				row := map[string]string{}
				for k, v := range r {
					if v != nil {
						row[k] = fmt.Sprint(v)
					}
				}
				out[table] = append(out[table], row)
			}
		}
		return out
	}}
}

// canonical writes a target's rows as sorted lines without ids: a value
// that is the sys_id of a row is written as the table it points into.
func canonical(t *testing.T, tgt dumpTarget) []string {
	rows := tgt.dump(t)
	ids := map[string]string{}
	for table, rs := range rows {
		for _, r := range rs {
			ids[r["sys_id"]] = table
		}
	}
	var out []string
	for table, rs := range rows {
		if table == "sys_choice" {
			continue
		}
		for _, r := range rs {
			var parts []string
			for k, v := range r {
				if k == "sys_id" || k == "sys_created_on" || v == "" {
					continue
				}
				if to, ok := ids[v]; ok {
					v = "->" + to
				}
				parts = append(parts, k+"="+v)
			}
			sort.Strings(parts)
			out = append(out, table+": "+strings.Join(parts, " "))
		}
	}
	sort.Strings(out)
	return out
}

func compileRules(t testing.TB, path string) *mapping.Rules {
	t.Helper()
	var data []byte
	var err error
	if path == mappings.ReferenceName {
		data = mappings.Reference
	} else if data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	rules, err := mapping.Compile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

const nextRules = "examples/mappings/reference-next.yaml"

// newFlow is a Flow without a queue on db, loading into target with the
// reference rules, at a fixed clock.
func newFlow(t testing.TB, db *bun.DB, target loader.Target, parser *phmail.Parser) *bookbridge.Flow {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	now := func() time.Time { return time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC) }
	flow, err := bookbridge.New(bookbridge.Config{
		Store: staging.New(db, staging.WithLogger(quiet), staging.WithClock(now)), Rules: compileRules(t, mappings.ReferenceName),
		Target: target, Logger: quiet, Now: now, Parser: parser,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := flow.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return flow
}

// A rule change that adds a field and drops a SKU family shows exactly
// those changes, and a reload applies exactly those: the target holds the
// rows of a fresh load under the new rules, plus the rows no longer
// written, which the reload keeps. On both stores and both targets.
func TestImpactAndReload(t *testing.T) {
	targets := []struct {
		name string
		make func(t *testing.T) dumpTarget
	}{{"memory", func(t *testing.T) dumpTarget { return memoryTarget(t) }}, {"sql", sqlTarget}}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				target := tc.make(t)
				flow := newFlow(t, db, target, nil)
				rec := stageReady(t, flow)
				if got, err := flow.Load(ctx, rec.ID, "test"); err != nil || got.State != staging.StateLoaded {
					t.Fatalf("first load: %v %v", got, err)
				}
				next := compileRules(t, nextRules)

				rep, err := flow.Impact(ctx, next, bookbridge.ImpactOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Checked != 1 || rep.Changed != 1 || rep.Failed != 0 || len(rep.Records) != 1 {
					t.Fatalf("report counts: checked %d changed %d failed %d", rep.Checked, rep.Changed, rep.Failed)
				}
				ri := rep.Records[0]
				var gone []string
				for _, r := range ri.NoLongerWritten {
					gone = append(gone, r.Key)
				}
				wantGone := []string{
					"skus u_sales_skus[u_adobe_sku=65300104, u_dr_number=ref:sales_order]",
					"skus u_sales_skus[u_adobe_sku=65300111, u_dr_number=ref:sales_order]",
				}
				if !slices.Equal(gone, wantGone) {
					t.Errorf("no longer written:\n%s\nwant\n%s", strings.Join(gone, "\n"), strings.Join(wantGone, "\n"))
				}
				if len(ri.Added) != 0 {
					t.Errorf("added %v, want none", ri.Added)
				}
				if len(ri.Fields) != 1 || ri.Fields[0].Field != "on_update.u_tenant_id" || ri.Fields[0].OldSet ||
					!ri.Fields[0].NewSet || ri.Fields[0].New != rec.PH.Fields["tenant_id"] || ri.Fields[0].Table != "core_company" {
					t.Errorf("fields %+v, want only on_update.u_tenant_id set to %q", ri.Fields, rec.PH.Fields["tenant_id"])
				}
				wantTables := []bookbridge.TableImpact{
					{Table: "core_company", Fields: []bookbridge.FieldCount{{Field: "on_update.u_tenant_id", Rows: 1}}},
					{Table: "u_sales_skus", RowsNoLongerWritten: 2, Fields: []bookbridge.FieldCount{}},
				}
				if fmt.Sprint(rep.Tables) != fmt.Sprint(wantTables) {
					t.Errorf("tables %+v, want %+v", rep.Tables, wantTables)
				}

				// A report against other rules than those in use reloads nothing.
				if _, err := flow.ReloadImpact(ctx, rep, "test", true); err == nil {
					t.Fatal("a reload with the old rules in use was not refused")
				}
				flow.SetRules(next)
				out, err := flow.ReloadImpact(ctx, rep, "test", true)
				if err != nil || len(out) != 1 || out[0].State != staging.StateLoaded || out[0].Error != "" {
					t.Fatalf("reload: %+v %v", out, err)
				}
				hist, err := flow.Store().History(ctx, rec.ID)
				if err != nil {
					t.Fatal(err)
				}
				var started *staging.Event
				for i := range hist {
					if hist[i].Kind == staging.EventLoadStarted {
						started = &hist[i]
					}
				}
				if started == nil || !strings.Contains(started.Message, next.Hash()) || !strings.Contains(started.Message, wantGone[0]) {
					t.Errorf("the reload's history entry does not name the rules' hash and the rows no longer written: %+v", started)
				}

				// A fresh load under the new rules into an empty target.
				freshTarget := tc.make(t)
				fresh := newFlow(t, dbtest.SQLite(t), freshTarget, nil)
				fresh.SetRules(next)
				frec := stageReady(t, fresh)
				if got, err := fresh.Load(ctx, frec.ID, "test"); err != nil || got.State != staging.StateLoaded {
					t.Fatalf("fresh load: %v %v", got, err)
				}
				reloaded, want := canonical(t, target), canonical(t, freshTarget)
				for _, extra := range []string{"65300104", "65300111"} {
					i := slices.IndexFunc(reloaded, func(s string) bool {
						return strings.HasPrefix(s, "u_sales_skus:") && strings.Contains(s, "u_adobe_sku="+extra+" ")
					})
					if i < 0 {
						t.Fatalf("the reload removed the SKU %s the new rules no longer write", extra)
					}
					reloaded = slices.Delete(reloaded, i, i+1)
				}
				if !slices.Equal(reloaded, want) {
					t.Errorf("reloaded target:\n%s\nfresh load:\n%s", strings.Join(reloaded, "\n"), strings.Join(want, "\n"))
				}
			})
		})
	}
}

// A record the new rules cannot plan is reported failed with the rule's
// position; records outside the selection are not planned.
func TestImpactPlanFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		flow := newFlow(t, db, memoryTarget(t).Target, nil)
		rec := stageReady(t, flow)
		src, err := os.ReadFile(nextRules)
		if err != nil {
			t.Fatal(err)
		}
		// int() of a product name compiles (item is any) and fails per record.
		broken := strings.Replace(string(src), "u_qty: item.Quantity", "u_qty: int(item.Name__c)", 1)
		bad, err := mapping.Compile("broken.yaml", []byte(broken))
		if err != nil {
			t.Fatal(err)
		}
		// Not loaded yet: the default selection is empty.
		if rep, err := flow.Impact(ctx, bad, bookbridge.ImpactOptions{}); err != nil || rep.Checked != 0 {
			t.Fatalf("default selection of an unloaded record: %+v %v", rep, err)
		}
		rep, err := flow.Impact(ctx, bad, bookbridge.ImpactOptions{States: []staging.State{staging.StateReady}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checked != 1 || rep.Failed != 1 || len(rep.Records) != 1 || rep.Records[0].ID != rec.ID {
			t.Fatalf("report %+v", rep)
		}
		if e := rep.Records[0].Error; !strings.HasPrefix(e, "broken.yaml:") {
			t.Errorf("error %q does not start with the rule's FILE:LINE:COL", e)
		}
	})
}

// An email re-parsed under changed labels updates the PH fields, with a
// history entry, and makes a loaded record loadable again.
func TestReparseChangedLabels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		target := memoryTarget(t)
		flow := newFlow(t, db, target.Target, nil)
		rec := stageReady(t, flow)
		if _, err := flow.Load(ctx, rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		same, err := flow.Reparse(ctx, rec.ID, true)
		if err != nil || same.Changed() {
			t.Fatalf("the same parser changes something: %+v %v", same, err)
		}
		// A parser that reads the tenant id under another label no longer
		// finds it: the field becomes empty.
		parser, err := phmail.NewParser(phmail.WithConfig(phmail.Config{Labels: map[string][]string{"tenant_id": {"Tenant Reference"}}}))
		if err != nil {
			t.Fatal(err)
		}
		other := newFlow(t, db, target.Target, parser)
		dry, err := other.Reparse(ctx, rec.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		want := []bookbridge.PHFieldChange{{Field: "tenant_id", Old: rec.PH.Fields["tenant_id"], New: ""}}
		if !slices.Equal(dry.Fields, want) || dry.Applied {
			t.Fatalf("dry run %+v, want fields %+v and nothing applied", dry, want)
		}
		if got, _ := flow.Store().Get(ctx, rec.ID); got.PH.Fields["tenant_id"] != rec.PH.Fields["tenant_id"] || got.ChangedSinceLoad {
			t.Fatal("the dry run changed the record")
		}
		res, err := other.Reparse(ctx, rec.ID, false)
		if err != nil || !res.Applied || !res.ChangedSinceLoad {
			t.Fatalf("reparse %+v %v", res, err)
		}
		got, _ := flow.Store().Get(ctx, rec.ID)
		if got.PH.Fields["tenant_id"] != "" || !got.ChangedSinceLoad {
			t.Errorf("after the reparse: tenant_id %q, changed since load %t", got.PH.Fields["tenant_id"], got.ChangedSinceLoad)
		}
		hist, _ := flow.Store().History(ctx, rec.ID)
		last := hist[len(hist)-1]
		if last.Kind != staging.EventEmailReparsed || !strings.Contains(last.Message, "tenant_id") {
			t.Errorf("last history entry %+v", last)
		}
	})
}
