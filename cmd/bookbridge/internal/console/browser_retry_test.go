package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
)

// TestBrowserPreviewAndRetry drives the example record (the demo's
// BB0001002) in chromium at 1280x900: the record page's warnings, line
// summary, unwrapped dates and one-way timestamps; a preview whose Load
// confirmation is in the first screenful and reached with the keyboard; a
// load that retries through a ServiceNow fault, tried again now, stopped
// after the dialog, retried in bulk after the page that names the count,
// and its result in words.
func TestBrowserPreviewAndRetry(t *testing.T) {
	b := newBrowser(t)
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	pw := h.addUser("olga", auth.RoleOperator)
	o := b.tab(t, 4*time.Minute)
	o.do("size the tab", chromedp.EmulateViewport(1280, 900))
	o.login(h.url, "olga", pw)
	recPath := "/records/" + rec.Number

	// No record waits too long: the pill is not highlighted.
	if eval[bool](o, `document.querySelector('a[href="/records?waiting=late"]').classList.contains("late-link")`) {
		t.Error("the waiting pill is highlighted with a count of 0")
	}

	// The record page.
	o.do("open the record", chromedp.Navigate(h.url+recPath))
	if w := o.text("#plan-warnings"); !strings.Contains(w, `line 6 "AEM MANAGED SERVICES PREMIUM SUPPORT" (EUR 25,000.00)`) {
		t.Errorf("record warnings: %q", w)
	}
	if s := o.text("#line-summary"); !strings.Contains(s, "7 managed-services lines: 6 become rows of u_sales_skus") || !strings.Contains(s, "Not loaded: line 6") {
		t.Errorf("line summary: %q", s)
	}
	if n := eval[int](o, `[...document.querySelectorAll("#line-items td.date")].filter(td => {
		const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length !== 1 }).length`); n != 0 {
		t.Errorf("%d line-item dates wrap at 1280 px", n)
	}
	if lm := eval[string](o, `[...document.querySelectorAll("dt")].find(dt => dt.textContent === "Last modified").nextElementSibling.textContent`); lm != "2026-11-27 10:00 UTC" {
		t.Errorf("Last modified shows %q", lm)
	}

	// The preview: the confirmation in the first screenful, the summary
	// per table, warnings at the top, labels instead of step indexes.
	if st := o.click("press SFDC Data", chromedp.Click(chromedp.ID("sfdc-data"))); st != http.StatusOK {
		t.Fatalf("dry run: %d", st)
	}
	if !eval[bool](o, `(() => { const r = document.getElementById("confirm-load").getBoundingClientRect();
		return window.scrollY === 0 && r.top >= 0 && r.bottom <= window.innerHeight })()`) {
		t.Errorf("the Load confirmation is not in the first screenful at 1280x900 (page %d px tall)",
			eval[int](o, `document.documentElement.scrollHeight`))
	}
	if sum := o.text("#diff-counts"); !strings.Contains(sum, "u_sales_skus") || !strings.Contains(sum, "core_company") {
		t.Errorf("summary per table: %q", sum)
	}
	if w := o.text("#diff-warnings"); !strings.Contains(w, "line 6") {
		t.Errorf("preview warnings: %q", w)
	}
	if diff := o.text("#diff"); strings.Contains(diff, "skus[") || !strings.Contains(diff, "sku: AEM SITES:MS 99.9% UPTIME (line 1)") {
		t.Errorf("the step names: %s", diff)
	}
	if n := eval[int](o, `document.querySelectorAll("#confirm-load-bottom").length`); n != 1 {
		t.Error("no Load confirmation at the bottom")
	}
	// The keyboard reaches Load with Tab, in order, before the steps.
	reached := false
	for range 40 {
		o.do("tab", chromedp.KeyEvent("\t"))
		if id := eval[string](o, `document.activeElement.id`); id == "confirm-load" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab did not reach the Load button within 40 stops")
	}

	// Load (Enter) while ServiceNow refuses the finance name: the load
	// retries, and the job page says so in words.
	h.sn.Inject(sntest.Fault{Method: "POST", PathPrefix: "/api/now/table/u_ams_finance_names", Status: http.StatusServiceUnavailable,
		RetryAfter: time.Hour, Count: 2})
	o.click("confirm with Enter", chromedp.KeyEvent("\r"))
	h.waitRecord(rec.ID, "retrying", func(r *staging.Record) bool { return r.Load.Retrying() })
	if _, err := chromedp.Run(o.ctx, chromedp.Poll[bool](`document.getElementById("job-state").textContent === "retrying"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("the job page does not say retrying: %v (%q)", err, o.text("#job-progress"))
	}

	// The record page: retrying, what was written, Retry now.
	o.do("the record", chromedp.Navigate(h.url+recPath))
	if s := o.text("#retry-status"); !strings.Contains(s, "1 try failed") || !strings.Contains(s, "Next try at") || !strings.Contains(s, "(in 59m)") {
		t.Errorf("retry status: %q", s)
	}
	if n := eval[int](o, `document.querySelectorAll('#written a[href*=".do?sys_id="]').length`); n == 0 {
		t.Error("the partial writes do not link their ServiceNow records")
	}
	o.click("retry now", chromedp.Click(chromedp.ID("retry-now")))
	if f := o.text("#flash"); !strings.Contains(f, "tried again now") {
		t.Errorf("flash after retry now: %q", f)
	}
	h.waitRecord(rec.ID, "retried", func(r *staging.Record) bool { return r.Load.Retries == 2 && r.Load.Retrying() })

	// The exceptions page lists it under way.
	o.do("exceptions", chromedp.Navigate(h.url+"/exceptions"))
	if row := o.text("#uw-" + rec.Number); !strings.Contains(row, "retrying") || !strings.Contains(row, "2 tries failed") {
		t.Errorf("loads under way: %q", row)
	}

	// Stop retrying asks in a dialog; accepted, the record is load failed.
	o.do("the record", chromedp.Navigate(h.url+recPath))
	o.accept.Store(true)
	o.click("stop retrying", chromedp.Click(chromedp.ID("stop-retrying")))
	o.accept.Store(false)
	if o.dialogs.Load() != 1 {
		t.Errorf("%d dialogs for stop retrying, want 1", o.dialogs.Load())
	}
	if got := h.get(rec.ID); got.State != staging.StateLoadFailed {
		t.Fatalf("after stop retrying: %s", got.State)
	}

	// Bulk retry: the filter, the page that names the count, then done.
	o.do("exceptions", chromedp.Navigate(h.url+"/exceptions"))
	o.do("filter", chromedp.SendKeys(chromedp.ID("error_contains"), "503"))
	o.click("retry failed loads", chromedp.Click(chromedp.ID("retry-failed-button")))
	if hd := o.text("#confirm-h"); hd != "Retry 1 failed load?" {
		t.Fatalf("confirmation heading %q", hd)
	}
	if items := o.text("#confirm-items"); !strings.Contains(items, rec.Number) {
		t.Errorf("the confirmation does not name %s: %q", rec.Number, items)
	}
	o.click("confirm", chromedp.Click(chromedp.ID("confirm-yes")))
	if f := o.text("#flash"); !strings.Contains(f, "Enqueued 1 load") {
		t.Errorf("flash after the bulk retry: %q", f)
	}
	h.waitRecord(rec.ID, "loaded", func(r *staging.Record) bool { return r.State == staging.StateLoaded })
	o.do("the record", chromedp.Navigate(h.url+recPath))
	if words := o.text("#result-words"); !strings.Contains(words, "uploaded Contract_DR00004711.pdf") && !strings.Contains(words, "Contract_DR00004711.pdf already there") {
		t.Errorf("result in words: %q", words)
	}
	if lr := o.text("#load-result"); strings.Contains(lr, ": upload ") || strings.Contains(lr, "skus[") {
		t.Errorf("the load result: %s", lr)
	}
	if job := o.text("#load-job"); job == "" || !strings.Contains(o.text("#loaded-h ~ dl"), "done") {
		t.Errorf("the last load job: %q", o.text("#loaded-h ~ dl"))
	}
}
