package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

var versionField = regexp.MustCompile(`name="version" value="(\d+)"`)

// TestPreviewAndLoad is the "SFDC Data" button end to end, on SQLite and
// Postgres: the dry run shows per table what would change and writes
// nothing, Load enqueues the job, the job page shows the result with links
// to the ServiceNow records, and the button is then disabled with the
// reason.
func TestPreviewAndLoad(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL, nil)
		rec := h.stageExample()
		// An existing company of the deal with another contact: the dry run
		// shows an update with old -> new.
		companyID := h.sn.Seed("core_company", map[string]string{"name": "Müller & Søn Größe GmbH", "u_ecc_id": "0001234567",
			"u_product": "AEM", "u_customer_contact": "old-buyer@mueller.example", "u_active": "true"})
		op := h.loggedIn("olga", auth.RoleOperator)
		path := "/records/" + rec.Number

		pv := op.post(path+"/preview", nil)
		if pv.status != http.StatusOK {
			t.Fatalf("preview: %d\n%s", pv.status, pv.body)
		}
		for _, want := range []string{
			"Nothing has been written yet", "<code>core_company</code>", "<code>u_ams_finance_names</code>",
			"<code>u_managed_services_sales_order</code>", "<code>u_sales_skus</code>",
			`<span class="action action-update">update</span>`, `<span class="action action-insert">insert</span>`,
			`<td class="old">old-buyer@mueller.example</td><td class="new">anna.berg@mueller-son.example</td>`,
			"Contract_DR00004711.pdf: will be uploaded", `id="confirm-load"`, `id="confirm-load-bottom"`,
			// The summary per table, with the updates' changed fields.
			"<th scope=\"row\"><code>core_company</code></th>", "<td class=\"num\">0</td>\n      <td class=\"num\">1 <span class=\"muted\">(",
			"<th scope=\"row\"><code>u_sales_skus</code></th>\n      <td class=\"num\">6</td>",
			// The warning of the line without a SKU, and labels instead of ids.
			"line 6 &#34;AEM MANAGED SERVICES PREMIUM SUPPORT&#34; (EUR 25,000.00) is a managed-services line without a SKU",
			"sku: AEM SITES:MS 99.9% UPTIME (line 1)",
		} {
			if !strings.Contains(pv.body, want) {
				t.Errorf("the preview lacks %q", want)
			}
		}
		if !strings.Contains(pv.body, h.sn.URL()+"/core_company.do?sys_id="+companyID) {
			t.Errorf("the preview does not link the existing company %s", companyID)
		}
		// The Load confirmation comes before the steps, and again after.
		if top, steps := strings.Index(pv.body, `id="confirm-load"`), strings.Index(pv.body, `id="diff"`); top > steps {
			t.Error("the first Load button comes after the steps")
		}
		if strings.Contains(pv.body, ">skus[") {
			t.Error("the preview names steps by their index")
		}
		if n := h.sn.CountCalls("POST", "/api/now/table/") + h.sn.CountCalls("PATCH", "") + h.sn.CountCalls("PUT", ""); n != 0 {
			t.Fatalf("the dry run wrote %d times", n)
		}
		ver := versionField.FindStringSubmatch(pv.body)
		if ver == nil || ver[1] != strconv.FormatInt(rec.Version, 10) {
			t.Fatalf("the Load form lacks the record version: %v", ver)
		}

		// Load: a job, its page, the result with links.
		a := op.post(path+"/load", url.Values{"version": {ver[1]}})
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/jobs/") {
			t.Fatalf("load: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
		}
		jobPage := op.get(a.header.Get("Location"))
		if jobPage.status != http.StatusOK || !strings.Contains(jobPage.body, `aria-live="polite"`) {
			t.Fatalf("job page: %d\n%s", jobPage.status, jobPage.body)
		}
		done := op.waitJob(a.header.Get("Location"))
		if !strings.Contains(done.body, `<span class="state state-loaded">loaded</span>`) || !strings.Contains(done.body, `id="load-result"`) {
			t.Fatalf("finished job page:\n%s", done.body)
		}
		dump := h.sn.Dump()
		if len(dump["core_company"]) != 1 || len(dump["u_sales_skus"]) != 6 || len(dump["u_managed_services_sales_order"]) != 1 {
			t.Fatalf("ServiceNow after the load: %d companies, %d SKUs", len(dump["core_company"]), len(dump["u_sales_skus"]))
		}
		if dump["core_company"][0].Fields["u_customer_contact"] != "anna.berg@mueller-son.example" {
			t.Fatalf("company not updated: %v", dump["core_company"][0].Fields)
		}
		for _, table := range []string{"core_company", "u_ams_finance_names", "u_managed_services_sales_order", "u_sales_skus"} {
			for _, r := range dump[table] {
				link := h.sn.URL() + "/" + table + ".do?sys_id=" + r.ID
				if !strings.Contains(done.body, `href="`+link+`"`) {
					t.Errorf("the job page does not link %s %s", table, r.ID)
				}
			}
		}
		// The result in words; the file is uploaded, not pending; step
		// names are their labels, without index gaps.
		for _, want := range []string{"inserted 8 rows, updated 1, uploaded Contract_DR00004711.pdf", "Contract_DR00004711.pdf: uploaded",
			"<th scope=\"row\">sku: AEM FORMS: MS ADDON STORAGE (line 11)</th>", "The load is <strong id=\"job-state\">done</strong>"} {
			if !strings.Contains(done.body, want) {
				t.Errorf("the finished job page lacks %q", want)
			}
		}
		for _, unwanted := range []string{"Contract_DR00004711.pdf: upload<", "skus[", "12 calls (", "completed"} {
			if strings.Contains(done.body, unwanted) {
				t.Errorf("the finished job page says %q", unwanted)
			}
		}
		page := op.get(path)
		if !strings.Contains(page.body, `id="load-result"`) || !strings.Contains(page.body, dump["u_managed_services_sales_order"][0].ID) ||
			!strings.Contains(page.body, `disabled aria-describedby="not-loadable"`) || !strings.Contains(page.body, "Not loadable: already loaded") {
			t.Fatalf("record page after the load:\n%s", page.body)
		}
		if a := op.post(path+"/load", nil); a.status != http.StatusConflict || !strings.Contains(a.body, "already loaded") {
			t.Fatalf("second load: %d\n%s", a.status, a.body)
		}
		if a := op.post(path+"/preview", nil); a.status != http.StatusOK || strings.Contains(a.body, `id="confirm-load"`) ||
			strings.Contains(a.body, "action-insert") {
			t.Fatalf("preview of a loaded record: %d\n%s", a.status, a.body)
		}
	})
}

