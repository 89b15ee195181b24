package console

import (
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
)

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = 12 * time.Hour

// Console serves the web console of one App.
type Console struct {
	app     *app.App
	log     *slog.Logger
	ttl     time.Duration
	origins *http.CrossOriginProtection
	logins  *loginLimiter
	static  http.Handler
	pages   map[string]*template.Template
	// publicHTTPS is set when BOOKBRIDGE_PUBLIC_URL is an https:// address.
	publicHTTPS bool
}

// Option adjusts New.
type Option func(*Console)

// WithSessionTTL sets how long a login lasts (default DefaultSessionTTL).
func WithSessionTTL(d time.Duration) Option {
	return func(c *Console) {
		if d > 0 {
			c.ttl = d
		}
	}
}

// WithLoginLimit sets how many failed logins are allowed (default
// DefaultLoginLimit); a field left zero keeps its default.
func WithLoginLimit(lim LoginLimit) Option {
	return func(c *Console) { c.logins = newLoginLimiter(lim) }
}

// New returns the console of a.
func New(a *app.App, opts ...Option) *Console {
	c := &Console{app: a, log: a.Log.With("component", "console"), ttl: DefaultSessionTTL,
		origins: http.NewCrossOriginProtection(), logins: newLoginLimiter(DefaultLoginLimit)}
	for _, o := range opts {
		o(c)
	}
	if u, err := url.Parse(a.Cfg.PublicURL); err == nil && u.Host != "" {
		c.publicHTTPS = strings.EqualFold(u.Scheme, "https")
		// A gateway may rewrite Host; the public address is still ours.
		if err := c.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			c.log.Warn("BOOKBRIDGE_PUBLIC_URL is not usable as an origin", "err", err)
		}
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded
	}
	c.static = http.FileServerFS(sub)
	c.pages = c.templates()
	return c
}

// Mount adds the console's pages to s. It is the routes hook of the
// reference server (startProcess).
func Mount(s *server.Server, a *app.App) { New(a).Register(s) }

// Register adds the console's routes to s.
func (c *Console) Register(s *server.Server) {
	s.Handle("GET /{$}", c.secured(http.RedirectHandler("/records", http.StatusSeeOther)))
	s.Handle("GET /static/{file}", c.secured(http.StripPrefix("/static/", c.static)))
	s.Handle("GET /login", c.secured(http.HandlerFunc(c.loginForm)))
	s.Handle("POST /login", c.secured(http.HandlerFunc(c.login)))
	s.Handle("POST /logout", c.page(auth.RoleViewer, c.logout))

	s.Handle("GET /records", c.page(auth.RoleViewer, c.records))
	s.Handle("GET /records/{id}", c.page(auth.RoleViewer, c.record))
	s.Handle("GET /records/{id}/attachments/{att}", c.page(auth.RoleViewer, c.attachment))
	s.Handle("GET /records/{id}/email", c.page(auth.RoleViewer, c.rawEmail))
	s.Handle("POST /records/{id}/preview", c.page(auth.RoleOperator, c.preview))
	s.Handle("POST /records/{id}/load", c.page(auth.RoleOperator, c.load))
	s.Handle("POST /records/{id}/review", c.page(auth.RoleOperator, c.review))
	s.Handle("POST /records/{id}/retry-now", c.page(auth.RoleOperator, c.retryNow))
	s.Handle("POST /records/{id}/stop-retrying", c.page(auth.RoleOperator, c.stopRetrying))
	s.Handle("POST /exceptions/retry-failed", c.page(auth.RoleOperator, c.retryFailed))
	s.Handle("GET /jobs/{id}", c.page(auth.RoleViewer, c.job))
	s.Handle("GET /jobs/{id}/status", c.page(auth.RoleViewer, c.jobStatus))
	s.Handle("GET /exceptions", c.page(auth.RoleViewer, c.exceptions))
	s.Handle("GET /drift", c.page(auth.RoleOperator, c.drift))
	s.Handle("POST /records/{id}/drift/ack", c.page(auth.RoleOperator, c.ackDrift))

	s.Handle("GET /admin/users", c.page(auth.RoleAdmin, c.users))
	s.Handle("POST /admin/users", c.page(auth.RoleAdmin, c.addUser))
	s.Handle("POST /admin/users/set", c.page(auth.RoleAdmin, c.setUser))
	s.Handle("POST /admin/users/disable", c.page(auth.RoleAdmin, c.disableUser))
	s.Handle("POST /admin/users/enable", c.page(auth.RoleAdmin, c.enableUser))
	s.Handle("POST /admin/users/remove", c.page(auth.RoleAdmin, c.removeUser))
	s.Handle("GET /admin/keys", c.page(auth.RoleAdmin, c.keys))
	s.Handle("POST /admin/keys", c.page(auth.RoleAdmin, c.createKey))
	s.Handle("POST /admin/keys/revoke", c.page(auth.RoleAdmin, c.revokeKey))
	c.registerImpact(s)
}
