package servicenow_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

// companyPlan is the reference plan's company step alone, for the
// company with ECC id n: a load of it makes three calls on an empty
// instance (the block-number lookup, the match, the insert).
func companyPlan(n int) *loader.Plan {
	p := loadertest.ReferencePlan(0)
	p.Record = fmt.Sprintf("BB%07d", n)
	p.Steps = p.Steps[:1]
	p.Steps[0].Match = map[string]loader.Value{"u_ecc_id": loader.Lit(fmt.Sprintf("%010d", n)), "u_product": loader.Lit("AEM")}
	return p
}

// storm is the outcome of many loads at once through one Target against
// an instance that allows perSecond calls per second.
type storm struct {
	loads, loaded, calls, limited, companies int
	rate                                     float64
}

// runStorm starts loads concurrent loads of companyPlan through one
// Target configured like the reference server (10 calls/s, 4 in flight)
// against a double limited to perSecond calls per second.
func runStorm(t testing.TB, loads, perSecond int) storm {
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	srv.SetRateLimit(perSecond)
	tg := newTarget(t, srv, servicenow.Config{RateLimit: 10, MaxConcurrency: 4, InitialBackoff: 50 * time.Millisecond})
	results := make([]*loader.Result, loads)
	errs := make([]error, loads)
	var wg sync.WaitGroup
	for i := range loads {
		wg.Go(func() {
			results[i], errs[i] = loader.Apply(context.Background(), companyPlan(i), tg, loader.Journal{}, loader.Options{})
		})
	}
	wg.Wait()
	out := storm{loads: loads, rate: tg.CurrentRate(), companies: len(srv.Dump()["core_company"])}
	for i := range loads {
		if errs[i] == nil && results[i].Status == loader.StatusLoaded {
			out.loaded++
		} else {
			t.Errorf("load %d: %v", i, errs[i])
		}
	}
	st := srv.Stats()
	out.calls, out.limited = st.Calls, st.RateLimited
	return out
}

// TestLoadsShareOneGate runs 17 loads at once against an instance that
// allows 2 calls per second: every load completes, and the shared gate
// keeps the 429s to a fifth of the calls at most.
func TestLoadsShareOneGate(t *testing.T) {
	t.Parallel()
	const loads, perSecond = 17, 2
	s := runStorm(t, loads, perSecond)
	t.Logf("storm: %d loads at once, instance limit %d/s: %d loaded, %d calls, %d answered 429, rate at the end %.2f/s",
		s.loads, perSecond, s.loaded, s.calls, s.limited, s.rate)
	if s.loaded != loads || s.companies != loads {
		t.Errorf("%d of %d loads loaded, %d companies", s.loaded, loads, s.companies)
	}
	if s.limited*5 > s.calls {
		t.Errorf("%d of %d calls answered 429, more than a fifth", s.limited, s.calls)
	}
	if s.rate >= 10 {
		t.Errorf("rate %.2f/s after 429s, want it below the configured 10/s", s.rate)
	}
}

// BenchmarkStorm reports the calls and 429s of TestLoadsShareOneGate's
// scenario: go test ./loader/servicenow -run '^$' -bench Storm -benchtime 1x
func BenchmarkStorm(b *testing.B) {
	for b.Loop() {
		s := runStorm(b, 17, 2)
		b.ReportMetric(float64(s.calls), "calls/op")
		b.ReportMetric(float64(s.limited), "429s/op")
		b.ReportMetric(float64(s.loaded), "loaded/op")
	}
}

// TestRetryAfterHoldsEveryCall lets one call get a 429 with Retry-After:
// 1, then starts other calls from other goroutines: none reaches the
// instance before the second has passed, and none counts the wait as a
// try (MaxRetries is -1: no retries at all).
func TestRetryAfterHoldsEveryCall(t *testing.T) {
	t.Parallel()
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Seed("core_company", map[string]string{"u_ecc_id": "1", "name": "Acme"})
	srv.Inject(sntest.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	tg := newTarget(t, srv, fast(servicenow.Config{MaxRetries: -1}))
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	wg.Go(func() {
		_, err := find(tg, map[string]string{"u_ecc_id": "1"})
		errs <- err
	})
	// The double counts the 429 before its answer reaches the client: wait
	// until the client's gate holds the calls (bounded).
	for deadline := time.Now().Add(10 * time.Second); tg.PausedUntil().IsZero(); {
		if time.Now().After(deadline) {
			t.Fatal("the 429 did not pause the gate within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	for range 5 {
		wg.Go(func() {
			_, err := find(tg, map[string]string{"u_ecc_id": "1"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call failed: %v", err)
		}
	}
	calls := srv.Calls()
	if len(calls) != 7 || calls[0].Status != http.StatusTooManyRequests {
		t.Fatalf("%d calls, the first %d; want 7, the first 429", len(calls), calls[0].Status)
	}
	for i, c := range calls[1:] {
		if gap := c.At.Sub(calls[0].At); gap < time.Second || c.Status != http.StatusOK {
			t.Errorf("call %d came %s after the 429 with Retry-After: 1 and got %d", i+2, gap, c.Status)
		}
	}
}

// TestRateRecoversAfter429sStop cuts the rate with three 429s in a row,
// then lets calls through: the rate climbs back step by step to the
// configured limit and stays there.
func TestRateRecoversAfter429sStop(t *testing.T) {
	t.Parallel()
	const limit = 200.0
	srv := sntest.NewServer(t, sntest.Options{})
	srv.Seed("core_company", map[string]string{"u_ecc_id": "1"})
	srv.Inject(sntest.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, Count: 3})
	cfg := fast(servicenow.Config{})
	cfg.RateLimit, cfg.Burst = limit, 1
	tg := newTarget(t, srv, cfg)
	if got := tg.CurrentRate(); got != limit {
		t.Fatalf("rate before any call %v, want %v", got, limit)
	}
	if _, err := find(tg, map[string]string{"u_ecc_id": "1"}); err != nil {
		t.Fatal(err)
	}
	if got, want := tg.CurrentRate(), limit/8; got != want {
		t.Fatalf("rate after three 429s in a row %v, want %v", got, want)
	}
	prev := tg.CurrentRate()
	calls := 0
	for ; calls < 400 && tg.CurrentRate() < limit; calls++ {
		if _, err := find(tg, map[string]string{"u_ecc_id": "1"}); err != nil {
			t.Fatal(err)
		}
		if r := tg.CurrentRate(); r < prev {
			t.Fatalf("rate fell from %v to %v without a 429", prev, r)
		} else {
			prev = r
		}
	}
	if got := tg.CurrentRate(); got != limit {
		t.Fatalf("rate %v after %d calls without a 429, want back at %v", got, calls, limit)
	}
	if calls < 10 {
		t.Errorf("the rate recovered after %d calls: it should climb gradually", calls)
	}
}
