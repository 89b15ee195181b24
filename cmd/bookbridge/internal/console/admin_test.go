package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

// TestAdminUsers: an admin adds users (with a password or a generated one
// shown once), changes roles and passwords, and cannot demote themselves.
func TestAdminUsers(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	admin := h.loggedIn("ada", auth.RoleAdmin)

	a := admin.post("/admin/users", url.Values{"name": {"olga"}, "role": {"operator"}, "password": {"olga's long password"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", a.status, a.body)
	}
	if list := admin.get("/admin/users"); !strings.Contains(list.body, "User olga (operator) added.") || !strings.Contains(list.body, "<th scope=\"row\">olga") {
		t.Fatalf("users page:\n%s", list.body)
	}
	olga := h.client()
	olga.login("olga", "olga's long password")

	gen := admin.post("/admin/users", url.Values{"name": {"gus"}, "role": {"viewer"}})
	m := regexp.MustCompile(`id="new-password">([^<]+)<`).FindStringSubmatch(gen.body)
	if gen.status != http.StatusOK || m == nil || gen.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("generated password: %d\n%s", gen.status, gen.body)
	}
	h.client().login("gus", m[1])
	if again := admin.get("/admin/users"); strings.Contains(again.body, m[1]) {
		t.Fatal("the generated password is shown twice")
	}

	cases := []struct {
		name   string
		path   string
		form   url.Values
		status int
		text   string
	}{
		{"taken name", "/admin/users", url.Values{"name": {"olga"}, "role": {"viewer"}, "password": {"another long password"}}, 409, "exists"},
		{"short password", "/admin/users", url.Values{"name": {"sam"}, "role": {"viewer"}, "password": {"short"}}, 400, "12 characters"},
		{"unknown role", "/admin/users", url.Values{"name": {"sam"}, "role": {"root"}, "password": {"a long enough password"}}, 400, "unknown user role"},
		{"no name", "/admin/users", url.Values{"name": {" "}, "role": {"viewer"}, "password": {"a long enough password"}}, 400, "1 to 64 characters"},
		{"markup as a name", "/admin/users", url.Values{"name": {"<img src=x onerror=alert(1)>"}, "role": {"viewer"}, "password": {"a long enough password"}}, 400, "1 to 64 characters"},
		{"own role", "/admin/users/set", url.Values{"name": {"ada"}, "role": {"viewer"}}, 400, "cannot change your own role"},
		{"unknown user", "/admin/users/set", url.Values{"name": {"nobody"}, "role": {"viewer"}}, 404, "no user named"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := admin.post(c.path, c.form)
			if a.status != c.status || !strings.Contains(a.body, c.text) {
				t.Fatalf("%d, want %d with %q\n%s", a.status, c.status, c.text, a.body)
			}
		})
	}

	// olga becomes a viewer with a new password: her next request is
	// refused what an operator may do.
	set := admin.post("/admin/users/set", url.Values{"name": {"olga"}, "role": {"viewer"}, "password": {"olga's new long password"}})
	if set.status != http.StatusSeeOther {
		t.Fatalf("set: %d\n%s", set.status, set.body)
	}
	if a := olga.post("/records/BB0001001/preview", nil); a.status != http.StatusForbidden {
		t.Fatalf("demoted user may still preview: %d", a.status)
	}
	h.client().login("olga", "olga's new long password")
}

// TestAdminKeys: a created key is shown once and works on the API; a
// revoked key stops working.
func TestAdminKeys(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	admin := h.loggedIn("ada", auth.RoleAdmin)
	a := admin.post("/admin/keys", url.Values{"name": {"reporting"}, "role": {"operator"}})
	m := regexp.MustCompile(`id="new-key">(bbk_[a-z0-9]+)<`).FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil {
		t.Fatalf("create: %d\n%s", a.status, a.body)
	}
	key := m[1]
	api := func() int {
		req, _ := http.NewRequest("GET", h.url+"/api/v1/records", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := api(); got != http.StatusOK {
		t.Fatalf("the new key on the API: %d", got)
	}
	list := admin.get("/admin/keys")
	if strings.Contains(list.body, key) || !strings.Contains(list.body, key[:10]+"…") {
		t.Fatalf("keys page shows the secret or not the prefix:\n%s", list.body)
	}
	if dup := admin.post("/admin/keys", url.Values{"name": {"reporting"}, "role": {"intake"}}); dup.status != http.StatusConflict {
		t.Fatalf("duplicate key name: %d", dup.status)
	}
	if bad := admin.post("/admin/keys", url.Values{"name": {"x"}, "role": {"viewer"}}); bad.status != http.StatusBadRequest {
		t.Fatalf("viewer key role: %d", bad.status)
	}
	if bad := admin.post("/admin/keys", url.Values{"name": {"sales force"}, "role": {"intake"}}); bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "1 to 64 characters") {
		t.Fatalf("key name with a space: %d\n%s", bad.status, bad.body)
	}
	rv := admin.post("/admin/keys/revoke", url.Values{"name": {"reporting"}})
	if rv.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", rv.status, rv.body)
	}
	if got := api(); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key on the API: %d", got)
	}
	if again := admin.post("/admin/keys/revoke", url.Values{"name": {"reporting"}}); again.status != http.StatusNotFound {
		t.Fatalf("revoke twice: %d", again.status)
	}
	// A key is not a console login.
	c := h.client()
	form := c.get("/login")
	tok := loginToken.FindStringSubmatch(form.body)[1]
	if a := c.post("/login", url.Values{"name": {"reporting"}, "password": {key}, "token": {tok}}); a.status != http.StatusUnauthorized {
		t.Fatalf("API key as a login: %d", a.status)
	}
}

