package loadertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
)

// MissingID is a well-formed id (32 lowercase hex digits, like a sys_id)
// that no target has.
const MissingID = "0123456789abcdef0123456789abcdef"

// RunConformance checks that targets made by newTarget meet the Target
// contract documented on loader.Target. newTarget is called once per
// subtest and must return an empty target that has the reference tables
// of loader/refschema (core_company, u_ams_finance_names, ...).
func RunConformance(t *testing.T, newTarget func(t *testing.T) loader.Target) {
	t.Helper()
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, context.Background(), newTarget(t))
		})
	}
}

type conformanceCase struct {
	name string
	fn   func(t *testing.T, ctx context.Context, tg loader.Target)
}

var conformanceCases = []conformanceCase{
	{"InsertThenFind", testInsertThenFind},
	{"FindNothing", testFindNothing},
	{"FindLimit", testFindLimit},
	{"FindAllConditions", testFindAllConditions},
	{"FindAlternatives", testFindAlternatives},
	{"FindEmptyValue", testFindEmptyValue},
	{"ExactEquality", testExactEquality},
	{"UnsafeValues", testUnsafeValues},
	{"UpdateOnlyGivenFields", testUpdate},
	{"UpdateMissing", testUpdateMissing},
	{"References", testReferences},
	{"Attachments", testAttachments},
	{"AttachmentsMissingRecord", testAttachmentsMissing},
	{"UnknownField", testUnknownField},
	{"ConcurrentInserts", testConcurrentInserts},
	{"CancelledContext", testCancelled},
	{"GetByID", testGetByID},
	{"GetManyInBatches", testGetMany},
	{"AttachmentsOfMany", testAttachmentsOf},
}

func insert(t *testing.T, ctx context.Context, tg loader.Target, table string, fields map[string]string) loader.Record {
	t.Helper()
	rec, err := tg.Insert(ctx, table, fields)
	if err != nil {
		t.Fatalf("Insert(%s, %v): %v", table, fields, err)
	}
	if rec.ID == "" {
		t.Fatalf("Insert(%s) returned no id", table)
	}
	return rec
}

func find(t *testing.T, ctx context.Context, tg loader.Target, q loader.Query) []loader.Record {
	t.Helper()
	recs, err := tg.Find(ctx, q)
	if err != nil {
		t.Fatalf("Find(%+v): %v", q, err)
	}
	return recs
}

func ids(recs []loader.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func testInsertThenFind(t *testing.T, ctx context.Context, tg loader.Target) {
	fields := map[string]string{"name": RefCompanyName, "u_ecc_id": RefECCID, "u_product": "AEM", "city": "Düsseldorf"}
	rec := insert(t, ctx, tg, "core_company", fields)
	for k, v := range fields {
		if rec.Fields[k] != v {
			t.Errorf("Insert returned %s=%q, want %q", k, rec.Fields[k], v)
		}
	}
	other := insert(t, ctx, tg, "core_company", map[string]string{"name": "Other", "u_ecc_id": "0009999999", "u_product": "AEM"})
	if other.ID == rec.ID {
		t.Fatalf("two inserts returned the same id %s", rec.ID)
	}
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": RefECCID, "u_product": "AEM"}}, Fields: []string{"name", "city", "u_ecc_id", "u_product"}, Limit: 2})
	if len(got) != 1 || got[0].ID != rec.ID {
		t.Fatalf("Find = %v, want the one record %s", ids(got), rec.ID)
	}
	for _, f := range []string{"name", "city", "u_ecc_id", "u_product"} {
		if got[0].Fields[f] != fields[f] {
			t.Errorf("Find returned %s=%q, want %q", f, got[0].Fields[f], fields[f])
		}
	}
}

func testFindNothing(t *testing.T, ctx context.Context, tg loader.Target) {
	insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "1", "u_product": "AEM"})
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "2"}}, Fields: []string{"u_ecc_id"}, Limit: 2})
	if len(got) != 0 {
		t.Fatalf("Find = %v, want nothing", ids(got))
	}
}

func testFindLimit(t *testing.T, ctx context.Context, tg loader.Target) {
	var all []string
	for i := range 3 {
		all = append(all, insert(t, ctx, tg, "core_company", map[string]string{"u_product": "LimitTest", "name": fmt.Sprint(i)}).ID)
	}
	insert(t, ctx, tg, "core_company", map[string]string{"u_product": "Other"})
	q := loader.Query{Table: "core_company", Where: []map[string]string{{"u_product": "LimitTest"}}, Fields: []string{"name"}}
	for _, c := range []struct{ limit, want int }{{1, 1}, {2, 2}, {3, 3}, {5, 3}, {0, 3}} {
		q.Limit = c.limit
		got := find(t, ctx, tg, q)
		if len(got) != c.want {
			t.Errorf("Limit %d: %d records, want %d", c.limit, len(got), c.want)
		}
		for _, id := range ids(got) {
			if !slices.Contains(all, id) {
				t.Errorf("Limit %d: record %s does not match", c.limit, id)
			}
		}
		if len(slices.Compact(ids(got))) != len(got) {
			t.Errorf("Limit %d: a record was returned twice", c.limit)
		}
	}
}

