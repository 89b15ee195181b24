package console

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

// TestSecurityHeadersAndNoInlineScript: every page carries the policy and
// the headers, and no page has inline script, inline style or event
// handler attributes that the policy would block.
func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	rec := h.stageExample()
	admin := h.loggedIn("ada", auth.RoleAdmin)
	load := admin.post("/records/"+rec.Number+"/load", nil)
	pages := map[string]answer{
		"login":      h.client().get("/login"),
		"records":    admin.get("/records"),
		"record":     admin.get("/records/" + rec.Number),
		"exceptions": admin.get("/exceptions"),
		"users":      admin.get("/admin/users"),
		"keys":       admin.get("/admin/keys"),
		"not found":  admin.get("/records/BB0999999"),
		"job":        admin.waitJob(load.header.Get("Location")),
		"preview":    admin.post("/records/"+rec.Number+"/preview", nil),
		"forbidden":  admin.post("/records/"+rec.Number+"/load", url.Values{"csrf": {"x"}}),
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>|\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	for name, a := range pages {
		if got := a.header.Get("Content-Security-Policy"); got != csp {
			t.Errorf("%s: CSP %q", name, got)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
			"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
			if got := a.header.Get(k); got != want {
				t.Errorf("%s: %s is %q, want %q", name, k, got, want)
			}
		}
		for _, m := range inline.FindAllString(a.body, -1) {
			if m != `<script src="/static/console.js" defer>` {
				t.Errorf("%s: inline script or style: %q", name, m)
			}
		}
	}
	for _, f := range []string{"/static/console.css", "/static/console.js"} {
		a := admin.get(f)
		if a.status != http.StatusOK || a.header.Get("X-Content-Type-Options") != "nosniff" || len(a.body) < 500 {
			t.Errorf("%s: %d, %d bytes", f, a.status, len(a.body))
		}
	}
	if ct := admin.get("/static/console.js").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("console.js type %q", ct)
	}
	if a := admin.get("/"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/records" {
		t.Errorf("/: %d %s", a.status, a.header.Get("Location"))
	}
}

// TestPayloadIsEscaped: markup in payload and email values is shown as
// text on every page that shows them.
func TestPayloadIsEscaped(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	xss := `<script>alert(1)</script>`
	rec := h.stage(dealJSON(t, func(m map[string]any) {
		otherDeal(7, xss, "0007770007", "DR00007777")(m)
		m["Name"] = `"><img src=x onerror=alert(2)>`
		m["Organization_Name__c"] = `</dd><a href="javascript:alert(3)">x</a>`
		items := m["OpportunityLineItems"].(map[string]any)["records"].([]any)
		items[0].(map[string]any)["Name__c"] = `AEM SITES:MS <b onmouseover=alert(4)>`
	}))
	v := h.loggedIn("victor", auth.RoleViewer)
	for _, path := range []string{"/records", "/records?q=script", "/records/" + rec.Number} {
		a := v.get(path)
		if !strings.Contains(a.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the company is not shown escaped", path)
		}
		for _, raw := range []string{xss, `<img src=x`, `<b onmouseover`, `href="javascript:`, `onerror=alert(2)>`} {
			if strings.Contains(a.body, raw) {
				t.Errorf("%s: %q reaches the page unescaped", path, raw)
			}
		}
	}
}

