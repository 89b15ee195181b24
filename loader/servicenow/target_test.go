package servicenow_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

// fast keeps retries quick in tests; Retry-After is still honoured.
func fast(cfg servicenow.Config) servicenow.Config {
	cfg.InitialBackoff = 5 * time.Millisecond
	cfg.MaxBackoff = 20 * time.Millisecond
	cfg.RateLimit = -1
	return cfg
}

func newTarget(t testing.TB, srv *sntest.Server, cfg servicenow.Config) *servicenow.Target {
	t.Helper()
	cfg.BaseURL = srv.URL()
	if cfg.OAuth == nil && cfg.Username == "" {
		cfg.Username, cfg.Password = sntest.DefaultUsername, sntest.DefaultPassword
	}
	tg, err := servicenow.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestConformance(t *testing.T) {
	t.Run("basic", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target {
			srv := sntest.NewServer(t, sntest.Options{})
			t.Cleanup(func() { checkNoViolations(t, srv) })
			return newTarget(t, srv, fast(servicenow.Config{}))
		})
	})
	t.Run("oauth", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target {
			srv := sntest.NewServer(t, sntest.Options{})
			return newTarget(t, srv, fast(servicenow.Config{OAuth: &servicenow.OAuth{ClientID: sntest.DefaultClientID, ClientSecret: sntest.DefaultClientSecret}}))
		})
	})
	t.Run("case-sensitive instance", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target {
			return newTarget(t, sntest.NewServer(t, sntest.Options{CaseSensitive: true}), fast(servicenow.Config{}))
		})
	})
}

func checkNoViolations(t *testing.T, srv *sntest.Server) {
	t.Helper()
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("the target sent what ServiceNow must not get:\n%s", strings.Join(v, "\n"))
	}
}

func find(tg loader.Target, where map[string]string) ([]loader.Record, error) {
	return tg.Find(context.Background(), loader.Query{Table: "core_company", Where: []map[string]string{where}, Fields: []string{"name"}, Limit: 2})
}

func TestRateLimitStormHonoursRetryAfter(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Seed("core_company", map[string]string{"u_ecc_id": "1", "name": "Acme"})
	srv.Inject(sntest.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 2})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	recs, err := find(tg, map[string]string{"u_ecc_id": "1"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Find after a 429 storm: %v, %v", recs, err)
	}
	calls := srv.Calls()
	if len(calls) != 3 || calls[0].Status != 429 || calls[1].Status != 429 || calls[2].Status != 200 {
		t.Fatalf("calls: %+v", calls)
	}
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].At.Sub(calls[i-1].At); gap < time.Second {
			t.Errorf("request %d came %s after a 429 with Retry-After: 1", i+1, gap)
		}
	}
}

