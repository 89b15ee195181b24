package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// waitRecord reads the record until ok holds (bounded).
func (h *harness) waitRecord(id int64, what string, ok func(*staging.Record) bool) *staging.Record {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec := h.get(id)
		if ok(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not %s within 60s: %s, %d retries, %q", rec.Number, what, rec.State, rec.Load.Retries, rec.Load.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startRetryingLoad loads the example while ServiceNow refuses the finance
// name's insert with a 503 whose Retry-After (an hour) is longer than the
// client waits: the load keeps the other writes and waits an hour for its
// next try. faults is how many tries are refused.
func startRetryingLoad(t *testing.T, h *harness, op *client, faults int) *staging.Record {
	t.Helper()
	rec := h.stageExample()
	h.sn.Inject(sntest.Fault{Method: "POST", PathPrefix: "/api/now/table/u_ams_finance_names", Status: http.StatusServiceUnavailable,
		RetryAfter: time.Hour, Count: faults})
	if a := op.post("/records/"+rec.Number+"/load", nil); a.status != http.StatusSeeOther {
		t.Fatalf("load: %d\n%s", a.status, a.body)
	}
	return h.waitRecord(rec.ID, "retrying", func(r *staging.Record) bool { return r.Load.Retrying() })
}

// TestRetryingLoad: a load that failed for a passing reason shows that it
// retries, what it wrote and what is left; an operator tries it again now
// or stops it (after a confirmation), and retries the failed loads in bulk
// after a page that names how many; viewers get neither button.
func TestRetryingLoad(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL, nil)
		op := h.loggedIn("olga", auth.RoleOperator)
		viewer := h.loggedIn("victor", auth.RoleViewer)
		rec := startRetryingLoad(t, h, op, 2)
		path := "/records/" + rec.Number
		written := h.sn.Dump()

		page := op.get(path)
		for _, want := range []string{`id="retry-status"`, "1 try failed for a passing reason", "ServiceNow", `action="` + path + `/retry-now"`,
			`action="` + path + `/stop-retrying"`, `data-confirm="Stop retrying the load of ` + rec.Number, `id="written"`, `id="pending"`,
			"Next try at", "(in 59m)", "<td>inserted</td><td><code>core_company</code></td>",
			`href="` + h.sn.URL() + "/core_company.do?sys_id=" + written["core_company"][0].ID + `"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the retrying record's page lacks %q", want)
			}
		}
		rows := 0
		for _, table := range []string{"core_company", "u_ams_finance_names", "u_managed_services_sales_order", "u_sales_skus"} {
			rows += len(written[table])
		}
		if got := strings.Count(page.body, "<td>inserted</td>"); got != rows || rows == 0 {
			t.Errorf("the page lists %d rows written, ServiceNow took %d", got, rows)
		}
		if !strings.Contains(page.body, "<li>finance name Müller &amp; Søn Finance EMEA <code>u_ams_finance_names</code></li>") {
			t.Error("the page does not list the finance name as still to do")
		}
		if vp := viewer.get(path); strings.Contains(vp.body, `id="retry-now"`) || strings.Contains(vp.body, `id="stop-retrying"`) ||
			!strings.Contains(vp.body, `id="retry-status"`) {
			t.Error("a viewer sees the retry buttons, or not the retrying state")
		}
		for _, action := range []string{"/retry-now", "/stop-retrying"} {
			if a := viewer.post(path+action, url.Values{"confirmed": {"1"}}); a.status != http.StatusForbidden {
				t.Errorf("a viewer's POST %s: %d", action, a.status)
			}
			if a := op.post(path+action, url.Values{"csrf": {""}, "confirmed": {"1"}}); a.status != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token: %d", action, a.status)
			}
		}

		// The exceptions page lists the load under way, retrying; with the
		// clock past its next try by more than the rescue time it is stuck.
		exc := op.get("/exceptions")
		for _, want := range []string{`id="uw-` + rec.Number + `"`, `<span class="tag warn">retrying</span> 1 try failed`, "(in 59m)", "last failure:"} {
			if !strings.Contains(exc.body, want) {
				t.Errorf("the exceptions page lacks %q", want)
			}
		}
		if strings.Contains(exc.body, "stuck-tag") {
			t.Error("a load waiting for its next try is marked stuck")
		}
		h.clock.set(2 * time.Hour)
		if exc := op.get("/exceptions"); !strings.Contains(exc.body, "stuck-tag") || !strings.Contains(exc.body, `<tr class="stuck" id="uw-`+rec.Number+`"`) {
			t.Error("a load whose try is overdue by more than the rescue time is not marked stuck")
		}
		h.clock.set(0)

		// Retry now: the next try runs at once (and fails on the second fault).
		if a := op.post(path+"/retry-now", nil); a.status != http.StatusSeeOther || a.header.Get("Location") != path {
			t.Fatalf("retry now: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
		}
		h.waitRecord(rec.ID, "retried", func(r *staging.Record) bool { return r.Load.Retries == 2 && r.Load.Retrying() })

		// Stop retrying asks first (without JavaScript, on a page).
		ask := op.post(path+"/stop-retrying", nil)
		if ask.status != http.StatusOK || !strings.Contains(ask.body, "Stop retrying "+rec.Number+"?") || !strings.Contains(ask.body, `name="confirmed" value="1"`) {
			t.Fatalf("stop retrying without confirmation: %d\n%s", ask.status, ask.body)
		}
		if got := h.get(rec.ID); got.State != staging.StateLoading {
			t.Fatalf("the question alone stopped the load: %s", got.State)
		}
		if a := op.post(path+"/stop-retrying", url.Values{"confirmed": {"1"}}); a.status != http.StatusSeeOther {
			t.Fatalf("stop retrying: %d\n%s", a.status, a.body)
		}
		if got := h.get(rec.ID); got.State != staging.StateLoadFailed {
			t.Fatalf("after stop retrying: %s", got.State)
		}
		if a := op.post(path+"/retry-now", nil); a.status != http.StatusConflict || !strings.Contains(a.body, "cannot be tried again now") {
			t.Errorf("retry now of a failed load: %d", a.status)
		}
		failedPage := op.get(path)
		if !strings.Contains(failedPage.body, `id="written"`) || strings.Contains(failedPage.body, `id="retry-now"`) {
			t.Error("the failed record's page does not list its partial writes, or still offers retry now")
		}

		// Bulk retry: the form, a page that names the count, then the loads.
		exc = op.get("/exceptions")
		if !strings.Contains(exc.body, `action="/exceptions/retry-failed"`) || !strings.Contains(exc.body, `id="no-loads-under-way"`) {
			t.Fatalf("exceptions page after the stop:\n%s", exc.body)
		}
		if vp := viewer.get("/exceptions"); strings.Contains(vp.body, `action="/exceptions/retry-failed"`) {
			t.Error("a viewer sees the bulk retry form")
		}
		if a := viewer.post("/exceptions/retry-failed", url.Values{"confirmed": {"1"}}); a.status != http.StatusForbidden {
			t.Errorf("a viewer's bulk retry: %d", a.status)
		}
		cases := []struct {
			form url.Values
			want string
		}{
			{url.Values{"error_contains": {"no such text"}}, "No failed load matches (error containing “no such text”): nothing to retry."},
			{url.Values{"older_than": {"1d"}}, "No failed load matches (failed more than 1d ago): nothing to retry."},
			{url.Values{"older_than": {"soon"}}, "must be a duration"},
			{url.Values{"error_contains": {"503"}}, "Retry 1 failed load?"},
			{url.Values{}, "Retry 1 failed load?"},
		}
		for _, c := range cases {
			a := op.post("/exceptions/retry-failed", c.form)
			if !strings.Contains(a.body, c.want) {
				t.Errorf("bulk retry %v: %d, lacks %q", c.form, a.status, c.want)
			}
		}
		if got := h.get(rec.ID); got.State != staging.StateLoadFailed {
			t.Fatalf("the confirmation page retried already: %s", got.State)
		}
		a := op.post("/exceptions/retry-failed", url.Values{"error_contains": {"503"}, "confirmed": {"1"}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/exceptions" {
			t.Fatalf("bulk retry: %d\n%s", a.status, a.body)
		}
		if flash := op.get("/exceptions"); !strings.Contains(flash.body, "Enqueued 1 load of failed records.") {
			t.Error("the exceptions page does not say how many loads were enqueued")
		}
		done := h.waitRecord(rec.ID, "loaded", func(r *staging.Record) bool {
			return r.State != staging.StateLoading && r.State != staging.StateLoadFailed
		})
		if done.State != staging.StateLoaded {
			t.Fatalf("after the bulk retry: %s %q", done.State, done.Load.Error)
		}
		dump := h.sn.Dump()
		if len(dump["core_company"]) != 1 || len(dump["u_sales_skus"]) != 6 {
			t.Fatalf("ServiceNow after the resumed load: %d companies, %d SKUs", len(dump["core_company"]), len(dump["u_sales_skus"]))
		}
	})
}
