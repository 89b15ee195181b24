package bookbridge_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// A deal and its PH email are staged (here the deal comes first), the
// record is previewed against the target and then loaded into it. The
// parts are opened by the caller: an embedded SQLite file for the store,
// the reference rules, and an in-memory target with the reference tables.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bookbridge-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bundb.Open(ctx, filepath.Join(dir, "records.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	clock := func() time.Time { return time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC) }
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(map[string]string{}))
	if err != nil {
		log.Fatal(err)
	}
	target := memory.New(memory.Options{Tables: refschema.Tables()})
	for _, choice := range refschema.BlockNumberChoices() {
		target.Seed("sys_choice", choice)
	}
	flow, err := bookbridge.New(bookbridge.Config{
		Store:  staging.New(db, staging.WithClock(clock), staging.WithLogger(slog.New(slog.DiscardHandler))),
		Rules:  rules,
		Target: target,
		Now:    clock,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := flow.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	deal, _ := os.ReadFile("examples/payloads/deal-full.json")
	accepted, err := flow.AcceptDeal(ctx, deal, staging.Via("example"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deal:", accepted.Outcome, accepted.Record.State)

	email, _ := os.ReadFile("examples/emails/ph-deal-full.eml")
	processed, err := flow.ProcessEmail(ctx, email, "example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("email:", processed.Outcome, processed.Number == accepted.Record.Number)

	rec, err := flow.FindRecord(ctx, accepted.Record.Number)
	if err != nil {
		log.Fatal(err)
	}
	preview, err := flow.Preview(ctx, rec)
	if err != nil {
		log.Fatal(err)
	}
	inserts := 0
	for _, s := range preview.Diff.Steps {
		if s.Action == "insert" {
			inserts++
		}
	}
	fmt.Println("preview: loadable", preview.Loadable, "inserts", inserts)

	loaded, err := flow.Load(ctx, rec.ID, "example")
	if err != nil {
		log.Fatal(err)
	}
	rows := target.Dump()
	fmt.Println("load:", loaded.State, "companies", len(rows["core_company"]), "SKUs", len(rows["u_sales_skus"]))

	// Pressing "SFDC Data" again is refused: the record is loaded.
	_, err = flow.Load(ctx, rec.ID, "example")
	fmt.Println("again:", err != nil)
	// Output:
	// deal: created received
	// email: applied true
	// preview: loadable true inserts 9
	// load: loaded companies 1 SKUs 6
	// again: true
}
