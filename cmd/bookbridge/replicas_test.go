package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// stageReady stages n ready records (a payload and its PH email each) with
// distinct keys, and returns their ids.
func stageReady(t *testing.T, a *app.App, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	base := must(os.ReadFile(examplePayload))
	var ids []int64
	for i := 0; i < n; i++ {
		ecc := fmt.Sprintf("00077%05d", i)
		dr := fmt.Sprintf("DR7%07d", i)
		id15 := fmt.Sprintf("006Dn0000R%05d", i)
		body := bytes.ReplaceAll(base, []byte("0001234567"), []byte(ecc))
		body = bytes.ReplaceAll(body, []byte("DR00004711"), []byte(dr))
		body = bytes.ReplaceAll(body, []byte("006Dn00000AbCdEIAV"), []byte(id15+sfdc.IDChecksum(id15)))
		d, err := sfdc.Decode[sfdc.Opportunity](body)
		if err != nil {
			t.Fatal(err)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			t.Fatal(err)
		}
		res, err := a.Store.Intake(ctx, staging.PayloadFromOpportunity(d))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Store.IngestEmail(ctx, staging.Email{
			MessageID: fmt.Sprintf("replica-%d@test", i), Subject: "To Be Provisioned - Müller & Søn Größe GmbH " + dr,
			Raw:    []byte(fmt.Sprintf("Subject: test %d\r\n\r\nECC ID: %s\r\n", i, ecc)),
			Fields: map[string]string{"ecc_id": ecc, "dr_number": dr, "company_name": "Müller & Søn Größe GmbH", "tenant_id": "t" + ecc},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Record.ID)
	}
	return ids
}

// TestTwoServersRunEachLoadOnce starts two serve processes on one Postgres
// database, enqueues 20 loads through both, and checks that every load ran
// exactly once and nothing was written twice.
func TestTwoServersRunEachLoadOnce(t *testing.T) {
	dbURL := dbtest.PostgresURL(t)
	sn := sntest.NewServer(t, sntest.Options{Username: "svc", Password: "pw", SeedChoices: true})
	env := map[string]string{
		"BOOKBRIDGE_DATABASE_URL": dbURL, "BOOKBRIDGE_LISTEN": "127.0.0.1:0", "BOOKBRIDGE_TARGET": "servicenow",
		"BOOKBRIDGE_SERVICENOW_URL": sn.URL(), "BOOKBRIDGE_SERVICENOW_USER": "svc", "BOOKBRIDGE_SERVICENOW_PASSWORD": "pw",
	}
	ctx := context.Background()
	var procs []*process
	for i := 0; i < 2; i++ {
		p, err := startProcess(ctx, testConfig(t, env), app.Options{Logger: testLogger(t), Work: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := p.Shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			cancel()
		}
	}()
	ids := stageReady(t, procs[0].App, 20)
	var jobs []int64
	for i, id := range ids {
		jobID, err := procs[i%2].App.Flow.EnqueueLoad(ctx, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, jobID)
	}
	// Enqueuing a load twice is refused while the first runs or after it.
	if _, err := procs[1].App.Flow.EnqueueLoad(ctx, ids[0], "test"); err == nil {
		t.Fatal("a second load of the same record was enqueued")
	}
	workers := map[string]int{}
	deadline := time.Now().Add(2 * time.Minute)
	for _, jobID := range jobs {
		for {
			j, err := procs[0].App.Queue.Client().JobGet(ctx, jobID)
			if err != nil {
				t.Fatal(err)
			}
			if j.State == rivertype.JobStateCompleted {
				if j.Attempt != 1 {
					t.Errorf("job %d ran %d times", jobID, j.Attempt)
				}
				for _, by := range j.AttemptedBy {
					workers[by]++
				}
				break
			}
			if j.FinalizedAt != nil || time.Now().After(deadline) {
				t.Fatalf("job %d: %s after %d attempts: %v", jobID, j.State, j.Attempt, j.Errors)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("jobs worked per process: %v", workers)
	for _, id := range ids {
		rec, err := procs[1].App.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != staging.StateLoaded || rec.Load.Attempts != 1 {
			t.Errorf("%s: %s after %d load attempts", rec.Number, rec.State, rec.Load.Attempts)
		}
	}
	tables := sn.Dump()
	if len(tables["core_company"]) != 20 || len(tables["u_managed_services_sales_order"]) != 20 || len(tables["u_sales_skus"]) != 20*6 {
		t.Fatalf("rows: %d companies, %d sales orders, %d SKUs", len(tables["core_company"]), len(tables["u_managed_services_sales_order"]), len(tables["u_sales_skus"]))
	}
	seen := map[string]bool{}
	for _, c := range tables["core_company"] {
		if seen[c.Fields["u_ecc_id"]] {
			t.Errorf("company %s written twice", c.Fields["u_ecc_id"])
		}
		seen[c.Fields["u_ecc_id"]] = true
	}
}