func TestServiceUnavailableStormIsRetriedWithoutDuplicates(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Inject(sntest.Fault{Method: http.MethodPost, Status: http.StatusServiceUnavailable, Count: 4})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	rec, err := tg.Insert(context.Background(), "core_company", map[string]string{"u_ecc_id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.CountCalls(http.MethodPost, "/api/now/table/core_company"); n != 5 {
		t.Errorf("%d POSTs, want 5", n)
	}
	if rows := srv.Dump()["core_company"]; len(rows) != 1 || rows[0].ID != rec.ID {
		t.Errorf("rows %v", rows)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Inject(sntest.Fault{Method: http.MethodGet, Status: http.StatusServiceUnavailable, Count: 100})
	tg := newTarget(t, srv, fast(servicenow.Config{MaxRetries: 3}))
	_, err := find(tg, map[string]string{"u_ecc_id": "1"})
	var se *servicenow.Error
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Calls()); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, c := range []struct {
		status  int
		message string
		detail  string
		is      error
	}{
		{http.StatusBadRequest, "Invalid request", "The request could not be processed", nil},
		{http.StatusForbidden, "Operation Failed", "ACL Exception Insert Failed due to security constraints", servicenow.ErrForbidden},
		{http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval", loader.ErrNotFound},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			srv := sntest.NewServer(t, sntest.Options{})
			srv.Inject(sntest.Fault{Method: http.MethodPost, Status: c.status, Message: c.message, Detail: c.detail, Count: 5})
			tg := newTarget(t, srv, fast(servicenow.Config{}))
			_, err := tg.Insert(context.Background(), "core_company", map[string]string{"u_ecc_id": "1"})
			if err == nil {
				t.Fatal("no error")
			}
			if n := len(srv.Calls()); n != 1 {
				t.Errorf("%d attempts, want 1 (no retry on %d)", n, c.status)
			}
			for _, want := range []string{c.message, c.detail, "POST core_company"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if errors.Is(err, loader.ErrOutcomeUnknown) {
				t.Error("a refused write is not of unknown outcome")
			}
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	tg := newTarget(t, srv, fast(servicenow.Config{Username: "bookbridge", Password: "wrong"}))
	_, err := find(tg, map[string]string{"u_ecc_id": "1"})
	if !errors.Is(err, servicenow.ErrUnauthorized) || !strings.Contains(err.Error(), "User Not Authenticated") || !strings.Contains(err.Error(), "Required to provide Auth information") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Calls()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	bad := newTarget(t, srv, fast(servicenow.Config{OAuth: &servicenow.OAuth{ClientID: sntest.DefaultClientID, ClientSecret: "wrong"}}))
	if _, err := find(bad, map[string]string{"u_ecc_id": "1"}); !errors.Is(err, servicenow.ErrUnauthorized) {
		t.Errorf("wrong OAuth secret: %v", err)
	}
}

func TestRetryAfterLongerThanAllowedFailsAtOnce(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Inject(sntest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Hour})
	tg := newTarget(t, srv, fast(servicenow.Config{MaxRetryAfter: time.Minute}))
	_, err := find(tg, map[string]string{"u_ecc_id": "1"})
	if !errors.Is(err, servicenow.ErrRateLimited) || !strings.Contains(err.Error(), "retry after 1h0m0s") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Calls()); n != 1 {
		t.Errorf("%d attempts", n)
	}
}

func TestLostAnswerOfAnInsertIsReportedAsUnknown(t *testing.T) {
	for _, status := range []int{http.StatusBadGateway, http.StatusGatewayTimeout} {
		srv := sntest.NewServer(t, sntest.Options{})
		srv.Inject(sntest.Fault{Method: http.MethodPost, Status: status, AfterHandling: true})
		tg := newTarget(t, srv, fast(servicenow.Config{}))
		_, err := tg.Insert(context.Background(), "core_company", map[string]string{"u_ecc_id": "1"})
		if !errors.Is(err, loader.ErrOutcomeUnknown) {
			t.Fatalf("%d: err = %v", status, err)
		}
		if n := srv.CountCalls(http.MethodPost, ""); n != 1 {
			t.Errorf("%d: the insert was sent %d times; a POST whose outcome is unknown must not be resent blindly", status, n)
		}
	}
}

func TestUpdateIsRetriedOnGatewayErrors(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	id := srv.Seed("core_company", map[string]string{"u_ecc_id": "1"})
	srv.Inject(sntest.Fault{Method: http.MethodPatch, Status: http.StatusGatewayTimeout, AfterHandling: true})
	srv.Inject(sntest.Fault{Method: http.MethodPatch, Status: http.StatusBadGateway})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	rec, err := tg.Update(context.Background(), "core_company", id, map[string]string{"name": "New"})
	if err != nil || rec.Fields["name"] != "New" {
		t.Fatalf("Update: %v %v", rec, err)
	}
	if n := srv.CountCalls(http.MethodPatch, ""); n != 3 {
		t.Errorf("%d PATCHes, want 3", n)
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{Latency: 300 * time.Millisecond})
	tg := newTarget(t, srv, fast(servicenow.Config{Timeout: 50 * time.Millisecond, MaxRetries: 2}))
	_, err := find(tg, map[string]string{"u_ecc_id": "1"})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err = %v", err)
	}
	_, err = tg.Insert(context.Background(), "core_company", map[string]string{"u_ecc_id": "1"})
	if !errors.Is(err, loader.ErrOutcomeUnknown) {
		t.Fatalf("insert timeout: %v", err)
	}
}

func TestUnknownMatchFieldIsAnError(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Seed("core_company", map[string]string{"u_ecc_id": "1"})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	_, err := find(tg, map[string]string{"u_ecc_idd": "1"})
	if !errors.Is(err, servicenow.ErrUnknownField) {
		t.Fatalf("err = %v", err)
	}
}

func TestCaseVariantsArePagedPast(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	for _, n := range []string{"ACME", "acme", "AcMe", "aCME"} {
		srv.Seed("core_company", map[string]string{"name": n, "u_product": "AEM"})
	}
	want := srv.Seed("core_company", map[string]string{"name": "Acme", "u_product": "AEM"})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	recs, err := find(tg, map[string]string{"name": "Acme", "u_product": "AEM"})
	if err != nil || len(recs) != 1 || recs[0].ID != want {
		t.Fatalf("Find = %v, %v; want only %s", recs, err, want)
	}
	if n := srv.CountCalls(http.MethodGet, ""); n != 3 {
		t.Errorf("%d pages read, want 3", n)
	}
}

func TestRequestsAreShapedAsDocumented(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	plan := loadertest.ReferencePlan(3)
	res, err := loader.Apply(context.Background(), plan, tg, loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loader.Apply(context.Background(), plan, tg, loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()}); err != nil {
		t.Fatal(err)
	}
	checkNoViolations(t, srv)
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	for _, c := range srv.Calls() {
		q := c.Query
		if strings.HasPrefix(c.Path, "/api/now/table/") {
			if q.Get("sysparm_exclude_reference_link") != "true" {
				t.Errorf("%s %s without sysparm_exclude_reference_link=true", c.Method, c.Path)
			}
			if q.Get("sysparm_fields") == "" {
				t.Errorf("%s %s without sysparm_fields", c.Method, c.Path)
			}
		}
		if c.Method == http.MethodGet && strings.HasPrefix(c.Path, "/api/now/table/") && c.Table != "sys_choice" {
			if c.Table == "u_sales_skus" {
				if q.Get("sysparm_limit") != "7" || !strings.Contains(q.Get("sysparm_query"), "u_adobe_skuIN65300101,65300102,65300103") {
					t.Errorf("the SKUs were not found with one IN query: %v", q)
				}
			} else if q.Get("sysparm_limit") != "2" && c.Table != "problem" {
				t.Errorf("match of %s with sysparm_limit=%s, want 2", c.Table, q.Get("sysparm_limit"))
			}
			fields := strings.Split(q.Get("sysparm_fields"), ",")
			if len(fields) > 14 {
				t.Errorf("match of %s reads %d fields: %v", c.Table, len(fields), fields)
			}
		}
	}
}
