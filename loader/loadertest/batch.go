package loadertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
)

// getRows reads refs back with loader.GetRows, which uses the target's
// BatchGetter or falls back to Find on the match values.
func getRows(t *testing.T, ctx context.Context, tg loader.Target, table string, refs []loader.RowRef, fields []string) (map[string]loader.Record, int) {
	t.Helper()
	got, calls, err := loader.GetRows(ctx, tg, table, refs, fields)
	if err != nil {
		t.Fatalf("GetRows(%s, %d rows): %v", table, len(refs), err)
	}
	return got, calls
}

func testGetByID(t *testing.T, ctx context.Context, tg loader.Target) {
	a := insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "g1", "u_adobe_sku": "A", "u_qty": "2", "u_product": "Sites"})
	b := insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "g1", "u_adobe_sku": "B", "u_qty": "3"})
	c := insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "g1", "u_adobe_sku": "C", "u_qty": "4"})
	co := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "g1", "u_product": "AEM"})
	refs := []loader.RowRef{
		{ID: a.ID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "A"}},
		{ID: b.ID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "B"}},
		{ID: a.ID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "A"}},
		{ID: MissingID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "Z"}},
		// The id of a record of another table is not a record of this one.
		{ID: co.ID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "Y"}},
	}
	got, _ := getRows(t, ctx, tg, "u_sales_skus", refs, []string{"u_qty", "u_product", "u_adobe_sku"})
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, sortedIDs(a.ID, b.ID)) {
		t.Fatalf("GetRows = %v, want exactly %v (not %s of the same match, not a missing or foreign id)", keys, sortedIDs(a.ID, b.ID), c.ID)
	}
	want := map[string]map[string]string{
		a.ID: {"u_qty": "2", "u_product": "Sites", "u_adobe_sku": "A"},
		b.ID: {"u_qty": "3", "u_product": "", "u_adobe_sku": "B"},
	}
	for id, fields := range want {
		for k, v := range fields {
			if got[id].Fields[k] != v {
				t.Errorf("GetRows %s: %s=%q, want %q", id, k, got[id].Fields[k], v)
			}
		}
	}
	if got, calls := getRows(t, ctx, tg, "u_sales_skus", nil, []string{"u_qty"}); len(got) != 0 || calls != 0 {
		t.Errorf("GetRows of no rows = %d records in %d calls, want none in 0", len(got), calls)
	}
	// Ids that no target can hold are not found, and do not widen the
	// query to other records.
	odd := []loader.RowRef{
		{ID: a.ID + "," + b.ID, Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "odd1"}},
		{ID: "x^ORu_qty=3", Match: map[string]string{"u_dr_number": "g1", "u_adobe_sku": "odd2"}},
	}
	if got, _ := getRows(t, ctx, tg, "u_sales_skus", odd, []string{"u_qty"}); len(got) != 0 {
		t.Errorf("GetRows of malformed ids = %v, want nothing", slices.Sorted(maps.Keys(got)))
	}
}

func testGetMany(t *testing.T, ctx context.Context, tg loader.Target) {
	const n = loader.MaxBatch + 30
	var refs []loader.RowRef
	qty := map[string]string{}
	for i := range n {
		sku := fmt.Sprintf("SKU-%03d", i)
		rec := insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "many", "u_adobe_sku": sku, "u_qty": fmt.Sprint(i)})
		refs = append(refs, loader.RowRef{ID: rec.ID, Match: map[string]string{"u_dr_number": "many", "u_adobe_sku": sku}})
		qty[rec.ID] = fmt.Sprint(i)
	}
	got, calls := getRows(t, ctx, tg, "u_sales_skus", refs, []string{"u_qty"})
	if len(got) != n {
		t.Fatalf("GetRows of %d rows found %d", n, len(got))
	}
	for id, q := range qty {
		if got[id].Fields["u_qty"] != q {
			t.Errorf("GetRows %s: u_qty=%q, want %q", id, got[id].Fields["u_qty"], q)
		}
	}
	if want := (n + loader.MaxBatch - 1) / loader.MaxBatch; calls != want {
		t.Errorf("GetRows of %d rows made %d calls, want %d (%d ids per call)", n, calls, want, loader.MaxBatch)
	}
}

func testAttachmentsOf(t *testing.T, ctx context.Context, tg loader.Target) {
	table := "u_managed_services_sales_order"
	a := insert(t, ctx, tg, table, map[string]string{"u_dr_number": "f1"})
	b := insert(t, ctx, tg, table, map[string]string{"u_dr_number": "f2"})
	c := insert(t, ctx, tg, table, map[string]string{"u_dr_number": "f3"})
	files := map[string][]loader.File{
		a.ID: {{Name: "Contract f1.pdf", ContentType: "application/pdf", Content: contractPDF}, {Name: "notes.txt", ContentType: "text/plain", Content: []byte("n")}},
		b.ID: {{Name: "Contract f2.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 b")}},
	}
	for id, list := range files {
		for _, f := range list {
			if _, err := tg.Attach(ctx, table, id, f); err != nil {
				t.Fatalf("Attach(%s): %v", f.Name, err)
			}
		}
	}
	got, _, err := loader.ListAttachments(ctx, tg, table, []string{a.ID, b.ID, c.ID, MissingID})
	if err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, sortedIDs(a.ID, b.ID)) {
		t.Fatalf("ListAttachments lists records %v, want %v (the records with files)", keys, sortedIDs(a.ID, b.ID))
	}
	for id, list := range files {
		var gotFiles, wantFiles []string
		for _, f := range got[id] {
			gotFiles = append(gotFiles, f.Name+"|"+f.SHA256)
		}
		for _, f := range list {
			wantFiles = append(wantFiles, f.Name+"|"+sha(f.Content))
		}
		slices.Sort(gotFiles)
		slices.Sort(wantFiles)
		if !slices.Equal(gotFiles, wantFiles) {
			t.Errorf("files of %s = %v, want %v", id, gotFiles, wantFiles)
		}
	}
}
