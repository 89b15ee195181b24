package staging_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// The PH email arrives before the Salesforce payload: it waits on a record
// of its own, and the payload joins it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "staging-example")
	defer os.RemoveAll(dir)
	db, err := bundb.Open(ctx, filepath.Join(dir, "bookbridge.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	clock := func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }
	store := staging.New(db, staging.WithClock(clock), staging.WithLogger(slog.New(slog.DiscardHandler)))
	if err := store.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}

	email := staging.Email{
		MessageID: "<ph-4711@provisioning.example>",
		Subject:   "To Be Provisioned - Müller & Søn Größe GmbH DR00004711",
		Fields:    map[string]string{staging.FieldECCID: "1234567", staging.FieldDRNumber: "DR00004711", staging.FieldTenantID: "mueller"},
		Raw:       []byte("Subject: To Be Provisioned - Müller & Søn Größe GmbH DR00004711\r\n\r\n- ECC ID: 1234567\r\n"),
		Attachments: []staging.EmailAttachment{
			{FileName: "contract.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7 ..."), Usable: true},
		},
	}
	er, err := store.IngestEmail(ctx, email, staging.Via("smtp"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(er.Outcome, er.Record.Number, er.Record.State, er.Record.OpenExceptions()[0].Message)

	raw, _ := os.ReadFile("../examples/payloads/deal-full.json")
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	ir, err := store.Intake(ctx, staging.PayloadFromOpportunity(d), staging.Via("salesforce"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := ir.Record.Loadable()
	fmt.Println(ir.Outcome, ir.Record.Number, ir.Record.State, len(ir.Record.OpenExceptions()), "open exceptions, loadable:", ok)

	again, _ := store.Intake(ctx, staging.PayloadFromOpportunity(d))
	fmt.Println(again.Outcome, again.Record.Number)
	// Output:
	// waiting BB0001001 waiting_for_payload PH data arrived but Salesforce data is missing
	// merged BB0001001 ready 0 open exceptions, loadable: true
	// duplicate BB0001001
}

func ExamplePayloadFromOpportunity() {
	raw, _ := os.ReadFile("../examples/payloads/deal-full.json")
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := staging.PayloadFromOpportunity(d)
	fmt.Println(p.SalesforceID, p.Version, p.ModifiedAt.Format(time.RFC3339))
	fmt.Printf("%+v\n", p.Keys)
	fmt.Println(p.CompanyName, "|", p.Currency, p.Amount, "|", p.Product)
	// Output:
	// 006Dn00000AbCdEIAV 1795773600000 2026-11-27T10:00:00Z
	// {ECCID:0001234567 DRNumber:DR00004711 SalesOrderNumber:4500012345 OpportunityID:006Dn00000AbCdEIAV}
	// Müller & Søn Größe GmbH | EUR 495000.75 | AEM
}

func ExampleSanitizeFileName() {
	for _, name := range []string{"../../Vertrag Müller.pdf", "invoice\u202Efdp.exe", "CON.pdf", "a<b>c?.pdf"} {
		fmt.Println(staging.SanitizeFileName(name))
	}
	// Output:
	// Vertrag Müller.pdf
	// invoicefdp.exe
	// _CON.pdf
	// a_b_c_.pdf
}

func ExampleTransitionError() {
	r := &staging.Record{Summary: staging.Summary{Number: "BB0001001", State: staging.StateReceived}}
	ok, why := r.Loadable()
	fmt.Println(ok, why)
	err := error(&staging.TransitionError{Record: r.Number, Action: staging.ActionStartLoad, State: r.State,
		Allowed: staging.AllowedFrom(staging.ActionStartLoad)})
	fmt.Println(errors.Is(err, staging.ErrIllegalTransition))
	fmt.Println(err)
	// Output:
	// false waiting for the Provisioning Hub email
	// true
	// staging: cannot start load on BB0001001 in state received; allowed only in ready, load_failed, loaded
}
