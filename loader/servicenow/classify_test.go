package servicenow_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

// TestErrorsSayWhetherTheyAreTransient makes each kind of failure happen
// against the double and classifies the error, as the Target returns it
// and as loader.Apply returns it for a load.
func TestErrorsSayWhetherTheyAreTransient(t *testing.T) {
	getFault := func(status int, retryAfter time.Duration) func(*sntest.Server) {
		return func(srv *sntest.Server) {
			srv.Inject(sntest.Fault{Method: http.MethodGet, Status: status, RetryAfter: retryAfter, Count: 100})
		}
	}
	for _, c := range []struct {
		name      string
		cfg       servicenow.Config
		fault     func(*sntest.Server)
		insert    bool
		transient bool
		after     time.Duration
		unknown   bool
	}{
		{name: "429 asking for longer than MaxRetryAfter", fault: getFault(http.StatusTooManyRequests, time.Hour), transient: true, after: time.Hour},
		{name: "502", fault: getFault(http.StatusBadGateway, 0), transient: true},
		{name: "503", fault: getFault(http.StatusServiceUnavailable, 0), transient: true},
		{name: "504", fault: getFault(http.StatusGatewayTimeout, 0), transient: true},
		{name: "500", fault: getFault(http.StatusInternalServerError, 0)},
		{name: "400", fault: getFault(http.StatusBadRequest, 0)},
		{name: "404", fault: getFault(http.StatusNotFound, 0)},
		{name: "401", cfg: servicenow.Config{Username: "bookbridge", Password: "wrong"}},
		{name: "403 for every call", fault: func(srv *sntest.Server) { srv.SetForbidden(true) }},
		{name: "connection refused", fault: func(srv *sntest.Server) { srv.Down() }, transient: true},
		{name: "timeout", cfg: servicenow.Config{Timeout: 20 * time.Millisecond}, fault: func(srv *sntest.Server) { srv.SetLatency(time.Minute) }, transient: true},
		{name: "insert whose answer is lost", insert: true, fault: func(srv *sntest.Server) {
			srv.Inject(sntest.Fault{Method: http.MethodPost, AfterHandling: true, CloseConnection: true, Count: 100})
		}, transient: true, unknown: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			check := func(t *testing.T, err error, unknown bool) {
				t.Helper()
				if err == nil {
					t.Fatal("no error")
				}
				if got := loader.IsTransient(err); got != c.transient {
					t.Errorf("IsTransient = %v, want %v: %v", got, c.transient, err)
				}
				// A call that waited behind another's 429 gets what is left
				// of the wait.
				if after, ok := loader.RetryAfter(err); after > c.after || after < c.after-time.Minute || ok != (c.after > 0) {
					t.Errorf("RetryAfter = %s, %v; want %s or a little less: %v", after, ok, c.after, err)
				}
				if got := errors.Is(err, loader.ErrOutcomeUnknown); got != unknown {
					t.Errorf("outcome unknown = %v, want %v: %v", got, unknown, err)
				}
			}
			cfg := fast(c.cfg)
			cfg.MaxRetries, cfg.MaxRetryAfter = 1, time.Minute
			t.Run("call", func(t *testing.T) {
				srv := sntest.NewServer(t, sntest.Options{})
				if c.fault != nil {
					c.fault(srv)
				}
				tg := newTarget(t, srv, cfg)
				var err error
				if c.insert {
					_, err = tg.Insert(context.Background(), "core_company", map[string]string{"u_ecc_id": "1"})
				} else {
					_, err = find(tg, map[string]string{"u_ecc_id": "1"})
				}
				check(t, err, c.unknown)
			})
			// A load looks for the record after a lost answer (see
			// TestLostAnswerOfEachWrite); the other failures end it.
			if c.insert {
				return
			}
			t.Run("load", func(t *testing.T) {
				srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
				if c.fault != nil {
					c.fault(srv)
				}
				res, err := loader.Apply(context.Background(), loadertest.ReferencePlan(1), newTarget(t, srv, cfg), loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()})
				if res != nil && res.Status != loader.StatusFailed {
					t.Errorf("status %s", res.Status)
				}
				var se *loader.StepError
				if !errors.As(err, &se) {
					t.Errorf("Apply's error is no *loader.StepError: %v", err)
				}
				check(t, err, false)
			})
		})
	}
}