func testFindAllConditions(t *testing.T, ctx context.Context, tg loader.Target) {
	a := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "1", "u_product": "AEM"})
	insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "1", "u_product": "AEM Basic"})
	insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "2", "u_product": "AEM"})
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "1", "u_product": "AEM"}}, Fields: []string{"u_ecc_id"}, Limit: 2})
	if !slices.Equal(ids(got), []string{a.ID}) {
		t.Fatalf("Find = %v, want only %s (every condition must hold)", ids(got), a.ID)
	}
}

func testFindAlternatives(t *testing.T, ctx context.Context, tg loader.Target) {
	so := "so-1"
	var want []string
	for _, sku := range []string{"65300101", "65300102", "65300103"} {
		want = append(want, insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": so, "u_adobe_sku": sku, "u_product": "P " + sku}).ID)
	}
	insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "so-2", "u_adobe_sku": "65300101"})
	insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": so, "u_adobe_sku": "65300199"})

	// One field varies between the alternatives (a foreach step's items).
	q := loader.Query{Table: "u_sales_skus", Fields: []string{"u_adobe_sku", "u_dr_number"}, Limit: 7}
	for _, sku := range []string{"65300101", "65300102", "65300103", "65300104"} {
		q.Where = append(q.Where, map[string]string{"u_dr_number": so, "u_adobe_sku": sku})
	}
	if got := find(t, ctx, tg, q); !slices.Equal(ids(got), sortedIDs(want...)) {
		t.Errorf("one varying field: Find = %v, want %v", ids(got), sortedIDs(want...))
	}
	// Several fields vary, and values contain commas.
	c1 := insert(t, ctx, tg, "u_sales_skus", map[string]string{"u_dr_number": "so,3", "u_adobe_sku": "a,b", "u_product": "x"})
	q.Where = []map[string]string{
		{"u_dr_number": "so,3", "u_adobe_sku": "a,b"},
		{"u_dr_number": so, "u_adobe_sku": "65300102", "u_product": "P 65300102"},
		{"u_dr_number": "so,3", "u_adobe_sku": "a"},
	}
	if got := find(t, ctx, tg, q); !slices.Equal(ids(got), sortedIDs(c1.ID, want[1])) {
		t.Errorf("several varying fields: Find = %v, want %v", ids(got), sortedIDs(c1.ID, want[1]))
	}
}

func testFindEmptyValue(t *testing.T, ctx context.Context, tg loader.Target) {
	unset := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "e1", "u_product": "AEM"})
	empty := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "e1", "u_product": "AEM", "u_tenant_id": ""})
	insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "e1", "u_product": "AEM", "u_tenant_id": "t"})
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "e1", "u_tenant_id": ""}}, Fields: []string{"u_tenant_id"}})
	if !slices.Equal(ids(got), sortedIDs(unset.ID, empty.ID)) {
		t.Fatalf("Find(u_tenant_id=\"\") = %v, want the unset and the empty ones %v", ids(got), sortedIDs(unset.ID, empty.ID))
	}
	for _, r := range got {
		if r.Fields["u_tenant_id"] != "" {
			t.Errorf("record %s: u_tenant_id = %q, want empty", r.ID, r.Fields["u_tenant_id"])
		}
	}
}

// equalityValues must each match only their own record.
var equalityValues = []string{
	"Acme", "ACME", "acme", "Acme ", " Acme", "100%", "100x", "a_b", "axb", "a*b", "a.b",
	"O'Brien, Siobhán", "O'Brien", "渡辺 健", "Müller & Søn Größe GmbH", "MÜLLER & SØN GRÖSSE GMBH",
	"x=y", "x!=y", "a@b", "a,b", `quote"d`, `back\slash`, "ISEMPTY", "javascript", "LIKEx", "a+b", "a?b=c&d",
}

