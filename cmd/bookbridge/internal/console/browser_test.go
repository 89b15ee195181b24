package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging"
)

// chromiumPath finds Debian's chromium, or skips the test (fails it when
// BOOKBRIDGE_REQUIRE_E2E=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("BOOKBRIDGE_CHROMIUM"), "/usr/bin/chromium", "chromium"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "chromium is not installed (apt-get install -y chromium); the console's browser tests need it"
	if os.Getenv("BOOKBRIDGE_REQUIRE_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING: " + msg)
	return ""
}

// browser is a headless chromium for one test.
type browser struct {
	t    *testing.T
	root context.Context
}

// newBrowser starts chromium with the flags this machine's closed network
// needs and a fresh profile; it stops when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	dir, err := os.MkdirTemp("", "bookbridge-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write for a moment after it stops.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(root, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(cctx)
		cancelRoot()
		cancelAlloc()
	})
	// The first Run binds the browser's life to its context: root, not a
	// context with a deadline.
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, root: root}
}

// tab is a tab in a browser context of its own (its own cookies), bounded
// in time, that counts the JavaScript dialogs its pages open.
type tab struct {
	t       *testing.T
	ctx     context.Context
	dialogs atomic.Int32
	// accept makes the tab accept the dialogs it counts (default: dismiss).
	accept atomic.Bool
}

func (b *browser) tab(t *testing.T, limit time.Duration) *tab {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab for its whole life
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(tabCtx, limit)
	t.Cleanup(cancelT)
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("sizing a tab: %v", err)
	}
	opened := make(chan struct{}, 8)
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			tb.dialogs.Add(1)
			select {
			case opened <- struct{}{}:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	// A dialog blocks the page: dismiss it, or accept it when the test
	// says so (after counting it).
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-opened:
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: tb.accept.Load()})
			}
		}
	}()
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// click clicks and waits for the page it loads; it returns the status.
func (tb *tab) click(what string, sel chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, sel)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// login signs in with the keyboard only: the name field has the focus,
// Tab moves to the password, Enter submits.
func (tb *tab) login(base, name, password string) {
	tb.t.Helper()
	tb.do("open the console", chromedp.Navigate(base+"/records"))
	if loc := eval[string](tb, `location.pathname`); loc != "/login" {
		tb.t.Fatalf("the console did not ask for a login: %s", loc)
	}
	if id := eval[string](tb, `document.activeElement.id`); id != "name" {
		tb.t.Fatalf("the login form's focus is on %q, not the name field", id)
	}
	tb.do("type the login", chromedp.KeyEvent(name), chromedp.KeyEvent("\t"), chromedp.KeyEvent(password))
	if status := tb.click("submit the login", chromedp.KeyEvent("\r")); status != http.StatusOK {
		tb.t.Fatalf("after the login: %d", status)
	}
	if who := tb.text("#signed-in"); !strings.Contains(who, name) {
		tb.t.Fatalf("signed in as %q", who)
	}
}

