package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

const (
	examplePayload = "../../../../examples/payloads/deal-full.json"
	exampleEmail   = "../../../../examples/emails/ph-deal-full.eml"
	examplePDF     = "../../../../examples/emails/Contract_DR00004711.pdf"
)

// testClock is the app's clock: real time plus an offset a test can move,
// so records can be staged "two days ago".
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) set(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

// harness is a running console: the app on its own database, the API and
// console routes on a loopback port, and a ServiceNow double as target.
type harness struct {
	t       testing.TB
	app     *app.App
	sn      *sntest.Server
	url     string
	handler http.Handler
	clock   *testClock
}

func testLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("BOOKBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newHarness starts a console on dbURL (a SQLite path or postgres URL).
func newHarness(t testing.TB, dbURL string, env map[string]string, opts ...Option) *harness {
	t.Helper()
	sn := sntest.NewServer(t, sntest.Options{Username: "svc", Password: "pw", SeedChoices: true})
	vars := map[string]string{
		"BOOKBRIDGE_DATABASE_URL":        dbURL,
		"BOOKBRIDGE_LISTEN":              "127.0.0.1:0",
		"BOOKBRIDGE_TARGET":              "servicenow",
		"BOOKBRIDGE_SERVICENOW_URL":      sn.URL(),
		"BOOKBRIDGE_SERVICENOW_USER":     "svc",
		"BOOKBRIDGE_SERVICENOW_PASSWORD": "pw",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Logger: testLogger(), Now: clock.now, Work: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		a.Close()
		t.Fatal(err)
	}
	s := server.New(a)
	if len(opts) == 0 {
		Mount(s, a)
	} else {
		New(a, opts...).Register(s)
	}
	h := s.Handler()
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			t.Errorf("stopping jobs: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	return &harness{t: t, app: a, sn: sn, url: ts.URL, handler: h, clock: clock}
}

// newSQLiteHarness is newHarness on a fresh SQLite file.
func newSQLiteHarness(t testing.TB, env map[string]string, opts ...Option) *harness {
	return newHarness(t, dbtest.SQLiteURL(t), env, opts...)
}

// sfID returns a valid 18-character Salesforce id made from n.
func sfID(n int) string {
	id15 := "006Dn00000Tst" + string(rune('A'+n/26%26)) + string(rune('A'+n%26))
	return id15 + sfdc.IDChecksum(id15)
}

// dealJSON returns the full example deal changed by edit (which gets the
// decoded document; numbers stay exact).
func dealJSON(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(examplePayload)
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// otherDeal is another valid deal: its own Salesforce id, ECC id, DR number
// and account name.
func otherDeal(n int, account, ecc, dr string) func(m map[string]any) {
	return func(m map[string]any) {
		m["Id"] = sfID(n)
		m["End_User_ECC_ID__c"] = ecc
		m["Deal_Registration_Id__c"] = dr
		m["Account"].(map[string]any)["Name"] = account
	}
}

// stage validates and stages a deal.
func (h *harness) stage(raw []byte) *staging.Record {
	h.t.Helper()
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := sfdc.Validate(&d.Value); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.app.Store.Intake(context.Background(), staging.PayloadFromOpportunity(d), staging.Via("test"))
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Record
}

// stageExample stages the full example deal and its PH email (with the
// contract PDF): a ready record.
func (h *harness) stageExample() *staging.Record {
	h.t.Helper()
	h.stage(dealJSON(h.t, nil))
	raw, err := os.ReadFile(exampleEmail)
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := h.app.Flow.ProcessEmail(context.Background(), raw, "smtp")
	if err != nil || out.Outcome != string(staging.EmailApplied) {
		h.t.Fatalf("example email: %v %+v", err, out)
	}
	return h.get(out.RecordID)
}

func (h *harness) get(id int64) *staging.Record {
	h.t.Helper()
	rec, err := h.app.Store.Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// addUser creates a console user and returns the password.
func (h *harness) addUser(name string, role auth.Role) string {
	h.t.Helper()
	pw := "pw-" + name + "-correct-horse"
	if err := h.app.Auth.AddUser(context.Background(), name, pw, role); err != nil {
		h.t.Fatal(err)
	}
	return pw
}

// client is a browser-like HTTP client: cookies, no redirects followed,
// the console's origin on every POST.
type client struct {
	t    testing.TB
	h    *harness
	http *http.Client
	csrf string
}

func (h *harness) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &client{t: h.t, h: h, http: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var loginToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if m := csrfField.FindStringSubmatch(a.body); m != nil {
		c.csrf = m[1]
	}
	return a
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.h.url+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as a same-origin browser would; the session's CSRF
// token is added unless form sets csrf itself (even to "").
func (c *client) post(path string, form url.Values, header ...string) answer {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, c.h.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.h.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return c.do(req)
}

// login logs the client in and fails the test otherwise.
func (c *client) login(name, password string) {
	c.t.Helper()
	form := c.get("/login")
	m := loginToken.FindStringSubmatch(form.body)
	if form.status != http.StatusOK || m == nil {
		c.t.Fatalf("login form: %d\n%s", form.status, form.body)
	}
	a := c.post("/login", url.Values{"name": {name}, "password": {password}, "token": {m[1]}, "next": {"/records"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/records" {
		c.t.Fatalf("login as %s: %d %s\n%s", name, a.status, a.header.Get("Location"), a.body)
	}
	if page := c.get("/records"); page.status != http.StatusOK || c.csrf == "" {
		c.t.Fatalf("after login: %d, csrf %q", page.status, c.csrf)
	}
}

// loggedIn returns a new client logged in as a new user of role.
func (h *harness) loggedIn(name string, role auth.Role) *client {
	h.t.Helper()
	pw := h.addUser(name, role)
	c := h.client()
	c.login(name, pw)
	return c
}

// waitJob reads the job page until the job is done (bounded).
func (c *client) waitJob(path string) answer {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		a := c.get(path + "/status")
		var p JobProgress
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &p) != nil {
			c.t.Fatalf("job status: %d %s", a.status, a.body)
		}
		if p.Done {
			return c.get(path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("job %s did not finish within 60s", path)
	return answer{}
}
