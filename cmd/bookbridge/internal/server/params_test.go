package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readAll reads the parameters every reader kind covers, as a handler
// would.
type paramsRead struct {
	dry    bool
	limit  int
	q      string
	states []string
	age    time.Duration
}

func readSample(p *Params) paramsRead {
	return paramsRead{
		dry:    p.Bool("dry_run"),
		limit:  p.Int("limit", 1, 200, 50),
		q:      p.Text("q", 10),
		states: Enum(p, "state", []string{"ready", "loaded"}),
		age:    p.Duration("age", time.Second, time.Hour),
	}
}

func TestParams(t *testing.T) {
	for _, c := range []struct {
		method, query string
		want          paramsRead
		problems      []string // each a substring of one problem, in order
	}{
		{method: "GET", query: "", want: paramsRead{limit: 50}},
		{method: "POST", query: "dry_run=true&limit=7&q=m%C3%BCller&state=ready,loaded&state=ready&age=5m",
			want: paramsRead{dry: true, limit: 7, q: "müller", states: []string{"ready", "loaded"}, age: 5 * time.Minute}},
		{method: "POST", query: "dry_run=false", want: paramsRead{limit: 50}},
		{method: "POST", query: "dry_run=yes", want: paramsRead{limit: 50}, problems: []string{`dry_run must be true or false, not "yes"`}},
		{method: "POST", query: "dry_run=1", want: paramsRead{limit: 50}, problems: []string{`dry_run must be true or false, not "1"`}},
		{method: "POST", query: "dry_run=TRUE", want: paramsRead{limit: 50}, problems: []string{`dry_run must be true or false`}},
		{method: "POST", query: "dry_run=", want: paramsRead{limit: 50}, problems: []string{`dry_run must be true or false, not ""`}},
		{method: "POST", query: "dry_run=true&dry_run=false", want: paramsRead{limit: 50}, problems: []string{"dry_run is given 2 times"}},
		{method: "GET", query: "limit=", want: paramsRead{limit: 50}, problems: []string{`limit must be a whole number from 1 to 200, not ""`}},
		{method: "GET", query: "limit=0", want: paramsRead{limit: 50}, problems: []string{"limit must be a whole number from 1 to 200"}},
		{method: "GET", query: "limit=201", want: paramsRead{limit: 50}, problems: []string{"limit must be"}},
		{method: "GET", query: "limit=%2B5", want: paramsRead{limit: 50}, problems: []string{`not "+5"`}},
		{method: "GET", query: "limit=99999999999999999999999", want: paramsRead{limit: 50}, problems: []string{"limit must be"}},
		{method: "GET", query: "state=nonsense", want: paramsRead{limit: 50}, problems: []string{`state: unknown value "nonsense": use one of ready, loaded`}},
		{method: "GET", query: "state=", want: paramsRead{limit: 50}, problems: []string{`state: unknown value ""`}},
		{method: "GET", query: "age=0s", want: paramsRead{limit: 50}, problems: []string{"age must be a duration from 1s to 1h0m0s"}},
		{method: "GET", query: "age=soon", want: paramsRead{limit: 50}, problems: []string{"age must be a duration"}},
		{method: "GET", query: "q=" + strings.Repeat("x", 11), want: paramsRead{limit: 50}, problems: []string{"q is 11 characters long: at most 10"}},
		{method: "GET", query: "q=a%09b%0D%0Ac", want: paramsRead{limit: 50, q: "a\tb\r\nc"}},
		{method: "GET", query: "q=%00", want: paramsRead{limit: 50, q: "\x00"}, problems: []string{"q: the value has the control character U+0000 at byte 0"}},
		{method: "GET", query: "q=ab%1B", want: paramsRead{limit: 50, q: "ab\x1b"}, problems: []string{"U+001B at byte 2"}},
		{method: "GET", query: "q=%FF", want: paramsRead{limit: 50, q: "\xff"}, problems: []string{"q: the value is not UTF-8"}},
		{method: "GET", query: "x%00y=1", want: paramsRead{limit: 50}, problems: []string{"a parameter name has the control character U+0000"}},
		{method: "GET", query: "q=%zz", want: paramsRead{limit: 50}, problems: []string{"the query is not well formed"}},
		{method: "GET", query: "a=1;b=2", want: paramsRead{limit: 50}, problems: []string{"the query is not well formed"}},
		// Several problems are reported together.
		{method: "POST", query: "dry_run=yes&limit=0&state=x", want: paramsRead{limit: 50},
			problems: []string{"dry_run must be", "limit must be", `state: unknown value "x"`}},
		// Unknown parameters: ignored on a read route, refused on a write one.
		{method: "GET", query: "extra=1", want: paramsRead{limit: 50}},
		{method: "POST", query: "extra=1&dryrun=true", want: paramsRead{limit: 50},
			problems: []string{`unknown parameter "dryrun": this request takes only age, dry_run, limit, q, state`, `unknown parameter "extra"`}},
	} {
		t.Run(c.method+" "+c.query, func(t *testing.T) {
			p := ReadParams(httptest.NewRequest(c.method, "/x?"+c.query, nil))
			got := readSample(p)
			if got.dry != c.want.dry || got.limit != c.want.limit || got.q != c.want.q || got.age != c.want.age ||
				strings.Join(got.states, ",") != strings.Join(c.want.states, ",") {
				t.Errorf("read %+v, want %+v", got, c.want)
			}
			probs := p.Problems()
			if len(probs) != len(c.problems) {
				t.Fatalf("problems %q, want %d like %q", probs, len(c.problems), c.problems)
			}
			for i, want := range c.problems {
				if !strings.Contains(probs[i], want) {
					t.Errorf("problem %d is %q, want it to contain %q", i, probs[i], want)
				}
			}
		})
	}
}

