package staging_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestEmailBeforePayloadMergesIntoOneReadyRecord(t *testing.T) {
	histories := map[string]string{}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, clock := newStore(t, db)
		ctx := context.Background()
		e := phEmail("<ph-4711@provisioning.example>", "1234567", "DR00004711", "4500012345", contractPDF())
		er := ingest(t, s, e, staging.Via("smtp"))
		if er.Outcome != staging.EmailWaiting || er.Record.State != staging.StateWaitingForPayload {
			t.Fatalf("email first: %s / %s, want waiting / waiting_for_payload", er.Outcome, er.Record.State)
		}
		if open := er.Record.OpenExceptions(); len(open) != 1 || open[0].Kind != staging.ExceptionPayloadMissing ||
			open[0].Message != "PH data arrived but Salesforce data is missing" {
			t.Fatalf("open exceptions %+v, want the payload-missing one", open)
		}
		clock.Advance(90 * 60e9)
		ir := intake(t, s, deal(t, nil), staging.Via("salesforce"))
		if ir.Outcome != staging.IntakeMerged || ir.Record.ID != er.Record.ID || ir.MergedRecord != er.Record.ID {
			t.Fatalf("payload second: %s into record %d, want merged into %d", ir.Outcome, ir.Record.ID, er.Record.ID)
		}
		r := mustGet(t, s, er.Record.ID)
		if r.State != staging.StateReady || r.Payload == nil || r.PH == nil || len(r.OpenExceptions()) != 0 {
			t.Fatalf("merged record: state %s, payload %v, PH %v, open exceptions %v", r.State, r.Payload != nil, r.PH != nil, r.OpenExceptions())
		}
		if ok, why := r.Loadable(); !ok {
			t.Fatalf("merged record not loadable: %s", why)
		}
		if len(r.Attachments) != 1 || len(r.LoadAttachments()) != 1 {
			t.Fatalf("attachments %+v, want the contract", r.Attachments)
		}
		if r.Keys.ECCID != "0001234567" || r.CompanyName != "Müller & Søn Größe GmbH" {
			t.Fatalf("keys %+v and company %q should now be Salesforce's", r.Keys, r.CompanyName)
		}
		counts, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if total(counts) != 1 {
			t.Fatalf("counts %v, want one record in all", counts)
		}
		histories[dialectOf(t)] = renderHistory(t, s, r.ID)
	})
	if len(histories) == 2 && histories["sqlite"] != histories["postgres"] {
		t.Fatalf("the engines wrote different histories:\n%s\n---\n%s", histories["sqlite"], histories["postgres"])
	}
	snaps.MatchSnapshot(t, histories["sqlite"])
}

func TestEmailCorrelation(t *testing.T) {
	// Two staged deals of one customer: A and B share the ECC id.
	a := func(t *testing.T) staging.Payload { return dealFor(t, 1, "0001234567", "DR0000000A", "4500000001") }
	b := func(t *testing.T) staging.Payload { return dealFor(t, 2, "0001234567", "DR0000000B", "4500000002") }
	cases := []struct {
		name          string
		ecc, dr, so   string
		want          staging.EmailOutcome
		applied       string   // "A" or "B" for applied
		candidates    []string // for needs_review
		reasonContain string
	}{
		{"ECC id only matches both", "0001234567", "", "", staging.EmailNeedsReview, "", []string{"A", "B"}, "matches 2 records"},
		{"DR number picks A", "0001234567", "DR0000000A", "", staging.EmailApplied, "A", nil, ""},
		{"sales order picks B", "0001234567", "", "4500000002", staging.EmailApplied, "B", nil, ""},
		{"DR and sales order of A", "0001234567", "DR0000000A", "4500000001", staging.EmailApplied, "A", nil, ""},
		{"ECC id without SAP padding", "1234567", "dr0000000b", "0004500000002", staging.EmailApplied, "B", nil, ""},
		{"DR number of neither", "0001234567", "DR0000000Z", "", staging.EmailNeedsReview, "", []string{"A", "B"}, "DR number DR0000000Z does not"},
		{"DR of A, sales order of B", "0001234567", "DR0000000A", "4500000002", staging.EmailNeedsReview, "", []string{"A", "B"}, "does not"},
		{"unknown ECC id waits", "0009999999", "DR0000000C", "", staging.EmailWaiting, "", nil, ""},
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, _ := newStore(t, db)
				ctx := context.Background()
				// a fresh pair of deals per case: clear what earlier cases staged
				for _, stmt := range []string{"DELETE FROM staging_events", "DELETE FROM staging_attachments",
					"DELETE FROM staging_payload_history", "UPDATE staging_emails SET record_id = NULL", "DELETE FROM staging_records"} {
					if _, err := db.ExecContext(ctx, stmt); err != nil {
						t.Fatal(err)
					}
				}
				recs := map[string]*staging.Record{"A": intake(t, s, a(t)).Record, "B": intake(t, s, b(t)).Record}
				res := ingest(t, s, phEmail("<"+c.name+"@ph.example>", c.ecc, c.dr, c.so, contractPDF()))
				if res.Outcome != c.want {
					t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, c.want)
				}
				for name, before := range recs {
					after := mustGet(t, s, before.ID)
					if name == c.applied {
						if after.State != staging.StateReady || after.PH == nil || len(after.Attachments) != 1 || res.Record.ID != before.ID {
							t.Fatalf("%s should have the email: state %s, PH %v, %d files", name, after.State, after.PH != nil, len(after.Attachments))
						}
						continue
					}
					if after.Version != before.Version || after.PH != nil || after.State != staging.StateReceived {
						t.Fatalf("%s changed although the email is not for it: version %d->%d, state %s", name, before.Version, after.Version, after.State)
					}
				}
				if c.want == staging.EmailNeedsReview {
					var got []int64
					for _, cand := range res.Candidates {
						got = append(got, cand.ID)
					}
					var want []int64
					for _, n := range c.candidates {
						want = append(want, recs[n].ID)
					}
					if !slices.Equal(got, want) || res.Record.State != staging.StateNeedsReview || res.Record.Review == nil ||
						!strings.Contains(res.Reason, c.reasonContain) || len(res.Record.Attachments) != 1 {
						t.Fatalf("review record %+v with candidates %v (want %v), reason %q", res.Record.Summary, got, want, res.Reason)
					}
				}
			})
		}
	})
}