// TestAdminUserAccess: an admin disables a user (whose open session ends
// at once and whose login then fails like a wrong password), enables them
// again, and removes them after a confirmation page; an admin cannot lock
// themselves out.
func TestAdminUserAccess(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	admin := h.loggedIn("ada", auth.RoleAdmin)
	pw := h.addUser("olga", auth.RoleOperator)
	olga := h.client()
	olga.login("olga", pw)
	loginFails := func(name, password string) string {
		t.Helper()
		c := h.client()
		form := c.get("/login")
		tok := loginToken.FindStringSubmatch(form.body)[1]
		a := c.post("/login", url.Values{"name": {name}, "password": {password}, "token": {tok}, "next": {"/records"}})
		if a.status != http.StatusUnauthorized {
			t.Fatalf("login as %s: %d, want 401", name, a.status)
		}
		return regexp.MustCompile(`role="alert"[^>]*>([^<]+)<`).FindStringSubmatch(a.body)[1]
	}

	page := admin.get("/admin/users")
	for _, want := range []string{`action="/admin/users/disable"`, `action="/admin/users/remove"`, `<span class="muted">you</span>`} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("users page lacks %s:\n%s", want, page.body)
		}
	}

	if a := admin.post("/admin/users/disable", url.Values{"name": {"olga"}}); a.status != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", a.status, a.body)
	}
	if a := olga.get("/records"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/login") {
		t.Fatalf("a disabled user's session still opens pages: %d", a.status)
	}
	if got, wrong := loginFails("olga", pw), loginFails("olga", "not olga's password"); got != wrong {
		t.Fatalf("disabled login says %q, a wrong password %q", got, wrong)
	}
	page = admin.get("/admin/users")
	if !strings.Contains(page.body, "olga is disabled") || !strings.Contains(page.body, `<span class="tag">disabled</span>`) || !strings.Contains(page.body, `action="/admin/users/enable"`) {
		t.Fatalf("users page after disabling:\n%s", page.body)
	}

	if a := admin.post("/admin/users/enable", url.Values{"name": {"olga"}}); a.status != http.StatusSeeOther {
		t.Fatalf("enable: %d\n%s", a.status, a.body)
	}
	olga.login("olga", pw)

	// Remove asks first, and removes nothing until confirmed.
	ask := admin.post("/admin/users/remove", url.Values{"name": {"olga"}})
	if ask.status != http.StatusOK || !strings.Contains(ask.body, `id="confirm-remove"`) || !strings.Contains(ask.body, `name="confirm" value="yes"`) {
		t.Fatalf("remove without confirmation: %d\n%s", ask.status, ask.body)
	}
	if a := olga.get("/records"); a.status != http.StatusOK {
		t.Fatalf("asking to remove olga ended her session: %d", a.status)
	}
	if a := admin.post("/admin/users/remove", url.Values{"name": {"olga"}, "confirm": {"yes"}}); a.status != http.StatusSeeOther {
		t.Fatalf("remove: %d\n%s", a.status, a.body)
	}
	if a := olga.get("/records"); a.status != http.StatusSeeOther {
		t.Fatalf("a removed user's session still opens pages: %d", a.status)
	}
	loginFails("olga", pw)
	if page := admin.get("/admin/users"); strings.Contains(page.body, `<th scope="row">olga`) || !strings.Contains(page.body, "olga is removed") {
		t.Fatalf("users page after removing:\n%s", page.body)
	}

	cases := []struct {
		name   string
		path   string
		form   url.Values
		status int
		text   string
	}{
		{"disable yourself", "/admin/users/disable", url.Values{"name": {"ada"}}, 400, "cannot disable yourself"},
		{"remove yourself", "/admin/users/remove", url.Values{"name": {"ada"}, "confirm": {"yes"}}, 400, "cannot remove yourself"},
		{"remove yourself unconfirmed", "/admin/users/remove", url.Values{"name": {"ada"}}, 400, "cannot remove yourself"},
		{"disable nobody", "/admin/users/disable", url.Values{"name": {"nobody"}}, 404, "no user named"},
		{"enable nobody", "/admin/users/enable", url.Values{"name": {"nobody"}}, 404, "no user named"},
		{"remove nobody", "/admin/users/remove", url.Values{"name": {"nobody"}, "confirm": {"yes"}}, 404, "no user named"},
		{"without the CSRF token", "/admin/users/disable", url.Values{"name": {"gus"}, "csrf": {""}}, 403, "security token"},
	}
	h.addUser("gus", auth.RoleViewer)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := admin.post(c.path, c.form)
			if a.status != c.status || !strings.Contains(a.body, c.text) {
				t.Fatalf("%d, want %d with %q\n%s", a.status, c.status, c.text, a.body)
			}
		})
	}
	// admin is still logged in and gus still enabled after all that.
	if a := admin.get("/admin/users"); a.status != http.StatusOK || strings.Contains(a.body, `<span class="tag">disabled</span>`) {
		t.Fatalf("after the refused changes: %d\n%s", a.status, a.body)
	}

	// A viewer or operator may not change access.
	op := h.loggedIn("oscar", auth.RoleOperator)
	if a := op.post("/admin/users/disable", url.Values{"name": {"gus"}}); a.status != http.StatusForbidden {
		t.Fatalf("operator disables a user: %d", a.status)
	}
}