// A handler without parameters refuses any on a write route.
func TestNoParams(t *testing.T) {
	h := noParams(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{"POST", "/api/v1/deals", http.StatusNoContent},
		{"POST", "/api/v1/deals?dry_run=true", http.StatusBadRequest},
		{"GET", "/api/v1/jobs/1?cache=1", http.StatusNoContent},
		{"GET", "/api/v1/jobs/1?cache=%00", http.StatusBadRequest},
	} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(c.method, c.target, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.target, rec.Code, c.want, rec.Body)
		}
		if c.want == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `"code":"bad_request"`) {
			t.Errorf("%s %s: body %s", c.method, c.target, rec.Body)
		}
	}
}

// Paths under /api/ with empty, . or .. segments are 404 JSON; others pass.
func TestAPIPathsAreClean(t *testing.T) {
	h := apiPaths(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for path, want := range map[string]int{
		"/api/v1/records":             http.StatusTeapot,
		"/api/v1/records/BB1/load":    http.StatusTeapot,
		"/api/":                       http.StatusTeapot,
		"/api/v1/records/":            http.StatusTeapot,
		"/records//x":                 http.StatusTeapot, // the console's: not an API path
		"/api":                        http.StatusNotFound,
		"/api/v1/records//load":       http.StatusNotFound,
		"//api/v1/records":            http.StatusTeapot, // not under /api/: the mux's
		"/api//v1/records":            http.StatusNotFound,
		"/api/v1/records/./BB1":       http.StatusNotFound,
		"/api/v1/records/../deals":    http.StatusNotFound,
		"/api/v1/records/BB1/load/..": http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", nil)
		req.URL.Path = path
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
		if want == http.StatusNotFound && rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: content type %q", path, rec.Header().Get("Content-Type"))
		}
	}
}

// FuzzReadParams: any query is read without a panic, and a query with a
// control character or bytes that are not UTF-8 always has a problem.
func FuzzReadParams(f *testing.F) {
	for _, s := range []string{"", "dry_run=true", "q=%00", "limit=%2B1", "a=1;b=2", "state=ready,loaded&state=x", "q=%FF", "%", "x=%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("POST", "/x", nil)
		req.URL.RawQuery = query
		p := ReadParams(req)
		readSample(p)
		probs := p.Problems()
		for name, vs := range p.values {
			for _, v := range append([]string{name}, vs...) {
				if badText(v) != "" && len(probs) == 0 {
					t.Fatalf("%q has a bad text %q but no problem", query, v)
				}
			}
		}
	})
}
