package bookbridge_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// stageMany stages n copies of the full example deal, each with its own
// Salesforce id, ECC id and DR number, in one transaction per 500.
func stageMany(b testing.TB, store *staging.Store, n int) {
	b.Helper()
	ctx := context.Background()
	deal, err := os.ReadFile("examples/payloads/deal-full.json")
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		raw := bytes.ReplaceAll(deal, []byte("006Dn00000AbCdEIAV"), fmt.Appendf(nil, "006Dn%010dAAA", i))
		raw = bytes.ReplaceAll(raw, []byte("0001234567"), fmt.Appendf(nil, "%010d", 1_000_000+i))
		raw = bytes.ReplaceAll(raw, []byte("DR00004711"), fmt.Appendf(nil, "DR%08d", 10_000+i))
		d, err := sfdc.Decode[sfdc.Opportunity](raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := store.Intake(ctx, staging.PayloadFromOpportunity(d)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImpact10k is the impact of the example rule change over 10,000
// staged records: each read from the store and planned with both rules.
func BenchmarkImpact10k(b *testing.B) { benchmarkImpact(b, 10_000) }

// BenchmarkImpact1k is BenchmarkImpact10k over 1,000 records, quicker to
// stage and to profile.
func BenchmarkImpact1k(b *testing.B) { benchmarkImpact(b, 1_000) }

// benchmarkImpact stages n records and measures an Impact over them all.
func benchmarkImpact(b *testing.B, n int) {
	ctx := context.Background()
	db := dbtest.SQLite(b)
	flow := newFlow(b, db, memoryTarget(b).Target, nil)
	stageMany(b, flow.Store(), n)
	next := compileRules(b, nextRules)
	opts := bookbridge.ImpactOptions{States: []staging.State{staging.StateReceived}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := flow.Impact(ctx, next, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Checked != n || rep.Changed != n {
			b.Fatalf("checked %d, changed %d; want %d", rep.Checked, rep.Changed, n)
		}
	}
}

// Impact reads every selected record across its pages (a small first
// page, then larger ones), each once, and reports them in id order.
func TestImpactPages(t *testing.T) {
	const n = 1234
	ctx := context.Background()
	flow := newFlow(t, dbtest.SQLite(t), memoryTarget(t).Target, nil)
	stageMany(t, flow.Store(), n)
	next := compileRules(t, nextRules)
	rep, err := flow.Impact(ctx, next, bookbridge.ImpactOptions{States: []staging.State{staging.StateReceived}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != n || rep.Changed != n || len(rep.Records) != n {
		t.Fatalf("checked %d, changed %d, %d records; want %d", rep.Checked, rep.Changed, len(rep.Records), n)
	}
	for i := 1; i < n; i++ {
		if rep.Records[i].ID <= rep.Records[i-1].ID {
			t.Fatalf("record %d has id %d after %d", i, rep.Records[i].ID, rep.Records[i-1].ID)
		}
	}
	// A selection by id reads only those, across the pages too.
	ids := []int64{rep.Records[0].ID, rep.Records[99].ID, rep.Records[100].ID, rep.Records[n-1].ID}
	rep, err = flow.Impact(ctx, next, bookbridge.ImpactOptions{States: []staging.State{staging.StateReceived}, Records: ids})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range rep.Records {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("records %v, want %v", got, ids)
	}
}