// TestLoadRefusesAChangedRecord: the Load of a preview does nothing when
// the record changed after the preview.
func TestLoadRefusesAChangedRecord(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	op := h.loggedIn("olga", auth.RoleOperator)
	path := "/records/" + rec.Number
	pv := op.post(path+"/preview", nil)
	ver := versionField.FindStringSubmatch(pv.body)
	if ver == nil {
		t.Fatalf("no version in the preview:\n%s", pv.body)
	}
	newer := strings.Replace(string(dealJSON(t, nil)), `"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`, `"LastModifiedDate": "2026-11-28T10:00:00.000+0000"`, 1)
	if up := h.stage([]byte(newer)); up.Version == rec.Version {
		t.Fatal("the newer payload did not change the record")
	}
	a := op.post(path+"/load", url.Values{"version": {ver[1]}})
	if a.status != http.StatusConflict || !strings.Contains(a.body, "changed after your preview") {
		t.Fatalf("load of a stale preview: %d\n%s", a.status, a.body)
	}
	if got := h.get(rec.ID); got.State != staging.StateReady || got.Load.Attempts != 0 {
		t.Fatalf("record after the refused load: %s, %d attempts", got.State, got.Load.Attempts)
	}
}

// TestReloadAfterAFix: a load that fails is shown with its reason, stays
// loadable, and loads from the same page once the cause is fixed.
func TestReloadAfterAFix(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	op := h.loggedIn("olga", auth.RoleOperator)
	path := "/records/" + rec.Number
	h.sn.Inject(sntest.Fault{Method: "POST", PathPrefix: "/api/now/table/u_managed_services_sales_order", Status: http.StatusForbidden,
		Message: "Operation Failed", Detail: "ACL denies create on u_managed_services_sales_order"})
	a := op.post(path+"/load", nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("load: %d\n%s", a.status, a.body)
	}
	failed := op.waitJob(a.header.Get("Location"))
	if !strings.Contains(failed.body, `id="load-error"`) || !strings.Contains(failed.body, "ACL denies create") {
		t.Fatalf("failed job page:\n%s", failed.body)
	}
	page := op.get(path)
	if !strings.Contains(page.body, "The last load failed") || !strings.Contains(page.body, "retry of a failed load") ||
		strings.Contains(page.body, `disabled aria-describedby="not-loadable"`) {
		t.Fatalf("record page after the failure:\n%s", page.body)
	}
	// The failed load's partial writes, from its journal: the company it
	// wrote (linked to its form) and the steps still to do.
	company := h.sn.Dump()["core_company"]
	if len(company) != 1 {
		t.Fatalf("%d companies after the failed load", len(company))
	}
	for _, want := range []string{`id="written"`, "Already written in the target", "<td>inserted</td><td><code>core_company</code></td>",
		`href="` + h.sn.URL() + "/core_company.do?sys_id=" + company[0].ID + `"`, `id="pending"`, "<code>u_managed_services_sales_order</code>",
		"sku: AEM SITES:MS 99.9% UPTIME (line 1)"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the failed record's page lacks %q", want)
		}
	}
	exc := op.get("/exceptions")
	if !strings.Contains(exc.body, rec.Number) || !strings.Contains(exc.body, "ACL denies create") || !strings.Contains(exc.body, "Load again") {
		t.Fatalf("exceptions page:\n%s", exc.body)
	}
	// The fault was one answer; the target is "fixed". Preview again: the
	// company written by the first attempt is now an existing record.
	pv := op.post(path+"/preview", nil)
	if !strings.Contains(pv.body, `<span class="action action-unchanged">unchanged</span>`) || !strings.Contains(pv.body, `id="confirm-load"`) ||
		!strings.Contains(pv.body, `id="progress"`) || strings.Index(pv.body, `id="progress"`) > strings.Index(pv.body, `id="diff"`) {
		t.Fatalf("preview after the failure:\n%s", pv.body)
	}
	ver := versionField.FindStringSubmatch(pv.body)
	a = op.post(path+"/load", url.Values{"version": {ver[1]}})
	done := op.waitJob(a.header.Get("Location"))
	if !strings.Contains(done.body, `<span class="state state-loaded">loaded</span>`) {
		t.Fatalf("reload:\n%s", done.body)
	}
	if got := h.get(rec.ID); got.State != staging.StateLoaded || got.Load.Attempts != 2 {
		t.Fatalf("after the reload: %s, %d attempts", got.State, got.Load.Attempts)
	}
	// The record page links its latest load job: the second one.
	if page := op.get(path); !strings.Contains(page.body, `<a id="load-job" href="`+a.header.Get("Location")+`">`) ||
		!strings.Contains(page.body, "done, try 1") {
		t.Fatalf("record page lacks its load job %s:\n%s", a.header.Get("Location"), page.body)
	}
	if n := len(h.sn.Dump()["core_company"]); n != 1 {
		t.Fatalf("%d companies after a failed and a good load", n)
	}
}
