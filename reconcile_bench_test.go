package bookbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// BenchmarkReconcile1000 reconciles 1,000 loaded records (the basic
// sample deal, each with its own keys: a company, a finance name, a sales
// order with its contract PDF and two SKUs) against the ServiceNow double
// answering every request after 50 ms, with the target's default client
// settings. ns/op is the wall time of one reconciliation; calls/op the
// requests the double received.
func BenchmarkReconcile1000(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	db := dbtest.SQLite(b)
	quiet := slog.New(slog.DiscardHandler)
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(map[string]string{}))
	if err != nil {
		b.Fatal(err)
	}
	srv := sntest.NewServer(b, sntest.Options{SeedChoices: true})
	newFlow := func(cfg servicenow.Config) *bookbridge.Flow {
		cfg.BaseURL, cfg.Username, cfg.Password = srv.URL(), sntest.DefaultUsername, sntest.DefaultPassword
		tg, err := servicenow.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		flow, err := bookbridge.New(bookbridge.Config{Store: staging.New(db, staging.WithLogger(quiet)), Rules: rules, Target: tg, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return flow
	}
	// The records are loaded without latency or rate limit, to keep the
	// set-up short; the reconciliation runs with the default settings.
	setup := newFlow(servicenow.Config{RateLimit: -1, MaxConcurrency: 16})
	if err := setup.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	ids := stageManyLoaded(b, setup, n)
	var wg sync.WaitGroup
	work := make(chan int64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				rec, err := setup.Load(ctx, id, "bench")
				if err != nil || rec.State != staging.StateLoaded {
					b.Errorf("load %d: %v", id, err)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	flow := newFlow(servicenow.Config{})
	srv.SetLatency(50 * time.Millisecond)
	for b.Loop() {
		srv.ResetCalls()
		report, err := flow.Reconcile(ctx, bookbridge.ReconcileOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(report.Records) != n || report.InSync != n {
			b.Fatalf("%d records checked, %d in sync; want %d in sync", len(report.Records), report.InSync, n)
		}
		st := srv.Stats()
		if len(st.Writes) != 0 {
			b.Fatalf("the reconciliation wrote: %v", st.Writes)
		}
		if st.Calls > 60 {
			b.Fatalf("%d calls (%+v), want at most 60", st.Calls, report.Calls)
		}
		b.ReportMetric(float64(st.Calls), "calls/op")
		b.ReportMetric(float64(report.Calls.Get), "get-calls/op")
		b.ReportMetric(float64(report.Calls.Attachments), "attachment-calls/op")
	}
}

// stageMany stages n copies of the basic sample deal, each with its own
// Salesforce id, ECC id, DR number and sales order number, and its PH
// email with a contract PDF, and returns their ids.
func stageManyLoaded(b *testing.B, flow *bookbridge.Flow, n int) []int64 {
	ctx := context.Background()
	raw, err := os.ReadFile("examples/payloads/deal-basic.json")
	if err != nil {
		b.Fatal(err)
	}
	pdf, err := os.ReadFile("examples/emails/Contract_DR00004711.pdf")
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, 0, n)
	for i := range n {
		ecc, dr, so := fmt.Sprintf("%010d", 7000000+i), fmt.Sprintf("DR%08d", 7000000+i), fmt.Sprintf("45%08d", 7000000+i)
		doc["Id"] = fmt.Sprintf("006Dn0000%06d", i)
		doc["End_User_ECC_ID__c"], doc["Deal_Registration_Id__c"], doc["ECC_Sales_Order_Number__c"] = ecc, dr, so
		body, err := json.Marshal(doc)
		if err != nil {
			b.Fatal(err)
		}
		acc, err := flow.AcceptDeal(ctx, body)
		if err != nil {
			b.Fatal(err)
		}
		msg := fmt.Sprintf("Message-ID: <bench-%d@ph.example>\r\nSubject: To Be Provisioned - Bench %s\r\n\r\n- ECC ID: %s\r\n", i, dr, ecc)
		res, err := flow.Store().IngestEmail(ctx, staging.Email{
			MessageID: fmt.Sprintf("<bench-%d@ph.example>", i), From: "ph@provisioning.example",
			Subject: "To Be Provisioned - Bench " + dr, Date: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
			Fields:      map[string]string{staging.FieldECCID: ecc, staging.FieldDRNumber: dr, staging.FieldSalesOrderNumber: so},
			Raw:         []byte(msg),
			Attachments: []staging.EmailAttachment{{FileName: "Contract_" + dr + ".pdf", ContentType: "application/pdf", Data: pdf, Usable: true}},
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Record == nil || res.Record.ID != acc.Record.ID || res.Record.State != staging.StateReady {
			b.Fatalf("the email of deal %d did not make its record ready: %+v", i, res)
		}
		ids = append(ids, acc.Record.ID)
	}
	return ids
}
