package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// setCookie finds the Set-Cookie header of a cookie.
func setCookie(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			c.Raw = line
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %q", name, h.Values("Set-Cookie"))
	return nil
}

// TestLoginAndRoles walks the login and what each role may do, on SQLite
// and Postgres.
func TestLoginAndRoles(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL, nil)
		rec := h.stageExample()
		path := "/records/" + rec.Number

		anon := h.client()
		a := anon.get("/records?q=x")
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?next="+url.QueryEscape("/records?q=x") {
			t.Fatalf("anonymous list: %d %q", a.status, a.header.Get("Location"))
		}
		if a := anon.post(path+"/load", nil); a.status != http.StatusForbidden {
			t.Fatalf("anonymous POST: %d", a.status)
		}

		// The login form sets its double-submit cookie.
		form := anon.get("/login")
		lc := setCookie(t, form.header, "__Host-bookbridge_login")
		if !lc.Secure || !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode || lc.Path != "/" || lc.Domain != "" {
			t.Fatalf("login cookie: %s", lc.Raw)
		}
		pw := h.addUser("olga", auth.RoleOperator)
		cases := []struct {
			name   string
			user   string
			pass   string
			token  string // "good": the form's own token
			hdr    []string
			status int
			text   string
		}{
			{"wrong password", "olga", "not the password", "good", nil, http.StatusUnauthorized, "Unknown user or wrong password"},
			{"unknown user", "nobody", pw, "good", nil, http.StatusUnauthorized, "Unknown user or wrong password"},
			{"no token", "olga", pw, "", nil, http.StatusForbidden, "login form had expired"},
			{"forged token", "olga", pw, "forged", nil, http.StatusForbidden, "login form had expired"},
			{"cross-site", "olga", pw, "good", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "another site"},
			{"foreign origin", "olga", pw, "good", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, http.StatusForbidden, "another site"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cl := h.client()
				tok := c.token
				if tok == "good" {
					tok = loginToken.FindStringSubmatch(cl.get("/login").body)[1]
				}
				a := cl.post("/login", url.Values{"name": {c.user}, "password": {c.pass}, "token": {tok}}, c.hdr...)
				if a.status != c.status || !strings.Contains(a.body, c.text) {
					t.Fatalf("%d, want %d with %q\n%s", a.status, c.status, c.text, a.body)
				}
				if strings.Contains(strings.Join(a.header.Values("Set-Cookie"), ";"), "bookbridge_session=") {
					t.Fatal("a failed login set a session cookie")
				}
			})
		}

		// A good login: the session cookie, then the page asked for.
		token := loginToken.FindStringSubmatch(form.body)[1]
		a = anon.post("/login", url.Values{"name": {"olga"}, "password": {pw}, "token": {token}, "next": {path}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != path {
			t.Fatalf("login: %d %q\n%s", a.status, a.header.Get("Location"), a.body)
		}
		sc := setCookie(t, a.header, "__Host-bookbridge_session")
		if !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" || sc.MaxAge != int(DefaultSessionTTL.Seconds()) {
			t.Fatalf("session cookie: %s", sc.Raw)
		}
		page := anon.get(path)
		if page.status != http.StatusOK || !strings.Contains(page.body, `id="sfdc-data"`) || strings.Contains(page.body, "disabled aria-describedby=\"not-loadable\"") {
			t.Fatalf("operator's record page: %d\n%s", page.status, page.body)
		}

		// What each role may do.
		viewer := h.loggedIn("victor", auth.RoleViewer)
		admin := h.loggedIn("ada", auth.RoleAdmin)
		gets := []struct {
			path                  string
			viewer, operator, adm int
		}{
			{"/records", 200, 200, 200},
			{path, 200, 200, 200},
			{"/exceptions", 200, 200, 200},
			{"/admin/users", 403, 403, 200},
			{"/admin/keys", 403, 403, 200},
		}
		for _, g := range gets {
			for _, who := range []struct {
				c    *client
				want int
			}{{viewer, g.viewer}, {anon, g.operator}, {admin, g.adm}} {
				if a := who.c.get(g.path); a.status != who.want {
					t.Errorf("GET %s: %d, want %d", g.path, a.status, who.want)
				}
			}
		}
		vp := viewer.get(path)
		if strings.Contains(vp.body, `id="sfdc-data"`) || !strings.Contains(vp.body, "Loading needs the operator role") {
			t.Fatalf("the viewer sees the SFDC Data button:\n%s", vp.body)
		}
		for _, p := range []string{path + "/preview", path + "/load", path + "/review", "/admin/users", "/admin/keys"} {
			if a := viewer.post(p, url.Values{"action": {"retry"}, "name": {"x"}, "role": {"viewer"}}); a.status != http.StatusForbidden || !strings.Contains(a.body, "needs the role") {
				t.Errorf("viewer POST %s: %d\n%s", p, a.status, a.body)
			}
		}
		if a := anon.post("/admin/keys", url.Values{"name": {"x"}, "role": {"intake"}}); a.status != http.StatusForbidden {
			t.Errorf("operator POST /admin/keys: %d", a.status)
		}
		if got := h.get(rec.ID); got.State != "ready" || got.Load.Attempts != 0 {
			t.Fatalf("refused POSTs changed the record: %s, %d attempts", got.State, got.Load.Attempts)
		}

		// Logging out ends the session on the server, not only the cookie.
		stolen := viewer.http.Jar.Cookies(mustURL(t, h.url))
		if a := viewer.post("/logout", nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login" {
			t.Fatalf("logout: %d", a.status)
		}
		replay := h.client()
		replay.http.Jar.SetCookies(mustURL(t, h.url), stolen)
		if a := replay.get("/records"); a.status != http.StatusSeeOther {
			t.Fatalf("the logged-out session still works: %d", a.status)
		}
		if a := viewer.get("/login"); !strings.Contains(a.body, "You are logged out.") {
			t.Fatalf("no logout message:\n%s", a.body)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestForgedPosts: a POST that does not carry the session's token, or comes
// from another origin, changes nothing.
func TestForgedPosts(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	op := h.loggedIn("olga", auth.RoleOperator)
	path := "/records/" + rec.Number + "/load"
	cases := []struct {
		name string
		form url.Values
		hdr  []string
		text string
	}{
		{"no token", url.Values{"csrf": {""}}, nil, "security token"},
		{"wrong token", url.Values{"csrf": {"AAAA" + op.csrf[4:]}}, nil, "security token"},
		{"another user's token", url.Values{"csrf": {h.loggedIn("other", auth.RoleOperator).csrf}}, nil, "security token"},
		{"cross-site fetch", nil, []string{"Sec-Fetch-Site", "cross-site"}, "another site"},
		{"same-site subdomain", nil, []string{"Sec-Fetch-Site", "same-site"}, "another site"},
		{"foreign origin, old browser", nil, []string{"Sec-Fetch-Site", "", "Origin", "http://attacker.example"}, "another site"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := op.post(path, c.form, c.hdr...)
			if a.status != http.StatusForbidden || !strings.Contains(a.body, c.text) {
				t.Fatalf("%d\n%s", a.status, a.body)
			}
		})
	}
	if got := h.get(rec.ID); got.State != "ready" || got.Load.Attempts != 0 {
		t.Fatalf("a forged POST started a load: %s", got.State)
	}
	// The same request with the token and from the console itself works.
	if a := op.post(path, nil); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/jobs/") {
		t.Fatalf("genuine POST: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
}