func TestSameEmailTwiceIsAppliedOnce(t *testing.T) {
	cases := []struct {
		name      string
		messageID string
	}{
		{"by Message-ID", "<same@ph.example>"},
		{"by content hash without Message-ID", ""},
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, _ := newStore(t, db)
				ecc := fmt.Sprintf("77000%d", i)
				rec := intake(t, s, dealFor(t, 100+i, ecc, "DR00000077", "4500000077")).Record
				e := phEmail(c.messageID, ecc, "DR00000077", "", contractPDF())
				first := ingest(t, s, e)
				again := e
				if c.messageID != "" {
					again.Raw = append([]byte("Received: by another relay\r\n"), e.Raw...) // redelivered copy
				}
				second := ingest(t, s, again)
				if first.Outcome != staging.EmailApplied || second.Outcome != staging.EmailDuplicate || second.Record == nil || second.Record.ID != rec.ID {
					t.Fatalf("outcomes %s then %s (record %+v), want applied then duplicate of %d", first.Outcome, second.Outcome, second.Record, rec.ID)
				}
				r := mustGet(t, s, rec.ID)
				applied := 0
				for _, k := range historyKinds(t, s, rec.ID) {
					if k == staging.EventEmailApplied {
						applied++
					}
				}
				if len(r.Attachments) != 1 || applied != 1 || r.Version != first.Record.Version {
					t.Fatalf("after the duplicate: %d files, %d applications, version %d (was %d)", len(r.Attachments), applied, r.Version, first.Record.Version)
				}
			})
		}
		t.Run("concurrently", func(t *testing.T) {
			s, _ := newStore(t, db)
			rec := intake(t, s, dealFor(t, 200, "880000", "DR00000088", "")).Record
			e := phEmail("<concurrent@ph.example>", "880000", "DR00000088", "", contractPDF())
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := map[staging.EmailOutcome]int{}
			for range 10 {
				wg.Go(func() {
					res, err := s.IngestEmail(context.Background(), e)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Error(err)
						return
					}
					got[res.Outcome]++
				})
			}
			wg.Wait()
			if got[staging.EmailApplied] != 1 || got[staging.EmailDuplicate] != 9 {
				t.Fatalf("outcomes %v, want 1 applied and 9 duplicates", got)
			}
			if r := mustGet(t, s, rec.ID); len(r.Attachments) != 1 {
				t.Fatalf("%d attachments, want 1", len(r.Attachments))
			}
		})
	})
}

func TestPayloadAndEmailTogetherNeverMissEachOther(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		const deals = 12
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range deals {
			ecc := fmt.Sprintf("55%04d", i)
			dr := fmt.Sprintf("DR%08d", i)
			p := dealFor(t, 300+i, ecc, dr, "")
			e := phEmail(fmt.Sprintf("<race-%d@ph.example>", i), ecc, dr, "")
			wg.Go(func() {
				<-start
				if _, err := s.Intake(context.Background(), p); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				<-start
				if _, err := s.IngestEmail(context.Background(), e); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		counts, err := s.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if counts[staging.StateReady] != deals || total(counts) != deals {
			t.Fatalf("counts %v, want %d ready records and nothing else", counts, deals)
		}
	})
}

func TestFurtherEmailReplacesWaitingPHData(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		first := ingest(t, s, phEmail("<first@ph.example>", "0001234567", "DR00004711", "", contractPDF()))
		corrected := phEmail("<second@ph.example>", "0001234567", "DR00004711", "4500012345")
		corrected.Fields[staging.FieldTenantID] = "mueller-soehne-prod"
		second := ingest(t, s, corrected)
		if second.Outcome != staging.EmailWaiting || second.Record.ID != first.Record.ID {
			t.Fatalf("second email: %s on record %d, want waiting on %d", second.Outcome, second.Record.ID, first.Record.ID)
		}
		ir := intake(t, s, deal(t, nil))
		r := mustGet(t, s, ir.Record.ID)
		if ir.Outcome != staging.IntakeMerged || r.PH.Fields[staging.FieldTenantID] != "mueller-soehne-prod" || len(r.Attachments) != 1 {
			t.Fatalf("payload: %s, tenant %q, %d files", ir.Outcome, r.PH.Fields[staging.FieldTenantID], len(r.Attachments))
		}
	})
}

