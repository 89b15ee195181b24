package console

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/staging"
)

// screenshotDir is where BOOKBRIDGE_UPDATE_SCREENSHOTS=1 writes the
// README's pictures of the console.
const screenshotDir = "../../../../examples/screenshots"

// TestScreenshots renders the records list, a record page, a dry run and
// the exceptions page with a retrying load at 1280x800 with records in several states. It checks every picture; with
// BOOKBRIDGE_UPDATE_SCREENSHOTS=1 it also writes them to
// examples/screenshots.
func TestScreenshots(t *testing.T) {
	b := newBrowser(t)
	h := newSQLiteHarness(t, map[string]string{"BOOKBRIDGE_WAITING_ALERT": "24h"})
	ctx := context.Background()

	// A loaded deal, one waiting for its email for days, one whose email
	// matched two deals, an email waiting for its deal, and the example,
	// ready to load.
	loaded := h.stage(dealJSON(t, otherDeal(1, "Nordlicht Medien GmbH", "0004400001", "DR00004401")))
	h.clock.set(-75 * time.Hour)
	h.stage(dealJSON(t, otherDeal(2, "Fjord Shipping ASA", "0004400002", "DR00004402")))
	h.clock.set(-5 * time.Hour)
	h.stage(dealJSON(t, otherDeal(3, "Casa Verde S.L.", "0004400003", "DR00004403")))
	h.stage(dealJSON(t, otherDeal(4, "Casa Verde S.L.", "0004400003", "DR00004403")))
	if _, err := h.app.Store.IngestEmail(ctx, phEmail("casa", map[string]string{staging.FieldECCID: "0004400003",
		staging.FieldDRNumber: "DR00004403", staging.FieldCompanyName: "Casa Verde S.L."})); err != nil {
		t.Fatal(err)
	}
	h.clock.set(-2 * time.Hour)
	if _, err := h.app.Store.IngestEmail(ctx, phEmail("early", map[string]string{staging.FieldECCID: "0004400005",
		staging.FieldDRNumber: "DR00004405", staging.FieldCompanyName: "Early Bird Analytics Ltd"})); err != nil {
		t.Fatal(err)
	}
	h.clock.set(0)
	if _, err := h.app.Store.IngestEmail(ctx, phEmail("nordlicht", map[string]string{staging.FieldECCID: "0004400001",
		staging.FieldDRNumber: "DR00004401", staging.FieldCompanyName: "Nordlicht Medien GmbH"})); err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Flow.EnqueueLoad(ctx, loaded.ID, "user:olga"); err != nil {
		t.Fatal(err)
	}
	for i := 0; h.get(loaded.ID).State != staging.StateLoaded; i++ {
		if i > 600 {
			t.Fatalf("the load of %s did not finish: %s", loaded.Number, h.get(loaded.ID).State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A load that retries: ServiceNow refuses its sales order for an hour.
	retrying := h.stage(dealJSON(t, otherDeal(6, "Lumen Retail B.V.", "0004400006", "DR00004406")))
	if _, err := h.app.Store.IngestEmail(ctx, phEmail("lumen", map[string]string{staging.FieldECCID: "0004400006",
		staging.FieldDRNumber: "DR00004406", staging.FieldCompanyName: "Lumen Retail B.V."})); err != nil {
		t.Fatal(err)
	}
	h.sn.Inject(sntest.Fault{Method: "POST", PathPrefix: "/api/now/table/u_managed_services_sales_order", Status: http.StatusServiceUnavailable,
		RetryAfter: time.Hour, Count: 1})
	if _, err := h.app.Flow.EnqueueLoad(ctx, retrying.ID, "user:olga"); err != nil {
		t.Fatal(err)
	}
	h.waitRecord(retrying.ID, "retrying", func(r *staging.Record) bool { return r.Load.Retrying() })
	rec := h.stageExample()
	pw := h.addUser("olga", auth.RoleOperator)

	o := b.tab(t, 2*time.Minute)
	o.login(h.url, "olga", pw)
	shots := []struct {
		file string
		show func()
	}{
		{"records.png", func() { o.do("list", chromedp.Navigate(h.url+"/records")) }},
		{"record.png", func() { o.do("record", chromedp.Navigate(h.url+"/records/"+rec.Number)) }},
		{"preview.png", func() {
			o.click("SFDC Data", chromedp.Click(chromedp.ID("sfdc-data")))
		}},
		{"exceptions.png", func() { o.do("exceptions", chromedp.Navigate(h.url+"/exceptions")) }},
	}
	for _, s := range shots {
		s.show()
		img, err := chromedp.Run(o.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width != 1280 || cfg.Height != 800 {
			t.Fatalf("%s: %v, %dx%d", s.file, err, cfg.Width, cfg.Height)
		}
		if os.Getenv("BOOKBRIDGE_UPDATE_SCREENSHOTS") == "1" {
			if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(screenshotDir, s.file), img, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", filepath.Join(screenshotDir, s.file))
		}
	}
}
