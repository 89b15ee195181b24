package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
)

// Cookie names without their __Host- prefix (added when the cookie can be
// Secure, see secureRequest).
const (
	sessionCookie = "bookbridge_session"
	loginCookie   = "bookbridge_login"
	flashCookie   = "bookbridge_flash"
	hostPrefix    = "__Host-"
)

// maxFormBytes bounds a console form's body.
const maxFormBytes = 64 << 10

// csp is the Content-Security-Policy of every console page: scripts and
// styles from the console only, no inline script or style, no plugins, no
// framing, forms only to the console, fetch only to the console (job
// progress).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// user is the logged-in user of a request.
type user struct {
	Name  string
	Role  auth.Role
	CSRF  string
	token string
}

// Can reports whether the user's role allows what role may do (templates:
// {{if .User.Can "operator"}}).
func (u *user) Can(role string) bool { return u != nil && u.Role.Allows(auth.Role(role)) }

// secured sets the security headers every console answer carries.
func (c *Console) secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-cache")
		}
		h.ServeHTTP(w, r)
	})
}

// page wraps a console handler: it needs a session whose role allows need,
// and for a POST a same-origin request carrying the session's CSRF token.
func (c *Console) page(need auth.Role, h func(http.ResponseWriter, *http.Request, *user)) http.Handler {
	return c.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		post := r.Method == http.MethodPost
		if post {
			if err := c.origins.Check(r); err != nil {
				server.Logger(r.Context()).Warn("console refused a cross-origin POST", "path", r.URL.Path,
					"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
				c.fail(w, r, nil, http.StatusForbidden, "This request came from another site and was refused. Use the console's own pages.")
				return
			}
		}
		u, err := c.currentUser(r)
		if errors.Is(err, auth.ErrNoSession) {
			if post {
				c.fail(w, r, nil, http.StatusForbidden, "Your session has ended: log in again, then repeat what you did.")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.internal(w, r, nil, err)
			return
		}
		if !u.Role.Allows(need) {
			c.fail(w, r, u, http.StatusForbidden, "Your role ("+string(u.Role)+") may not do this; it needs the role "+string(need)+".")
			return
		}
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.formFailed(w, r, u, err)
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), u.CSRF) {
				server.Logger(r.Context()).Warn("console refused a POST without a valid CSRF token", "path", r.URL.Path, "user", u.Name)
				c.fail(w, r, u, http.StatusForbidden, "The form's security token is missing or stale. Reload the page and try again.")
				return
			}
		}
		h(w, r, u)
	}))
}

// currentUser returns the user of the request's session cookie.
func (c *Console) currentUser(r *http.Request) (*user, error) {
	ck, err := r.Cookie(c.cookieName(r, sessionCookie))
	if err != nil || ck.Value == "" {
		return nil, auth.ErrNoSession
	}
	sess, err := c.app.Auth.Session(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	return &user{Name: sess.User.Name, Role: sess.User.Role, CSRF: sess.CSRF, token: ck.Value}, nil
}

// sameToken compares a presented token with the expected one in constant
// time; an empty token never matches.
func sameToken(presented, want string) bool {
	if presented == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}

// secureRequest reports whether the browser will keep a Secure cookie from
// this request: it came over TLS (directly, or via a trusted proxy that says
// so), the public URL is https, or the host is a loopback name, which
// browsers treat as a secure context.
func (c *Console) secureRequest(r *http.Request) bool {
	if r.TLS != nil || c.publicHTTPS {
		return true
	}
	if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && c.fromTrustedProxy(r) {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (c *Console) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range c.app.Cfg.TrustedProxies {
		if p.Contains(peer.Unmap()) {
			return true
		}
	}
	return false
}

// cookieName is base with the __Host- prefix when the cookie can be Secure.
func (c *Console) cookieName(r *http.Request, base string) string {
	if c.secureRequest(r) {
		return hostPrefix + base
	}
	return base
}

// setCookie sets a host-only cookie for the whole console; maxAge < 0
// deletes it.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int, same http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secureRequest(r), SameSite: same,
	})
}