func TestEmailDifferencesAreWarnings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		rec := intake(t, s, deal(t, nil)).Record
		e := phEmail("<warn@ph.example>", "0001234567", "DR00004711", "")
		e.Fields[staging.FieldCompanyName] = "Mueller and Son GmbH"
		e.Warnings = []string{"Marketing Cloud Org ID completed with @AdobeOrg"}
		bad := staging.EmailAttachment{FileName: "scan.pdf", ContentType: "application/pdf", Data: []byte("not a pdf"),
			Usable: false, Warnings: []string{"fails the PDF check"}}
		ingest(t, s, e, staging.Via("imap"))
		r := mustGet(t, s, rec.ID)
		want := []string{
			`company name differs: Salesforce "Müller & Søn Größe GmbH", PH email "Mueller and Son GmbH" (the load uses Salesforce's)`,
			"PH email: Marketing Cloud Org ID completed with @AdobeOrg",
		}
		if !slices.Equal(r.Warnings, want) {
			t.Fatalf("warnings:\n%q\nwant\n%q", r.Warnings, want)
		}
		e2 := phEmail("<warn2@ph.example>", "0001234567", "DR00004711", "", bad, contractPDF())
		ingest(t, s, e2)
		r = mustGet(t, s, rec.ID)
		if !slices.Contains(r.Warnings, `attachment "scan.pdf" is kept as evidence only and is not sent to ServiceNow: fails the PDF check`) {
			t.Fatalf("warnings %q lack the unusable attachment", r.Warnings)
		}
		if la := r.LoadAttachments(); len(la) != 1 || la[0].FileName != "contract.pdf" {
			t.Fatalf("load attachments %+v, want only the second email's contract", la)
		}
	})
}

func TestEmailWithoutECCIDIsQuarantined(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		e := phEmail("<no-ecc@ph.example>", "", "DR00004711", "4500012345", contractPDF())
		for range 2 {
			res := ingest(t, s, e, staging.Via("smtp"))
			if res.Outcome != staging.EmailQuarantined || res.Record != nil || res.Quarantine == nil || res.Quarantine.Reason != staging.ReasonNoECCID {
				t.Fatalf("got %+v, want a quarantine entry and no record", res)
			}
		}
		counts, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if total(counts) != 0 {
			t.Fatalf("a record was staged: %v", counts)
		}
		page, err := s.ListQuarantine(ctx, staging.QuarantineFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 1 || page.Entries[0].MessageID != e.MessageID || page.Entries[0].Channel != "smtp" {
			t.Fatalf("quarantine %+v, want one entry for the message", page.Entries)
		}
		entry, raw, err := s.QuarantinedMessage(ctx, page.Entries[0].ID)
		if err != nil || string(raw) != string(e.Raw) || entry.Size != int64(len(e.Raw)) {
			t.Fatalf("quarantined message: %v, %d bytes", err, len(raw))
		}
		// a parser failure reported by the caller
		q, err := s.Quarantine(ctx, []byte("garbage"), "not a MIME message", "imap")
		if err != nil || q.Channel != "imap" || q.Reason != "not a MIME message" {
			t.Fatalf("Quarantine: %+v %v", q, err)
		}
		page, err = s.ListQuarantine(ctx, staging.QuarantineFilter{Limit: 1})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].ID != q.ID || page.Next == "" {
			t.Fatalf("first page %+v %v", page, err)
		}
		page, err = s.ListQuarantine(ctx, staging.QuarantineFilter{Limit: 1, After: page.Next})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].MessageID != e.MessageID || page.Next != "" {
			t.Fatalf("second page %+v %v", page, err)
		}
	})
}

func total(counts map[staging.State]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func dialectOf(t *testing.T) string {
	return t.Name()[strings.LastIndex(t.Name(), "/")+1:]
}

// renderHistory writes a record's history one event a line, with times as
// offsets from the test clock's start.
func renderHistory(t *testing.T, s *staging.Store, id int64) string {
	t.Helper()
	evs, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	start := newClock().Now()
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "+%v %s %s->%s via=%s by=%s: %s", e.At.Sub(start), e.Kind, e.From, e.To, e.Channel, e.User, e.Message)
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, e.Data[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
