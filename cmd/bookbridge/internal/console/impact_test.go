package console

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

const nextRules = "../../../../examples/mappings/reference-next.yaml"

var rulesField = regexp.MustCompile(`name="rules" value="([^"]+)"`)

// upload posts a rule file as the impact form's file input does.
func (c *client) upload(path, csrf, name string, data []byte) answer {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if csrf != "-" {
		mw.WriteField("csrf", csrf)
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		c.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.h.url+path, &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.h.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// loadedHarness is a console whose rules are a file (so a test can put
// other rules in use) with the example record loaded.
func loadedHarness(t *testing.T, dbURL string) (*harness, string, *staging.Record) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, mappings.Reference, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, dbURL, map[string]string{"BOOKBRIDGE_RULES": rulesFile})
	rec := h.stageExample()
	rec, err := h.app.Flow.Load(context.Background(), rec.ID, "test")
	if err != nil || rec.State != staging.StateLoaded {
		t.Fatalf("loading the example: %v %+v", err, rec)
	}
	return h, rulesFile, rec
}

func wants(t *testing.T, what string, a answer, status int, want ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d, want %d\n%s", what, a.status, status, a.body)
	}
	for _, w := range want {
		if !strings.Contains(a.body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestImpactPage: an admin uploads reference-next.yaml and sees the
// dropped SKU row and the tenant id change per table and in the record's
// drill-down; the bulk reload is refused until those rules are in use,
// then confirmed with its count, after which nothing changes any more.
func TestImpactPage(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		h, rulesFile, rec := loadedHarness(t, dbURL)
		next, err := os.ReadFile(nextRules)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range []auth.Role{auth.RoleViewer, auth.RoleOperator} {
			c := h.loggedIn("u-"+string(role), role)
			wants(t, string(role)+" GET /admin/impact", c.get("/admin/impact"), http.StatusForbidden)
			wants(t, string(role)+" upload", c.upload("/admin/impact", c.csrf, "next.yaml", next), http.StatusForbidden)
			if strings.Contains(c.get("/records").body, `href="/admin/impact"`) {
				t.Errorf("the %s sees the impact link", role)
			}
		}
		admin := h.loggedIn("ada", auth.RoleAdmin)
		wants(t, "the form", admin.get("/admin/impact"), http.StatusOK, `href="/admin/impact" aria-current="page"`, `enctype="multipart/form-data"`)
		wants(t, "an upload without CSRF token", admin.upload("/admin/impact", "-", "next.yaml", next), http.StatusForbidden, "security token")
		wants(t, "an upload with a wrong token", admin.upload("/admin/impact", "wrong", "next.yaml", next), http.StatusForbidden, "security token")

		rep := admin.upload("/admin/impact", admin.csrf, "next.yaml", next)
		wants(t, "the report", rep, http.StatusOK, "<strong>1</strong> record", "<strong>1</strong> changed",
			"<code>u_sales_skus</code>", "u_tenant_id", `/records/`+rec.Number, `id="reload-changed"`, "Reload the 1 changed record",
			"put these rules in use first: BOOKBRIDGE_RULES and SIGHUP")
		m := rulesField.FindStringSubmatch(rep.body)
		if m == nil {
			t.Fatal("the report carries no copy of the rules")
		}
		b64 := html.UnescapeString(m[1])
		id := strconv.FormatInt(rec.ID, 10)

		wants(t, "the drill-down", admin.post("/admin/impact/record", url.Values{"rules": {b64}, "name": {"next.yaml"}, "record": {id}}),
			http.StatusOK, "Rows no longer written", `id="rows-gone"`, "u_sales_skus[", `id="field-changes"`, "u_tenant_id", "(not set)")
		wants(t, "the drill-down without its token", admin.post("/admin/impact/record", url.Values{"rules": {b64}, "record": {id}, "csrf": {""}}),
			http.StatusForbidden)

		// A broken rule file: every problem with FILE:LINE:COL.
		bad := admin.post("/admin/impact", url.Values{"text": {"version: 1\nsteps: [\n"}, "name": {"bad.yaml"}})
		wants(t, "a rule file that does not compile", bad, http.StatusUnprocessableEntity, "does not compile", `id="problems"`)
		if !regexp.MustCompile(`bad\.yaml:\d+:\d+: `).MatchString(bad.body) {
			t.Errorf("the problems have no FILE:LINE:COL:\n%s", bad.body)
		}
		// Rules that cannot plan the record: the failure with its position.
		ref := string(mappings.Reference)
		failing := strings.Replace(ref, "parseDate(sfdc.Service_Commence_Date__c)", "parseDate(sfdc.Name)", 1)
		if failing == ref {
			t.Fatal("reference.yaml no longer has the expression this test breaks")
		}
		fr := admin.upload("/admin/impact", admin.csrf, "failing.yaml", []byte(failing))
		wants(t, "the report of failing rules", fr, http.StatusOK, "<strong>1</strong> failed")
		fm := rulesField.FindStringSubmatch(fr.body)
		fd := admin.post("/admin/impact/record", url.Values{"rules": {html.UnescapeString(fm[1])}, "name": {"failing.yaml"}, "record": {id}})
		wants(t, "the drill-down of a failing plan", fd, http.StatusOK, `id="plan-failure"`, "cannot plan this record")
		if !regexp.MustCompile(`failing\.yaml:\d+:\d+`).MatchString(fd.body) {
			t.Errorf("the plan failure has no FILE:LINE:COL:\n%s", regexp.MustCompile(`(?s)id="plan-failure".{0,400}`).FindString(fd.body))
		}

		// The bulk reload needs these rules in use.
		wants(t, "the reload of rules not in use", admin.post("/admin/impact/reload", url.Values{"rules": {b64}, "name": {"next.yaml"}}),
			http.StatusConflict, "put these rules in use first: BOOKBRIDGE_RULES and SIGHUP")
		if err := os.WriteFile(rulesFile, next, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := h.app.ReloadRules(); err != nil {
			t.Fatal(err)
		}
		wants(t, "the report of the rules in use", admin.post("/admin/impact", url.Values{"rules": {b64}}), http.StatusOK,
			"compared with the plan it was last loaded with", "<strong>1</strong> changed", "Reload the 1 changed record")
		wants(t, "the confirmation", admin.post("/admin/impact/reload", url.Values{"rules": {b64}}), http.StatusOK,
			"Reload 1 record?", `id="reload-count"`, `name="count" value="1"`, rec.Number)
		wants(t, "a confirmation of another count", admin.post("/admin/impact/reload/confirm", url.Values{"rules": {b64}, "count": {"2"}}),
			http.StatusConflict, "changed since you confirmed", `name="count" value="1"`)
		done := admin.post("/admin/impact/reload/confirm", url.Values{"rules": {b64}, "count": {"1"}})
		wants(t, "the bulk reload", done, http.StatusAccepted, `id="reload-done"`, rec.Number)
		job := regexp.MustCompile(`href="(/jobs/\d+)"`).FindStringSubmatch(done.body)
		if job == nil {
			t.Fatalf("the bulk reload names no job:\n%s", done.body)
		}
		admin.waitJob(job[1])
		if got := h.get(rec.ID); got.State != staging.StateLoaded {
			t.Fatalf("after the reload the record is %s: %s", got.State, got.Load.Error)
		}
		if !historyNames(t, h, rec.ID, h.app.Flow.Rules().Hash()) {
			t.Error("no history entry of the reload names the rules' hash")
		}
		wants(t, "the report after the reload", admin.post("/admin/impact", url.Values{"rules": {b64}}), http.StatusOK,
			"<strong>0</strong> changed", `id="no-changes"`)
	})
}

// TestReloadButton: the partial shows the button to an operator on a
// loaded record only; its POST is the reload's dry run (no write), and the
// confirmation enqueues the reload once, refusing a stale preview.
func TestReloadButton(t *testing.T) {
	h, _, rec := loadedHarness(t, dbtest.SQLiteURL(t))
	c := New(h.app)
	button := func(u *user, r *staging.Record) string {
		var b bytes.Buffer
		if err := c.pages["record"].ExecuteTemplate(&b, "reload_button", pageData{User: u, CSRF: "tok", Data: &recordView{Rec: r}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	ready := *rec
	ready.State = staging.StateReady
	for _, tc := range []struct {
		name string
		u    *user
		rec  *staging.Record
		want bool
	}{
		{"operator, loaded", &user{Role: auth.RoleOperator}, rec, true},
		{"admin, loaded", &user{Role: auth.RoleAdmin}, rec, true},
		{"viewer, loaded", &user{Role: auth.RoleViewer}, rec, false},
		{"operator, ready", &user{Role: auth.RoleOperator}, &ready, false},
	} {
		out := button(tc.u, tc.rec)
		if got := strings.Contains(out, `action="/records/`+rec.Number+`/reload"`) && strings.Contains(out, `value="tok"`); got != tc.want {
			t.Errorf("%s: button shown %v, want %v\n%s", tc.name, got, tc.want, out)
		}
	}

	viewer := h.loggedIn("vera", auth.RoleViewer)
	wants(t, "a viewer's reload", viewer.post("/records/"+rec.Number+"/reload", nil), http.StatusForbidden)
	op := h.loggedIn("olga", auth.RoleOperator)
	wants(t, "a reload without token", op.post("/records/"+rec.Number+"/reload", url.Values{"csrf": {""}}), http.StatusForbidden)
	writes := func() int {
		return h.sn.CountCalls("POST", "/api/now/table/") + h.sn.CountCalls("PATCH", "") + h.sn.CountCalls("PUT", "")
	}
	before := writes()
	pv := op.post("/records/"+rec.Number+"/reload", nil)
	wants(t, "the reload's dry run", pv, http.StatusOK, "Nothing has been written yet", "<code>u_sales_skus</code>",
		`action="/records/`+rec.Number+`/reload/confirm"`, `id="confirm-reload"`, h.app.Flow.Rules().Hash())
	if writes() != before {
		t.Fatal("the dry run wrote")
	}
	ver := versionField.FindStringSubmatch(pv.body)
	if ver == nil {
		t.Fatal("the confirmation lacks the record version")
	}
	wants(t, "a stale confirmation", op.post("/records/"+rec.Number+"/reload/confirm", url.Values{"version": {"999"}}), http.StatusConflict, "changed after your preview")
	wants(t, "a confirmation under other rules", op.post("/records/"+rec.Number+"/reload/confirm", url.Values{"version": {ver[1]}, "rules_hash": {"0000"}}),
		http.StatusConflict, "rules in use changed")
	ok := op.post("/records/"+rec.Number+"/reload/confirm", url.Values{"version": {ver[1]}})
	if ok.status != http.StatusSeeOther || !strings.HasPrefix(ok.header.Get("Location"), "/jobs/") {
		t.Fatalf("confirm: %d %s\n%s", ok.status, ok.header.Get("Location"), ok.body)
	}
	op.waitJob(ok.header.Get("Location"))
	after := h.get(rec.ID)
	if after.State != staging.StateLoaded || after.Version == rec.Version {
		t.Fatalf("after the reload: %s version %d (was %d)", after.State, after.Version, rec.Version)
	}
	if !historyNames(t, h, rec.ID, h.app.Flow.Rules().Hash()) {
		t.Error("no history entry of the reload names the rules' hash")
	}
	wants(t, "a reload of a record not loaded", op.post("/records/BB9999999/reload", nil), http.StatusNotFound)
}

// historyNames reports whether the record's history has a reload entry
// naming the rules' hash.
func historyNames(t *testing.T, h *harness, id int64, hash string) bool {
	t.Helper()
	hist, err := h.app.Store.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range hist {
		if ev.Kind == staging.EventLoadStarted && ev.Data["reload"] == "true" && ev.Data["rules_hash"] == hash {
			return true
		}
	}
	return false
}