// TestBrowserConsole drives the console in Debian's chromium: a viewer who
// cannot load, an XSS payload shown as text, a cross-site form refused,
// and an operator who logs in, finds the record, opens its PDF, presses
// "SFDC Data", reads the diff, confirms and sees the record loaded.
func TestBrowserConsole(t *testing.T) {
	b := newBrowser(t)
	// ServiceNow is reached through a gate that can hold its calls, so a
	// test can see a load in progress for as long as it needs.
	var snURL atomic.Pointer[url.URL]
	var held atomic.Pointer[chan struct{}]
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ch := held.Load(); ch != nil {
			select {
			case <-*ch:
			case <-r.Context().Done():
				return
			}
		}
		httputil.NewSingleHostReverseProxy(snURL.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	// hold makes ServiceNow calls wait until the returned func is called.
	hold := func() (release func()) {
		ch := make(chan struct{})
		held.Store(&ch)
		return func() {
			held.Store(nil)
			close(ch)
		}
	}
	h := newSQLiteHarness(t, map[string]string{"BOOKBRIDGE_SERVICENOW_URL": gate.URL})
	snURL.Store(mustURL(t, h.sn.URL()))
	rec := h.stageExample()
	xss := h.stage(dealJSON(t, otherDeal(9, "<script>alert(1)</script>", "0009990009", "DR00009999")))
	// A second ready record (its email without attachments) for the run
	// without JavaScript.
	second := h.stage(dealJSON(t, otherDeal(10, "Zweite Zeile AG", "0008880008", "DR00008888")))
	if res, err := h.app.Store.IngestEmail(context.Background(), phEmail("second", map[string]string{staging.FieldECCID: "0008880008",
		staging.FieldDRNumber: "DR00008888", staging.FieldCompanyName: "Zweite Zeile AG", staging.FieldSalesOrderNumber: "4500012345"})); err != nil || res.Outcome != staging.EmailApplied {
		t.Fatalf("second record's email: %v %+v", err, res)
	}
	viewerPW := h.addUser("victor", auth.RoleViewer)
	operatorPW := h.addUser("olga", auth.RoleOperator)
	recPath := "/records/" + rec.Number

	// A page on another site: it counts as the attacker and as the probe
	// that proves the dialog counter works.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/probe" {
			fmt.Fprint(w, `<!doctype html><title>probe</title><script>alert("probe")</script><p id="done">probe</p>`)
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form id="f" method="post" action="%s%s/load"><input type="hidden" name="version" value="1"></form>
<script>document.getElementById("f").submit()</script>`, h.url, recPath)
	}))
	t.Cleanup(evil.Close)
	// localhost and 127.0.0.1 are different sites to the browser.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	t.Run("viewer", func(t *testing.T) {
		v := b.tab(t, 2*time.Minute)
		v.do("probe dialog", chromedp.Navigate(evilURL+"/probe"))
		for i := 0; v.dialogs.Load() == 0 && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if v.dialogs.Load() != 1 {
			t.Fatalf("the dialog counter saw %d dialogs of the probe", v.dialogs.Load())
		}
		v.dialogs.Store(0)

		v.login(h.url, "victor", viewerPW)
		v.do("open the record", chromedp.Navigate(h.url+recPath))
		if n := eval[int](v, `document.querySelectorAll("#sfdc-data").length`); n != 0 {
			t.Fatal("the viewer sees the SFDC Data button")
		}
		if note := v.text("#viewer-note"); !strings.Contains(note, "needs the operator role") {
			t.Fatalf("viewer note: %q", note)
		}
		// A POST made by hand, with the viewer's valid token, is refused.
		status := eval[int](v, `fetch("`+recPath+`/load", {method: "POST", credentials: "same-origin",
			body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value})}).then(r => r.status)`)
		if status != http.StatusForbidden {
			t.Fatalf("the viewer's POST: %d", status)
		}

		// The XSS payload is text.
		v.do("open the XSS record", chromedp.Navigate(h.url+"/records/"+xss.Number))
		if got := v.text("#company"); got != "<script>alert(1)</script>" {
			t.Fatalf("company shown as %q", got)
		}
		if n := eval[int](v, `document.scripts.length`); n != 1 {
			t.Fatalf("%d script elements on the page", n)
		}
		v.do("search for it", chromedp.Navigate(h.url+"/records?q=script"))
		if got := v.text("td.company"); got != "<script>alert(1)</script>" {
			t.Fatalf("company in the list shown as %q", got)
		}
		if v.dialogs.Load() != 0 {
			t.Fatalf("%d dialogs opened", v.dialogs.Load())
		}
	})

	t.Run("cross-site form", func(t *testing.T) {
		o := b.tab(t, 2*time.Minute)
		o.login(h.url, "olga", operatorPW)
		o.do("visit the other site", chromedp.Navigate(evilURL+"/"))
		o.do("wait for the console's answer", chromedp.WaitVisible(chromedp.ID("error-message")))
		if loc := eval[string](o, `location.href`); loc != h.url+recPath+"/load" {
			t.Fatalf("the form landed on %s", loc)
		}
		if msg := o.text("#error-message"); !strings.Contains(msg, "another site") {
			t.Fatalf("answer: %q", msg)
		}
		if got := h.get(rec.ID); got.State != staging.StateReady || got.Load.Attempts != 0 {
			t.Fatalf("the forged form started a load: %s", got.State)
		}
	})

	t.Run("operator loads", func(t *testing.T) {
		o := b.tab(t, 3*time.Minute)
		o.login(h.url, "olga", operatorPW)
		// The first Tab on a page reaches the skip link.
		o.do("tab", chromedp.KeyEvent("\t"))
		if cls := eval[string](o, `document.activeElement.className`); cls != "skip" {
			t.Fatalf("the first Tab stop is %q, not the skip link", cls)
		}

		// Find the record.
		o.do("search", chromedp.SendKeys(chromedp.ID("q"), "DR00004711"))
		o.click("show", chromedp.Click(chromedp.ID("search")))
		if n := eval[int](o, `document.querySelectorAll("#records tbody tr").length`); n != 1 {
			t.Fatalf("the search found %d records", n)
		}
		o.click("open the record", chromedp.Click(chromedp.CSS(`#records a[href="`+recPath+`"]`)))
		if got := o.text("#company"); got != "Müller & Søn Größe GmbH" {
			t.Fatalf("record page of %q", got)
		}

		// The PDF opens in the browser (inline), and has a download link.
		href := eval[string](o, `document.querySelector("a.file-open").getAttribute("href")`)
		dl := eval[string](o, `document.querySelector("a.file-download").getAttribute("href")`)
		if dl != href+"?download=true" {
			t.Fatalf("download link %q for %q", dl, href)
		}
		resp, err := chromedp.Run(o.ctx, chromedp.NavigateResponse(h.url+href))
		if err != nil {
			t.Fatalf("opening the PDF: %v", err)
		}
		if resp.Status != 200 || resp.MimeType != "application/pdf" || !strings.HasPrefix(fmt.Sprint(resp.Headers["Content-Disposition"]), "inline") {
			t.Fatalf("the PDF answered %d %s %v", resp.Status, resp.MimeType, resp.Headers["Content-Disposition"])
		}
		if ct := eval[string](o, `document.contentType`); ct != "application/pdf" {
			t.Fatalf("the browser shows a %s document, not the PDF", ct)
		}

		// SFDC Data: the diff, then Load.
		o.do("back to the record", chromedp.Navigate(h.url+recPath))
		if st := o.click("press SFDC Data", chromedp.Click(chromedp.ID("sfdc-data"))); st != http.StatusOK {
			t.Fatalf("the dry run answered %d", st)
		}
		diff := o.text("#diff")
		for _, want := range []string{"core_company", "u_ams_finance_names", "u_managed_services_sales_order", "u_sales_skus", "insert"} {
			if !strings.Contains(diff, want) {
				t.Errorf("the diff lacks %q: %s", want, diff)
			}
		}
		if n := h.sn.CountCalls("POST", "/api/now/table/"); n != 0 {
			t.Fatalf("the dry run wrote %d records", n)
		}
		release := hold()
		o.click("confirm the load", chromedp.Click(chromedp.ID("confirm-load")))
		if !strings.HasPrefix(eval[string](o, `location.pathname`), "/jobs/") {
			t.Fatal("Load did not lead to the job page")
		}
		// While ServiceNow is held, the page shows the load in progress in
		// a live region.
		if got := eval[int](o, `document.querySelectorAll("#load-result").length`); got != 0 {
			t.Fatal("the job page shows a result while the load is held")
		}
		if live := eval[string](o, `document.getElementById("job-progress").getAttribute("aria-live")`); live != "polite" {
			t.Fatalf("progress region aria-live=%q", live)
		}
		release()
		// console.js polls the job and reloads the page when it is done
		// (the noscript refresh does not apply with scripts on).
		o.do("wait for the result", chromedp.WaitVisible(chromedp.ID("load-result")))
		result := o.text("#job-outcome")
		if !strings.Contains(result, "loaded") {
			t.Fatalf("job outcome: %s", result)
		}
		dump := h.sn.Dump()
		if len(dump["core_company"]) != 1 || len(dump["u_sales_skus"]) != 6 {
			t.Fatalf("ServiceNow has %d companies and %d SKUs", len(dump["core_company"]), len(dump["u_sales_skus"]))
		}
		company := dump["core_company"][0].ID
		if !strings.Contains(result, company) {
			t.Fatalf("the result does not show the company's sys_id %s: %s", company, result)
		}
		link := eval[string](o, `document.querySelector('#load-result a[href*="core_company.do"]').href`)
		if link != gate.URL+"/core_company.do?sys_id="+company {
			t.Fatalf("company link %q", link)
		}
		o.do("the record again", chromedp.Navigate(h.url+recPath))
		if st := o.text(".status-line .state"); st != "loaded" {
			t.Fatalf("record state %q", st)
		}
		if dis := eval[bool](o, `document.getElementById("sfdc-data").disabled`); !dis {
			t.Fatal("SFDC Data is still enabled on a loaded record")
		}
		if o.dialogs.Load() != 0 {
			t.Fatalf("%d dialogs opened", o.dialogs.Load())
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		n := b.tab(t, 2*time.Minute)
		if _, err := chromedp.Call(n.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		// Proof that scripts are off: the probe's alert does not run.
		n.do("probe", chromedp.Navigate(evilURL+"/probe"), chromedp.WaitVisible(chromedp.ID("done")))
		if n.dialogs.Load() != 0 {
			t.Fatal("scripts still run")
		}
		n.login(h.url, "olga", operatorPW)
		n.do("open the record", chromedp.Navigate(h.url+"/records/"+second.Number))
		if got := n.text("#company"); got != "Zweite Zeile AG" {
			t.Fatalf("record page of %q", got)
		}
		if st := n.click("press SFDC Data", chromedp.Click(chromedp.ID("sfdc-data"))); st != http.StatusOK || !strings.Contains(n.text("#diff"), "core_company") {
			t.Fatalf("dry run without JavaScript: %d", st)
		}
		release := hold()
		n.click("confirm the load", chromedp.Click(chromedp.ID("confirm-load")))
		// The load waits at the gate: the job page shows it in progress.
		if got := eval[int](n, `document.querySelectorAll("#load-result").length`); got != 0 {
			t.Fatal("the job page shows a result while the load is held")
		}
		if !strings.Contains(n.text("#job-progress"), "This page updates itself") {
			t.Fatalf("progress: %s", n.text("#job-progress"))
		}
		release()
		// Without scripts, only the page's own refresh (meta refresh in
		// noscript) can bring the result.
		n.do("wait for the result", chromedp.WaitVisible(chromedp.ID("load-result")))
		if got := h.get(second.ID); got.State != staging.StateLoaded {
			t.Fatalf("second record: %s", got.State)
		}
		if !strings.Contains(n.text("#job-outcome"), "loaded") {
			t.Fatalf("job outcome: %s", n.text("#job-outcome"))
		}
	})
}
