package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging"
)

// phEmail is a PH email as staging takes it (no MIME needed).
func phEmail(id string, fields map[string]string) staging.Email {
	return staging.Email{MessageID: "<" + id + "@ph.test>", From: "ph@ph.test",
		Subject: "To Be Provisioned - " + fields[staging.FieldCompanyName] + " " + fields[staging.FieldDRNumber],
		Fields:  fields, Raw: []byte("Subject: test " + id + "\r\n\r\nbody\r\n")}
}

// TestExceptions: needs_review records are listed with their reason and
// candidates and resolved by choosing, retrying or waiting; stale forms
// change nothing.
func TestExceptions(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	ctx := context.Background()
	// Two deals with the same keys: their email matches both.
	a := h.stage(dealJSON(t, otherDeal(1, "Twin Co", "0005550001", "DR00005551")))
	b := h.stage(dealJSON(t, otherDeal(2, "Twin Co", "0005550001", "DR00005551")))
	amb, err := h.app.Store.IngestEmail(ctx, phEmail("amb", map[string]string{staging.FieldECCID: "0005550001",
		staging.FieldDRNumber: "DR00005551", staging.FieldCompanyName: "Twin Co", staging.FieldSalesOrderNumber: "4500012345"}))
	if err != nil || amb.Outcome != staging.EmailNeedsReview {
		t.Fatalf("ambiguous email: %v %+v", err, amb)
	}
	// An email whose DR number conflicts with the only deal of its ECC id.
	h.stage(dealJSON(t, otherDeal(3, "Solo GmbH", "0005550003", "DR00005553")))
	conf, err := h.app.Store.IngestEmail(ctx, phEmail("conf", map[string]string{staging.FieldECCID: "0005550003",
		staging.FieldDRNumber: "DR00005559", staging.FieldCompanyName: "Solo GmbH"}))
	if err != nil || conf.Outcome != staging.EmailNeedsReview {
		t.Fatalf("conflicting email: %v %+v", err, conf)
	}

	viewer := h.loggedIn("victor", auth.RoleViewer)
	vp := viewer.get("/exceptions")
	if vp.status != http.StatusOK || !strings.Contains(vp.body, amb.Record.Number) || strings.Contains(vp.body, `name="action"`) {
		t.Fatalf("viewer's exceptions page: %d\n%s", vp.status, vp.body)
	}
	op := h.loggedIn("olga", auth.RoleOperator)
	page := op.get("/exceptions")
	for _, want := range []string{amb.Record.Number, conf.Record.Number, amb.Reason, "Choose " + a.Number, "Choose " + b.Number,
		"Keep waiting for its own payload", "Retry the decision"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the exceptions page lacks %q", want)
		}
	}
	if !strings.Contains(page.body, `<span class="count">2</span>`) {
		t.Errorf("the menu does not count 2 exceptions")
	}

	review := "/records/" + amb.Record.Number + "/review"
	ver := strconv.FormatInt(amb.Record.Version, 10)
	// A stale version changes nothing.
	stale := op.post(review, url.Values{"action": {"choose"}, "candidate": {strconv.FormatInt(b.ID, 10)}, "version": {"1" + ver}})
	if stale.status != http.StatusConflict || !strings.Contains(stale.body, "changed while you looked at it") {
		t.Fatalf("stale choice: %d\n%s", stale.status, stale.body)
	}
	if bad := op.post(review, url.Values{"action": {"guess"}}); bad.status != http.StatusBadRequest {
		t.Fatalf("unknown action: %d", bad.status)
	}
	// Retry: still ambiguous, the review stays.
	if r := op.post(review, url.Values{"action": {"retry"}, "version": {ver}, "back": {"/exceptions"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/exceptions" {
		t.Fatalf("retry: %d\n%s", r.status, r.body)
	}
	if after := op.get("/exceptions"); !strings.Contains(after.body, "was decided again; it is now needs review") {
		t.Fatalf("no message after retry:\n%s", after.body)
	}
	// Choose b.
	cur := h.get(amb.Record.ID)
	ch := op.post(review, url.Values{"action": {"choose"}, "candidate": {strconv.FormatInt(b.ID, 10)},
		"version": {strconv.FormatInt(cur.Version, 10)}, "back": {"/exceptions"}})
	if ch.status != http.StatusSeeOther {
		t.Fatalf("choose: %d\n%s", ch.status, ch.body)
	}
	if got := h.get(b.ID); got.State != staging.StateReady || got.PH == nil {
		t.Fatalf("chosen record: %s", got.State)
	}
	if got := h.get(a.ID); got.State != staging.StateReceived {
		t.Fatalf("the other candidate changed: %s", got.State)
	}
	if got := h.get(amb.Record.ID); got.State != staging.StateMerged {
		t.Fatalf("review record: %s", got.State)
	}
	if after := op.get("/exceptions"); !strings.Contains(after.body, "the email went to "+b.Number) || strings.Contains(after.body, "exc-"+amb.Record.Number) {
		t.Fatalf("after the choice:\n%s", after.body)
	}
	// Keep waiting: the email-only record waits for its own payload.
	cv := strconv.FormatInt(h.get(conf.Record.ID).Version, 10)
	kw := op.post("/records/"+conf.Record.Number+"/review", url.Values{"action": {"keep_waiting"}, "version": {cv}})
	if kw.status != http.StatusSeeOther || kw.header.Get("Location") != "/records/"+conf.Record.Number {
		t.Fatalf("keep waiting: %d %s\n%s", kw.status, kw.header.Get("Location"), kw.body)
	}
	if got := h.get(conf.Record.ID); got.State != staging.StateWaitingForPayload {
		t.Fatalf("after keep waiting: %s", got.State)
	}
	if again := op.post("/records/"+conf.Record.Number+"/review", url.Values{"action": {"keep_waiting"}}); again.status != http.StatusConflict {
		t.Fatalf("keep waiting twice: %d\n%s", again.status, again.body)
	}
	if done := op.get("/exceptions"); !strings.Contains(done.body, `id="no-exceptions"`) {
		t.Fatalf("exceptions left:\n%s", done.body)
	}
}
