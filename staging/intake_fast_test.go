package staging_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// On Postgres a new deal takes a one-statement path; it must stage exactly
// what the general path stages. An InTx option forces the general path.
func TestNewDealFastPathMatchesGeneralPath(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	noop := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { return nil })
	fast := intake(t, s, dealFor(t, 1, "0001112223", "DR00000001", "4500000001"), staging.Via("api"), staging.By("salesforce"))
	general := intake(t, s, dealFor(t, 2, "0001112224", "DR00000002", "4500000002"), staging.Via("api"), staging.By("salesforce"), noop)
	if fast.Outcome != staging.IntakeCreated || general.Outcome != staging.IntakeCreated {
		t.Fatalf("outcomes %s %s", fast.Outcome, general.Outcome)
	}
	if fast.Record.Number != staging.FormatNumber(fast.Record.ID) {
		t.Fatalf("number %s for id %d", fast.Record.Number, fast.Record.ID)
	}
	// Normalise what must differ (ids, numbers, keys, Salesforce ids) and
	// compare what was stored and what was answered.
	norm := func(r *staging.Record) string {
		c := *r
		c.ID, c.Number, c.Keys, c.SalesforceID, c.CompanyName = 0, "", staging.Keys{}, "", ""
		p := *c.Payload
		p.Raw, p.Hash, p.Keys, p.SalesforceID = nil, "", staging.Keys{}, ""
		c.Payload = &p
		b, _ := json.Marshal(c)
		return string(b)
	}
	if a, b := norm(mustGet(t, s, fast.Record.ID)), norm(mustGet(t, s, general.Record.ID)); a != b {
		t.Fatalf("stored records differ:\nfast:    %s\ngeneral: %s", a, b)
	}
	if a, b := norm(fast.Record), norm(mustGet(t, s, fast.Record.ID)); a != b {
		t.Fatalf("the fast path's answer differs from what it stored:\nanswer: %s\nstored: %s", a, b)
	}
	for _, id := range []int64{fast.Record.ID, general.Record.ID} {
		h, err := s.History(ctx, id)
		if err != nil || len(h) != 1 || h[0].Kind != staging.EventCreated || h[0].Channel != "api" || h[0].User != "salesforce" || h[0].Data["version"] == "" {
			t.Fatalf("history of %d: %v %+v", id, err, h)
		}
	}
	// Search finds the fast path's record by number and by company.
	page, err := s.List(ctx, staging.Filter{Text: fast.Record.Number})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != fast.Record.ID {
		t.Fatalf("search by number: %v %+v", err, page.Records)
	}
	// The same deal again takes the general path and is a duplicate.
	if again := intake(t, s, dealFor(t, 1, "0001112223", "DR00000001", "4500000001")); again.Outcome != staging.IntakeDuplicate || again.Record.ID != fast.Record.ID {
		t.Fatalf("again: %s %d", again.Outcome, again.Record.ID)
	}
	// A PH email waiting for a deal sends the deal down the general path,
	// which merges them.
	ingest(t, s, phEmail("<w@x>", "0001112225", "DR00000003", ""))
	if merged := intake(t, s, dealFor(t, 3, "0001112225", "DR00000003", "")); merged.Outcome != staging.IntakeMerged {
		t.Fatalf("waiting email: %s", merged.Outcome)
	}
}