// setFlash keeps a message for the next page the user sees.
func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	if len(msg) > 400 {
		msg = msg[:400]
	}
	c.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), 60, http.SameSiteLaxMode)
}

// takeFlash returns the message setFlash kept, and forgets it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(c.cookieName(r, flashCookie))
	if err != nil {
		return ""
	}
	c.setCookie(w, r, flashCookie, "", -1, http.SameSiteLaxMode)
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return ""
	}
	return string(b)
}

// safeNext returns next when it is a path of this site, else /records.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/records"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsAny(next, "\r\n\t") {
		return "/records"
	}
	if u.Path == "/login" {
		return "/records"
	}
	return next
}

type loginView struct {
	Token string
	Next  string
	Name  string
	Error string
}

// formatWait says how long to wait, for people: "40 seconds", "1 minute",
// "14 minutes".
func formatWait(d time.Duration) string {
	switch {
	case d < time.Minute:
		return plural(int(d/time.Second), "second", "seconds")
	default:
		return plural(int((d+time.Minute-1)/time.Minute), "minute", "minutes")
	}
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := c.currentUser(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, loginView{Next: next})
}

// showLogin renders the login form with a fresh double-submit token.
func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.Token = rand.Text()
	c.setCookie(w, r, loginCookie, v.Token, 3600, http.SameSiteStrictMode)
	c.render(w, r, nil, status, "login", "", v)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := c.origins.Check(r); err != nil {
		c.fail(w, r, nil, http.StatusForbidden, "This login came from another site and was refused. Open the console's login page yourself.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.formFailed(w, r, nil, err)
		return
	}
	v := loginView{Next: safeNext(r.PostForm.Get("next")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	ck, err := r.Cookie(c.cookieName(r, loginCookie))
	if err != nil || !sameToken(r.PostForm.Get("token"), ck.Value) {
		v.Error = "The login form had expired. Enter your name and password again."
		c.showLogin(w, r, http.StatusForbidden, v)
		return
	}
	client := server.ClientAddr(r, c.app.Cfg.TrustedProxies)
	now := c.app.Now()
	if ok, retryAt, address := c.logins.begin(v.Name, client, now); !ok {
		wait := max(time.Second, (retryAt.Sub(now) + time.Second - 1).Truncate(time.Second))
		server.Logger(r.Context()).Warn("console login throttled", "user", v.Name, "client", client.String(),
			"whole_address", address, "retry_after", wait)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		who := "for this name from your address"
		if address {
			who = "from your address"
		}
		v.Error = "Too many failed logins " + who + ". Try again in " + formatWait(wait) + ", at " + c.when(retryAt) + "."
		c.showLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	if !c.logins.acquire(r.Context()) {
		return // the client went away
	}
	token, sess, err := c.app.Auth.Login(r.Context(), v.Name, r.PostForm.Get("password"), c.ttl)
	c.logins.release()
	if err == nil {
		c.logins.succeeded(v.Name, client)
	}
	if errors.Is(err, auth.ErrBadLogin) {
		server.Logger(r.Context()).Warn("console login failed", "user", v.Name, "client", client.String())
		v.Error = "Unknown user or wrong password."
		c.showLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	if err != nil {
		c.internal(w, r, nil, err)
		return
	}
	server.Logger(r.Context()).Info("console login", "user", sess.User.Name, "role", sess.User.Role, "client", client.String())
	c.setCookie(w, r, loginCookie, "", -1, http.SameSiteStrictMode)
	c.setCookie(w, r, sessionCookie, token, int(c.ttl.Seconds()), http.SameSiteLaxMode)
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, u *user) {
	if err := c.app.Auth.Logout(r.Context(), u.token); err != nil {
		c.internal(w, r, u, err)
		return
	}
	c.setCookie(w, r, sessionCookie, "", -1, http.SameSiteLaxMode)
	c.setFlash(w, r, "You are logged out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
