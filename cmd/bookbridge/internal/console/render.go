package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/staging"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pageNames are the templates/NAME.html pages; each is parsed with the
// layout and the partials (partials.html, reload_button.html).
var pageNames = []string{"login", "records", "record", "preview", "job", "exceptions", "reconcile", "users", "keys", "error", "confirm",
	"impact", "impact_record", "impact_reload", "reload"}

// pageData is what every page template gets: the layout's fields and the
// page's own Data.
type pageData struct {
	Title      string
	Nav        string
	User       *user
	CSRF       string
	Flash      string
	Exceptions int
	Data       any
}

// templates parses the pages once per console; the functions close over
// the console for its time zone and target.
func (c *Console) templates() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":       c.when,
		"isoTime":    isoTime,
		"ago":        c.ago,
		"stateLabel": stateLabel,
		"money":      FormatMoney,
		"size":       formatSize,
		"join":       strings.Join,
		"targetLink": c.targetLink,
		"add":        func(a, b int) int { return a + b },
		"jobState":   jobStateWords,
		"loadJob":    loadJobWords,
		"dict":       dict,
		"until":      c.until,
		"inline":     server.OpensInline,
	}
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/partials.html", "templates/reload_button.html", "templates/"+name+".html"))
	}
	return out
}

// render writes page name with data; nav names the menu entry to mark.
// The page is rendered into a buffer first, so a template error gives a
// clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, u *user, status int, name, nav string, data any) {
	pd := pageData{Nav: nav, User: u, Flash: c.takeFlash(w, r), Data: data}
	if u != nil {
		pd.CSRF = u.CSRF
		if counts, err := c.app.Store.Counts(r.Context()); err == nil {
			pd.Exceptions = counts[staging.StateNeedsReview] + counts[staging.StateLoadFailed]
		}
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, pd); err != nil {
		server.Logger(r.Context()).Error("rendering a console page", "page", name, "err", err)
		http.Error(w, "internal error; the request id identifies it in the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

// fail renders the error page with a message that says what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, u *user, status int, msg string) {
	c.render(w, r, u, status, "error", "", errorView{Status: status, Heading: http.StatusText(status), Message: msg})
}

// formFailed answers a form that could not be read: 408, closing the
// connection, when it did not arrive within BOOKBRIDGE_READ_TIMEOUT, 400
// otherwise.
func (c *Console) formFailed(w http.ResponseWriter, r *http.Request, u *user, err error) {
	if server.BodyTimedOut(err) {
		w.Header().Set("Connection", "close")
		c.fail(w, r, u, http.StatusRequestTimeout, "The form did not arrive in time. Send it again.")
		return
	}
	c.fail(w, r, u, http.StatusBadRequest, "The form could not be read: "+err.Error())
}

// internal logs err and renders a 500 page.
func (c *Console) internal(w http.ResponseWriter, r *http.Request, u *user, err error) {
	server.Logger(r.Context()).Error("console request failed", "err", err)
	c.fail(w, r, u, http.StatusInternalServerError, "Something went wrong on the server. The request id "+server.RequestID(r.Context())+" identifies it in the log.")
}

// when formats a time for people, in the configured time zone.
func (c *Console) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(c.app.Cfg.Location()).Format("2006-01-02 15:04 MST")
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ago says how long ago t was, by the app's clock.
func (c *Console) ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatAge(c.app.Now().Sub(t))
}

// since says how long ago t was for people: "5h 12m ago", "just now".
func (c *Console) since(t time.Time) string {
	s := c.ago(t)
	if s == "" || s == "just now" {
		return s
	}
	return s + " ago"
}

// formatAge writes a duration the way people say it: 3d 4h, 1d, 5h 12m,
// 40m (to the minute, zero parts left out).
func formatAge(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dm", mins)
}

func stateLabel(s staging.State) string { return strings.ReplaceAll(string(s), "_", " ") }

// formatSize writes a byte count in binary units.
func formatSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

// dict makes a map of key, value pairs, for templates that take several
// values.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: %d arguments, want key, value pairs", len(kv))
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
