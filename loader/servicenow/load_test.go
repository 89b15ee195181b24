package servicenow_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

func canonical(srv *sntest.Server) string {
	dump := srv.Dump()
	delete(dump, "sys_choice")
	return loadertest.Canonical(dump, srv.Files())
}

func load(t testing.TB, tg loader.Target, j loader.Journal, onWrite func(context.Context, loader.Journal) error) (*loader.Result, error) {
	t.Helper()
	return loader.Apply(context.Background(), loadertest.ReferencePlan(10), tg, j, loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: onWrite})
}

func TestReferenceLoadTwiceAgainstTheDouble(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	tg := newTarget(t, srv, fast(servicenow.Config{MaxConcurrency: 16}))
	first, err := load(t, tg, loader.Journal{}, nil)
	if err != nil || first.Status != loader.StatusLoaded {
		t.Fatalf("first load: %v %s", err, first.Status)
	}
	// 1 lookup + 1 company match + 13 inserts + 1 upload.
	if n := len(srv.Calls()); n != 16 {
		t.Errorf("first load: %d calls, want 16", n)
	}
	after := canonical(srv)
	srv.ResetCalls()
	second, err := load(t, tg, loader.Journal{}, nil)
	if err != nil || second.Changed() || second.Status != loader.StatusLoaded {
		t.Fatalf("second load: %v changed=%v %s", err, second.Changed(), second.Summary())
	}
	if n := srv.CountCalls(http.MethodPost, "") + srv.CountCalls(http.MethodPatch, ""); n != 0 {
		t.Errorf("second load wrote %d times", n)
	}
	// 1 lookup + company, finance, sales order, all SKUs in one query + 1 listing of files.
	if n := len(srv.Calls()); n != 6 {
		t.Errorf("second load: %d calls, want 6", n)
	}
	if got := canonical(srv); got != after {
		t.Errorf("tables changed:\n%s\nwant\n%s", got, after)
	}
	checkNoViolations(t, srv)
}

// TestLostAnswerOfEachWrite lets each write of the reference load take
// effect and then loses its answer, by a 504 from the gateway or by the
// connection closing: the load checks for the record or file and goes
// on, writing each row once.
func TestLostAnswerOfEachWrite(t *testing.T) {
	clean := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	if _, err := load(t, newTarget(t, clean, fast(servicenow.Config{})), loader.Journal{}, nil); err != nil {
		t.Fatal(err)
	}
	want, wantWrites := canonical(clean), clean.Stats().Writes
	for _, lost := range []struct {
		name    string
		fault   sntest.Fault
		dropped int
	}{
		{"gateway timeout", sntest.Fault{Method: http.MethodPost, Status: http.StatusGatewayTimeout, AfterHandling: true}, 0},
		{"connection closed", sntest.Fault{Method: http.MethodPost, AfterHandling: true, CloseConnection: true}, 1},
	} {
		for n := range 14 {
			t.Run(fmt.Sprintf("%s/write%d", lost.name, n+1), func(t *testing.T) {
				srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
				f := lost.fault
				f.Skip = n
				srv.Inject(f)
				res, err := load(t, newTarget(t, srv, fast(servicenow.Config{MaxConcurrency: 1})), loader.Journal{}, nil)
				if err != nil || res.Status != loader.StatusLoaded {
					t.Fatalf("%v %s", err, res.Summary())
				}
				if got := canonical(srv); got != want {
					t.Fatalf("tables:\n%s\nwant\n%s", got, want)
				}
				st := srv.Stats()
				if !maps.Equal(st.Writes, wantWrites) {
					t.Errorf("writes per table %v, want %v (each row written once)", st.Writes, wantWrites)
				}
				if st.Dropped != lost.dropped {
					t.Errorf("%d connections closed without an answer, want %d", st.Dropped, lost.dropped)
				}
			})
		}
	}
}

