package console

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// TestRecordsList: counts per state, search, the state filter, paging and
// records waiting too long.
func TestRecordsList(t *testing.T) {
	h := newSQLiteHarness(t, map[string]string{"BOOKBRIDGE_WAITING_ALERT": "24h"})
	ready := h.stageExample()
	h.clock.set(-50 * time.Hour) // staged two days ago, still without its email
	late := h.stage(dealJSON(t, otherDeal(1, "Late Lattice AG", "0009990001", "DR00000001")))
	h.clock.set(0)
	fresh := h.stage(dealJSON(t, otherDeal(2, "Fresh Fields Ltd", "0009990002", "DR00000002")))
	v := h.loggedIn("victor", auth.RoleViewer)

	all := v.get("/records")
	if all.status != http.StatusOK {
		t.Fatalf("list: %d", all.status)
	}
	for _, want := range []string{ready.Number, late.Number, fresh.Number, "Müller &amp; Søn Größe GmbH", "Late Lattice AG",
		`<option value="received">received (2)</option>`, `<option value="ready">ready (1)</option>`, `All states (3)`,
		`waiting over 1d <span class="n">1</span>`} {
		if !strings.Contains(all.body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	rows := regexp.MustCompile(`(?s)<tr( class="late")?>\s*<th scope="row"><a href="/records/(BB\d+)">`).FindAllStringSubmatch(all.body, -1)
	if len(rows) != 3 {
		t.Fatalf("%d rows:\n%s", len(rows), all.body)
	}
	for _, r := range rows {
		if (r[1] != "") != (r[2] == late.Number) {
			t.Errorf("row %s highlighted=%v", r[2], r[1] != "")
		}
	}
	if !strings.Contains(all.body, "waiting 2d 2h") {
		t.Errorf("the late record's age is not shown:\n%s", all.body)
	}

	cases := []struct {
		query string
		want  []string
	}{
		{"?q=DR00004711", []string{ready.Number}},
		{"?q=0009990002", []string{fresh.Number}},
		{"?q=lattice", []string{late.Number}},
		{"?q=" + ready.Number, []string{ready.Number}},
		{"?state=received", []string{fresh.Number, late.Number}},
		{"?state=received&q=fresh", []string{fresh.Number}},
		{"?waiting=late", []string{late.Number}},
		{"?q=nothing-like-this", nil},
	}
	for _, c := range cases {
		a := v.get("/records" + c.query)
		got := regexp.MustCompile(`<a href="/records/(BB\d+)">`).FindAllStringSubmatch(a.body, -1)
		var numbers []string
		for _, g := range got {
			numbers = append(numbers, g[1])
		}
		if a.status != http.StatusOK || strings.Join(numbers, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: %d %v, want %v", c.query, a.status, numbers, c.want)
		}
	}
	if a := v.get("/records?state=bogus"); a.status != http.StatusBadRequest {
		t.Errorf("unknown state: %d", a.status)
	}

	// Paging: two per page, newest first.
	page1 := v.get("/records?limit=2")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(page1.body)
	if next == nil || !strings.Contains(page1.body, fresh.Number) || strings.Contains(page1.body, ready.Number) {
		t.Fatalf("page 1:\n%s", page1.body)
	}
	page2 := v.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if !strings.Contains(page2.body, ready.Number) || strings.Contains(page2.body, fresh.Number) || !strings.Contains(page2.body, "First page") {
		t.Fatalf("page 2:\n%s", page2.body)
	}
}

// TestRecordPage: the Salesforce data with money and line items, the PH
// data, the PDF (inline and as a download) and the history.
func TestRecordPage(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	v := h.loggedIn("victor", auth.RoleViewer)
	page := v.get("/records/" + rec.Number)
	if page.status != http.StatusOK {
		t.Fatalf("%d\n%s", page.status, page.body)
	}
	for _, want := range []string{
		"EUR 495,000.75", "DR00004711", "4500012345", "0001234567", "3000045678", "2027-01-01", "2029-12-31",
		"Müller &amp; Søn Finance EMEA", "José Álvarez", "O&#39;Brien, Siobhán", "Zoë Łukasiewicz", "Königsallee 12, 40212 Düsseldorf, NRW, Germany",
		"12 line items, 7 of them managed services",
		"7 managed-services lines: 6 become rows of u_sales_skus",
		"Not loaded: line 6 &#34;AEM MANAGED SERVICES PREMIUM SUPPORT&#34; (EUR 25,000.00) is a managed-services line without a SKU",
		"5 lines are not managed-services lines and not loaded", `<td class="date">2027-01-01</td>`,
		"<dt>Last modified</dt><dd>2026-11-27 10:00 UTC</dd>", "mueller-son-prod", "1A2B3C4D5E6F7A8B9C0D1E2F@AdobeOrg", "anna.berg@mueller-son.example",
		"Contract_DR00004711.pdf", "created", "email_applied", "received → ready", "2026-03-03 08:15 UTC",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the record page lacks %q", want)
		}
	}
	if n := strings.Count(page.body, `<tr class="ms">`); n != 7 {
		t.Errorf("%d managed-services rows, want 7", n)
	}
	if n := strings.Count(page.body, `<span class="ms-tag">MS`); n != 7 {
		t.Errorf("%d MS marks, want 7", n)
	}
	att := rec.Attachments[0]
	link := "/records/" + rec.Number + "/attachments/" + strconv.FormatInt(att.ID, 10)
	if !strings.Contains(page.body, `href="`+link+`"`) || !strings.Contains(page.body, `href="`+link+`?download=true"`) {
		t.Fatalf("attachment links missing:\n%s", page.body)
	}
	pdf, err := os.ReadFile(examplePDF)
	if err != nil {
		t.Fatal(err)
	}
	inline := v.get(link)
	if inline.status != 200 || inline.header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(inline.header.Get("Content-Disposition"), "inline") || !bytes.Equal([]byte(inline.body), pdf) {
		t.Fatalf("inline PDF: %d %s %s", inline.status, inline.header.Get("Content-Type"), inline.header.Get("Content-Disposition"))
	}
	dl := v.get(link + "?download=true")
	if dl.status != 200 || dl.header.Get("Content-Type") != "application/octet-stream" ||
		dl.header.Get("Content-Disposition") != `attachment; filename=Contract_DR00004711.pdf` || !bytes.Equal([]byte(dl.body), pdf) {
		t.Fatalf("download: %d %s %s", dl.status, dl.header.Get("Content-Type"), dl.header.Get("Content-Disposition"))
	}
	if a := v.get("/records/" + rec.Number + "/attachments/999999"); a.status != http.StatusNotFound {
		t.Errorf("unknown attachment: %d", a.status)
	}
	eml := v.get("/records/" + rec.Number + "/email")
	raw, _ := os.ReadFile(exampleEmail)
	if eml.status != 200 || eml.body != string(raw) || !strings.HasPrefix(eml.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("raw email: %d %q", eml.status, eml.header.Get("Content-Disposition"))
	}
	for _, ref := range []string{strconv.FormatInt(rec.ID, 10), rec.Number} {
		if a := v.get("/records/" + ref); a.status != http.StatusOK {
			t.Errorf("record by %s: %d", ref, a.status)
		}
	}
	if a := v.get("/records/BB9999999"); a.status != http.StatusNotFound || !strings.Contains(a.body, "There is no record") {
		t.Errorf("unknown record: %d", a.status)
	}
	if strings.Contains(page.body, `id="validation"`) {
		t.Error("a valid payload shows validation problems")
	}

	// A staged payload that today's rules find invalid shows each problem.
	oddRaw := dealJSON(t, func(m map[string]any) {
		otherDeal(5, "Odd Currency Ltd", "0006660006", "DR00006666")(m)
		m["CurrencyIsoCode"] = "EURO"
		m["Deal_Registration_Id__c"] = "DR1"
	})
	d, err := sfdc.Decode[sfdc.Opportunity](oddRaw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.app.Store.Intake(context.Background(), staging.PayloadFromOpportunity(d))
	if err != nil {
		t.Fatal(err)
	}
	odd := v.get("/records/" + res.Record.Number)
	for _, want := range []string{`id="validation"`, "<code>/CurrencyIsoCode</code>", "<code>/Deal_Registration_Id__c</code>"} {
		if !strings.Contains(odd.body, want) {
			t.Errorf("the invalid payload's page lacks %q", want)
		}
	}
}