// TestCookieSecurity: the session cookie is __Host- and Secure over TLS,
// behind an https public URL or a trusted proxy that says https, and on
// loopback; over plain HTTP to another host it falls back to a plain name
// without Secure, and the login still works.
func TestCookieSecurity(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		host    string
		remote  string
		tls     bool
		proto   string
		wantPfx bool
	}{
		{"loopback", nil, "127.0.0.1:8080", "127.0.0.1:5000", false, "", true},
		{"localhost", nil, "localhost:8080", "127.0.0.1:5000", false, "", true},
		{"plain http to a host name", nil, "bookbridge.corp.example", "192.0.2.7:5000", false, "", false},
		{"TLS", nil, "bookbridge.corp.example", "192.0.2.7:5000", true, "", true},
		{"https public URL", map[string]string{"BOOKBRIDGE_PUBLIC_URL": "https://bookbridge.corp.example"}, "bookbridge.corp.example", "192.0.2.7:5000", false, "", true},
		{"trusted proxy says https", map[string]string{"BOOKBRIDGE_TRUSTED_PROXIES": "10.0.0.0/8"}, "bookbridge.corp.example", "10.1.2.3:5000", false, "https", true},
		{"untrusted caller says https", map[string]string{"BOOKBRIDGE_TRUSTED_PROXIES": "10.0.0.0/8"}, "bookbridge.corp.example", "192.0.2.7:5000", false, "https", false},
	}
	// One console per configuration; the cases share them.
	type console struct {
		h  *harness
		pw string
	}
	consoles := map[string]console{}
	for _, c := range cases {
		key := fmt.Sprint(c.env)
		if _, ok := consoles[key]; !ok {
			h := newSQLiteHarness(t, c.env)
			consoles[key] = console{h, h.addUser("olga", auth.RoleOperator)}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, pw := consoles[fmt.Sprint(c.env)].h, consoles[fmt.Sprint(c.env)].pw
			req := func(method, target string, body url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
				var r *http.Request
				if body != nil {
					r = httptest.NewRequest(method, target, strings.NewReader(body.Encode()))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.Header.Set("Sec-Fetch-Site", "same-origin")
				} else {
					r = httptest.NewRequest(method, target, nil)
				}
				r.Host, r.RemoteAddr = c.host, c.remote
				if c.tls {
					r.TLS = &tls.ConnectionState{}
				}
				if c.proto != "" {
					r.Header.Set("X-Forwarded-Proto", c.proto)
				}
				for _, ck := range cookies {
					r.AddCookie(ck)
				}
				w := httptest.NewRecorder()
				h.handler.ServeHTTP(w, r)
				return w
			}
			form := req("GET", "/login", nil, nil)
			name := "bookbridge_login"
			if c.wantPfx {
				name = "__Host-" + name
			}
			lc := setCookie(t, form.Header(), name)
			if lc.Secure != c.wantPfx {
				t.Fatalf("login cookie %s", lc.Raw)
			}
			tok := loginToken.FindStringSubmatch(form.Body.String())[1]
			lr := req("POST", "/login", url.Values{"name": {"olga"}, "password": {pw}, "token": {tok}}, []*http.Cookie{{Name: lc.Name, Value: lc.Value}})
			if lr.Code != http.StatusSeeOther {
				t.Fatalf("login: %d\n%s", lr.Code, lr.Body)
			}
			sname := strings.Replace(name, "login", "session", 1)
			sc := setCookie(t, lr.Header(), sname)
			if sc.Secure != c.wantPfx || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie %s", sc.Raw)
			}
			if page := req("GET", "/records", nil, []*http.Cookie{{Name: sc.Name, Value: sc.Value}}); page.Code != http.StatusOK {
				t.Fatalf("with the session: %d", page.Code)
			}
			// The other name is not accepted for this request.
			other := "__Host-bookbridge_session"
			if c.wantPfx {
				other = "bookbridge_session"
			}
			if page := req("GET", "/records", nil, []*http.Cookie{{Name: other, Value: sc.Value}}); page.Code != http.StatusSeeOther {
				t.Fatalf("the session under the other name: %d", page.Code)
			}
		})
	}
}

// TestSessionExpires: a session ends after its TTL.
func TestSessionExpires(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	c := h.loggedIn("olga", auth.RoleOperator)
	h.clock.set(DefaultSessionTTL - time.Minute)
	if a := c.get("/records"); a.status != http.StatusOK {
		t.Fatalf("before the TTL: %d", a.status)
	}
	h.clock.set(DefaultSessionTTL + time.Minute)
	if a := c.get("/records"); a.status != http.StatusSeeOther {
		t.Fatalf("after the TTL: %d", a.status)
	}
}

// TestStaticFiles: the two files are served; there is no directory listing.
func TestStaticFiles(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	c := h.client()
	for path, want := range map[string]int{"/static/console.css": 200, "/static/console.js": 200, "/static/": 404, "/static/nope.js": 404} {
		if a := c.get(path); a.status != want {
			t.Errorf("GET %s: %d, want %d", path, a.status, want)
		}
	}
}