func testExactEquality(t *testing.T, ctx context.Context, tg loader.Target) {
	idOf := map[string]string{}
	for _, v := range equalityValues {
		idOf[v] = insert(t, ctx, tg, "core_company", map[string]string{"name": v, "u_product": "Eq"}).ID
	}
	for _, v := range equalityValues {
		got, err := tg.Find(ctx, loader.Query{Table: "core_company", Where: []map[string]string{{"name": v, "u_product": "Eq"}}, Fields: []string{"name"}, Limit: 2})
		if err != nil {
			t.Errorf("Find(name=%q): %v", v, err)
			continue
		}
		if len(got) != 1 || got[0].ID != idOf[v] || got[0].Fields["name"] != v {
			var names []string
			for _, r := range got {
				names = append(names, fmt.Sprintf("%q", r.Fields["name"]))
			}
			t.Errorf("Find(name=%q) = %v, want exactly its own record", v, names)
		}
	}
}

// unsafeValues are values some query languages cannot carry; a target
// either matches them exactly or refuses them with ErrUnsupportedValue.
var unsafeValues = []string{"a^b", "a^ORname=x", "a^NQname=x", "line\nbreak", "cr\rreturn", "javascript:gs.getUserID()", "JavaScript:x"}

func testUnsafeValues(t *testing.T, ctx context.Context, tg loader.Target) {
	decoy := insert(t, ctx, tg, "core_company", map[string]string{"name": "x", "u_product": "Unsafe"})
	for _, v := range unsafeValues {
		rec, err := tg.Insert(ctx, "core_company", map[string]string{"name": v, "u_product": "Unsafe"})
		if err != nil {
			t.Fatalf("Insert(name=%q): %v (inserting any value must work)", v, err)
		}
		got, err := tg.Find(ctx, loader.Query{Table: "core_company", Where: []map[string]string{{"name": v, "u_product": "Unsafe"}}, Fields: []string{"name"}, Limit: 2})
		if err != nil {
			if !errors.Is(err, loader.ErrUnsupportedValue) {
				t.Errorf("Find(name=%q): error %v does not wrap ErrUnsupportedValue", v, err)
			}
			continue
		}
		if len(got) != 1 || got[0].ID != rec.ID || got[0].ID == decoy.ID {
			t.Errorf("Find(name=%q) = %v, want exactly %s", v, ids(got), rec.ID)
		}
	}
}

func testUpdate(t *testing.T, ctx context.Context, tg loader.Target) {
	rec := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "u1", "u_product": "AEM", "name": "Before", "city": "Köln"})
	other := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "u2", "u_product": "AEM", "name": "Other"})
	up, err := tg.Update(ctx, "core_company", rec.ID, map[string]string{"name": "After", "u_sla": "99.9"})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if up.Fields["name"] != "After" || up.Fields["u_sla"] != "99.9" {
		t.Errorf("Update returned %v, want the stored name and u_sla", up.Fields)
	}
	fields := []string{"name", "city", "u_sla", "u_ecc_id"}
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "u1"}}, Fields: fields, Limit: 2})
	if len(got) != 1 {
		t.Fatalf("Find after update = %v", ids(got))
	}
	want := map[string]string{"name": "After", "city": "Köln", "u_sla": "99.9", "u_ecc_id": "u1"}
	for _, f := range fields {
		if got[0].Fields[f] != want[f] {
			t.Errorf("after update %s = %q, want %q", f, got[0].Fields[f], want[f])
		}
	}
	got = find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "u2"}}, Fields: []string{"name"}, Limit: 2})
	if len(got) != 1 || got[0].ID != other.ID || got[0].Fields["name"] != "Other" {
		t.Errorf("the other record changed: %v", got)
	}
}

func testUpdateMissing(t *testing.T, ctx context.Context, tg loader.Target) {
	insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "m1"})
	_, err := tg.Update(ctx, "core_company", MissingID, map[string]string{"name": "x"})
	if !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("Update of a missing record: %v, want ErrNotFound", err)
	}
}

func testReferences(t *testing.T, ctx context.Context, tg loader.Target) {
	c := insert(t, ctx, tg, "core_company", map[string]string{"u_ecc_id": "r1", "u_product": "AEM"})
	f := insert(t, ctx, tg, "u_ams_finance_names", map[string]string{"u_company": c.ID, "u_finance_name": "Finance"})
	got := find(t, ctx, tg, loader.Query{Table: "u_ams_finance_names", Where: []map[string]string{{"u_company": c.ID, "u_finance_name": "Finance"}}, Fields: []string{"u_company"}, Limit: 2})
	if len(got) != 1 || got[0].ID != f.ID || got[0].Fields["u_company"] != c.ID {
		t.Fatalf("Find by reference = %v, want %s with u_company=%s", got, f.ID, c.ID)
	}
}

