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
func stageMany(b *testing.B, store *staging.Store, n int) {
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
func BenchmarkImpact10k(b *testing.B) {
	const n = 10_000
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
