package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// TestReconcileAPIAndCLI loads a record into the ServiceNow double, edits
// a row there by hand, and checks that the API, the CLI and the periodic
// check report the drift without writing, that an acknowledgement from
// the API quiets it, and the exit codes of the CLI.
func TestReconcileAPIAndCLI(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		e := startTestServer(t, dbURL, map[string]string{"BOOKBRIDGE_RECONCILE_INTERVAL": "200ms"})
		var in struct{ Number string }
		if code := e.do("POST", "/api/v1/deals", e.intake, "application/json", must(os.ReadFile(examplePayload)), &in); code != 201 {
			t.Fatalf("deal: %d", code)
		}
		var acc bookbridge.EmailAccepted
		if code := e.do("POST", "/api/v1/emails", e.intake, "message/rfc822", must(os.ReadFile(exampleEmail)), &acc); code != 202 {
			t.Fatalf("email: %d", code)
		}
		e.waitJob(acc.JobID)
		var job struct {
			JobID int64 `json:"job_id"`
		}
		if code := e.do("POST", "/api/v1/records/"+in.Number+"/load", e.operator, "", nil, &job); code != 202 {
			t.Fatalf("load: %d", code)
		}
		if st := e.waitJob(job.JobID); st.Record == nil || st.Record.State != "loaded" {
			t.Fatalf("load job: %+v", st)
		}
		cliEnv := map[string]string{
			"BOOKBRIDGE_DATABASE_URL": dbURL, "BOOKBRIDGE_TARGET": "servicenow", "BOOKBRIDGE_SERVICENOW_URL": e.sn.URL(),
			"BOOKBRIDGE_SERVICENOW_USER": "svc", "BOOKBRIDGE_SERVICENOW_PASSWORD": "pw",
		}
		cli := func(args ...string) (string, int) {
			var o, errb bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return cliEnv[k] }, strings.NewReader(""), &o, &errb)
			if err != nil {
				errb.WriteString(err.Error())
			}
			return o.String() + errb.String(), exitCode(err)
		}
		writes := func() int {
			n := 0
			for _, w := range e.sn.Stats().Writes {
				n += w
			}
			return n
		}
		before := writes()

		var report bookbridge.ReconcileReport
		if code := e.do("POST", "/api/v1/reconcile", e.operator, "", nil, &report); code != 200 || report.InSync != 1 || len(report.Records) != 1 {
			t.Fatalf("reconcile: %d %+v", code, report)
		}
		if out, code := cli("reconcile"); code != exitOK || !strings.Contains(out, in.Number+": in_sync") {
			t.Fatalf("reconcile CLI in sync: %d\n%s", code, out)
		}

		sku := e.sn.Dump()["u_sales_skus"][0]
		e.sn.Edit("u_sales_skus", sku.ID, map[string]string{"u_qty": "99"})
		body := []byte(`{"records": ["` + in.Number + `"]}`)
		if code := e.do("POST", "/api/v1/reconcile", e.operator, "application/json", body, &report); code != 200 || report.Drifted != 1 {
			t.Fatalf("reconcile after the edit: %d %+v", code, report)
		}
		if d := report.Records[0].Drifts; len(d) != 1 || d[0].Field != "u_qty" || d[0].Actual != "99" || d[0].TargetID != sku.ID {
			t.Fatalf("drifts: %+v", d)
		}
		out, code := cli("reconcile", in.Number)
		if code != exitInvalid || !strings.Contains(out, "field_changed") || !strings.Contains(out, `u_qty "`+sku.Fields["u_qty"]+`" → "99"`) {
			t.Fatalf("reconcile CLI after the edit: %d\n%s", code, out)
		}
		if out, code := cli("reconcile", "--json", in.Number); code != exitInvalid || !strings.Contains(out, `"status": "drifted"`) {
			t.Fatalf("reconcile --json: %d\n%s", code, out)
		}
		if out, code := cli("reconcile", "BB9999999"); code != exitUsage {
			t.Fatalf("reconcile of an unknown record: %d\n%s", code, out)
		}
		waitMetric(t, e, "bookbridge_records_drifted 1")

		var ack bookbridge.RecordReconciliation
		if code := e.do("POST", "/api/v1/records/"+in.Number+"/drift/ack", e.operator, "", nil, &ack); code != 200 || ack.Status != bookbridge.ReconcileAcknowledged {
			t.Fatalf("ack: %d %+v", code, ack)
		}
		if out, code := cli("reconcile"); code != exitOK || !strings.Contains(out, "acknowledged by key:ops") {
			t.Fatalf("reconcile CLI after the acknowledgement: %d\n%s", code, out)
		}
		waitMetric(t, e, "bookbridge_records_drifted 0")
		e.sn.Edit("u_sales_skus", sku.ID, map[string]string{"u_qty": sku.Fields["u_qty"]})
		var errBody struct{ Code string }
		if code := e.do("POST", "/api/v1/records/"+in.Number+"/drift/ack", e.operator, "", nil, &errBody); code != 409 || errBody.Code != "no_drift" {
			t.Fatalf("ack of a record in sync: %d %+v", code, errBody)
		}
		if n := writes() - before; n != 0 {
			t.Errorf("reconciling wrote %d times", n)
		}
	})
}

// waitMetric waits, bounded, until /metrics shows line (the periodic check
// runs every 200ms in the test).
func waitMetric(t *testing.T, e *testEnv, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := e.client.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "\n"+line+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not show %q after 30s", line)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