func testAttachments(t *testing.T, ctx context.Context, tg loader.Target) {
	so := insert(t, ctx, tg, "u_managed_services_sales_order", map[string]string{"u_dr_number": RefDRNumber})
	other := insert(t, ctx, tg, "u_managed_services_sales_order", map[string]string{"u_dr_number": "DR00000001"})
	if list, err := tg.Attachments(ctx, "u_managed_services_sales_order", so.ID); err != nil || len(list) != 0 {
		t.Fatalf("Attachments of a new record = %v, %v; want none", list, err)
	}
	files := []loader.File{
		{Name: "Contract DR00004711.pdf", ContentType: "application/pdf", Content: contractPDF},
		{Name: "notes ü.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("Grüße\n")},
		{Name: "Contract DR00004711.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 second version")},
	}
	for _, f := range files {
		info, err := tg.Attach(ctx, "u_managed_services_sales_order", so.ID, f)
		if err != nil {
			t.Fatalf("Attach(%s): %v", f.Name, err)
		}
		if info.ID == "" || info.Name != f.Name || info.Size != int64(len(f.Content)) || info.SHA256 != sha(f.Content) {
			t.Errorf("Attach(%s) = %+v, want name, size %d and sha256 %s", f.Name, info, len(f.Content), sha(f.Content))
		}
	}
	list, err := tg.Attachments(ctx, "u_managed_services_sales_order", so.ID)
	if err != nil {
		t.Fatalf("Attachments: %v", err)
	}
	var got, want []string
	for _, a := range list {
		got = append(got, fmt.Sprintf("%s|%s|%d|%s", a.Name, a.ContentType, a.Size, a.SHA256))
		if a.ID == "" {
			t.Errorf("attachment %s has no id", a.Name)
		}
	}
	for _, f := range files {
		want = append(want, fmt.Sprintf("%s|%s|%d|%s", f.Name, f.ContentType, len(f.Content), sha(f.Content)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Attachments =\n%v\nwant\n%v", got, want)
	}
	if list, err := tg.Attachments(ctx, "u_managed_services_sales_order", other.ID); err != nil || len(list) != 0 {
		t.Errorf("Attachments of another record = %v, %v; want none", list, err)
	}
}

func testAttachmentsMissing(t *testing.T, ctx context.Context, tg loader.Target) {
	insert(t, ctx, tg, "u_managed_services_sales_order", map[string]string{"u_dr_number": "x"})
	_, err := tg.Attach(ctx, "u_managed_services_sales_order", MissingID, loader.File{Name: "a.txt", ContentType: "text/plain", Content: []byte("a")})
	if !errors.Is(err, loader.ErrNotFound) {
		t.Errorf("Attach to a missing record: %v, want ErrNotFound", err)
	}
}

func testUnknownField(t *testing.T, ctx context.Context, tg loader.Target) {
	rec, err := tg.Insert(ctx, "core_company", map[string]string{"u_ecc_id": "k1", "u_no_such_field": "v"})
	if err != nil {
		return // rejecting is allowed
	}
	v, kept := rec.Fields["u_no_such_field"]
	if !kept {
		return // ignoring is allowed when the returned record says so
	}
	got := find(t, ctx, tg, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "k1"}}, Fields: []string{"u_no_such_field"}, Limit: 2})
	if len(got) != 1 || got[0].Fields["u_no_such_field"] != v {
		t.Errorf("Insert reported u_no_such_field=%q as stored, but Find returns %v", v, got)
	}
}

func testConcurrentInserts(t *testing.T, ctx context.Context, tg loader.Target) {
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := tg.Insert(ctx, "u_sales_skus", map[string]string{"u_dr_number": "conc", "u_adobe_sku": fmt.Sprint(i)})
			if err != nil {
				t.Errorf("concurrent Insert: %v", err)
				return
			}
			mu.Lock()
			seen[rec.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct ids from %d inserts", len(seen), n)
	}
	got := find(t, ctx, tg, loader.Query{Table: "u_sales_skus", Where: []map[string]string{{"u_dr_number": "conc"}}, Fields: []string{"u_adobe_sku"}})
	if !slices.Equal(ids(got), slices.Sorted(maps.Keys(seen))) {
		t.Errorf("Find after concurrent inserts = %d records, want %d", len(got), n)
	}
}

func testCancelled(t *testing.T, ctx context.Context, tg loader.Target) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tg.Find(cctx, loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "1"}}, Fields: []string{"u_ecc_id"}}); err == nil {
		t.Error("Find with a cancelled context succeeded")
	}
	if _, err := tg.Insert(cctx, "core_company", map[string]string{"u_ecc_id": "c1"}); err == nil {
		t.Error("Insert with a cancelled context succeeded")
	}
}

// SHA256Hex returns the lowercase hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