// TestOutageThenRestore takes the instance down: a load fails with a
// transient error and writes nothing; once the instance listens again on
// the same port, the same load (its journal resumed) completes, and a
// third finds nothing to change.
func TestOutageThenRestore(t *testing.T) {
	clean := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	if _, err := load(t, newTarget(t, clean, fast(servicenow.Config{})), loader.Journal{}, nil); err != nil {
		t.Fatal(err)
	}
	want := canonical(clean)
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	tg := newTarget(t, srv, fast(servicenow.Config{}))
	var saved loader.Journal
	save := func(_ context.Context, j loader.Journal) error { saved = j; return nil }
	srv.Down()
	res, err := load(t, tg, saved, save)
	if err == nil || res.Status != loader.StatusFailed || !loader.IsTransient(err) {
		t.Fatalf("load during the outage: %v (transient %v)", err, loader.IsTransient(err))
	}
	if err := srv.Up(); err != nil {
		t.Fatal(err)
	}
	if res, err := load(t, tg, saved, save); err != nil || res.Status != loader.StatusLoaded {
		t.Fatalf("load after restore: %v", err)
	}
	if got := canonical(srv); got != want {
		t.Fatalf("tables:\n%s\nwant\n%s", got, want)
	}
	if res, err := load(t, tg, loader.Journal{}, nil); err != nil || res.Changed() {
		t.Fatalf("a third load changed something: %v %s", err, res.Summary())
	}
}

// TestCrashAfterEachWriteThenResume stops the reference load after each
// write in turn, before the journal is saved, and resumes it.
func TestCrashAfterEachWriteThenResume(t *testing.T) {
	clean := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	if _, err := load(t, newTarget(t, clean, fast(servicenow.Config{})), loader.Journal{}, nil); err != nil {
		t.Fatal(err)
	}
	want := canonical(clean)
	crash := errors.New("crash before the journal was saved")
	for n := 1; n <= 14; n++ {
		t.Run(fmt.Sprintf("write%d", n), func(t *testing.T) {
			srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
			tg := newTarget(t, srv, fast(servicenow.Config{}))
			var saved loader.Journal
			saves := 0
			_, err := load(t, tg, loader.Journal{}, func(_ context.Context, j loader.Journal) error {
				saves++
				if saves == n {
					return crash
				}
				saved = j
				return nil
			})
			if !errors.Is(err, crash) {
				t.Fatalf("err = %v", err)
			}
			res, err := load(t, tg, saved, nil)
			if err != nil || res.Status != loader.StatusLoaded {
				t.Fatalf("resume: %v %s", err, res.Summary())
			}
			if got := canonical(srv); got != want {
				t.Fatalf("tables:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestStormsDuringALoad(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{SeedChoices: true})
	srv.Inject(sntest.Fault{Method: http.MethodPost, PathPrefix: "/api/now/table/u_sales_skus", Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 3})
	srv.Inject(sntest.Fault{Method: http.MethodPost, PathPrefix: "/api/now/attachment", Status: http.StatusServiceUnavailable, Count: 2})
	srv.Inject(sntest.Fault{Method: http.MethodGet, Status: http.StatusBadGateway, Count: 2})
	res, err := load(t, newTarget(t, srv, fast(servicenow.Config{MaxConcurrency: 16})), loader.Journal{}, nil)
	if err != nil || res.Status != loader.StatusLoaded {
		t.Fatalf("%v %s", err, res.Summary())
	}
	if n := len(srv.Dump()["u_sales_skus"]); n != 10 {
		t.Errorf("%d SKUs, want 10", n)
	}
	var limited []time.Time
	for _, c := range srv.Calls() {
		if c.Status == http.StatusTooManyRequests {
			limited = append(limited, c.At)
		}
	}
	if len(limited) != 3 {
		t.Fatalf("%d 429 answers", len(limited))
	}
	// Every SKU insert that got a 429 was sent again no earlier than one
	// second later: the last SKU insert follows the first 429 by at least
	// Retry-After.
	var lastSKU time.Time
	for _, c := range srv.Calls() {
		if c.Method == http.MethodPost && c.Table == "u_sales_skus" && c.Status == http.StatusCreated {
			lastSKU = c.At
		}
	}
	if gap := lastSKU.Sub(limited[0]); gap < time.Second {
		t.Errorf("a rate-limited insert was retried %s after the 429", gap)
	}
}
