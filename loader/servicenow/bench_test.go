package servicenow_test

import (
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

// benchConfig is the client used for the measurements: 16 requests in
// flight and 100 requests per second at most.
var benchConfig = servicenow.Config{MaxConcurrency: 16, RateLimit: 100}

// BenchmarkReferenceLoad50ms loads the reference plan (10 line items) into
// a fresh double that answers every request after 50 ms. ns/op is the wall
// time of one load.
func BenchmarkReferenceLoad50ms(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		srv := sntest.NewServer(b, sntest.Options{SeedChoices: true, Latency: 50 * time.Millisecond})
		tg := newTarget(b, srv, benchConfig)
		b.StartTimer()
		res, err := load(b, tg, loader.Journal{}, nil)
		if err != nil || res.Status != loader.StatusLoaded {
			b.Fatal(err, res.Summary())
		}
		b.ReportMetric(float64(len(srv.Calls())), "calls/op")
		b.ReportMetric(float64(res.Calls.Writes()), "writes/op")
		b.ReportMetric(float64(srv.MaxInFlight()), "max-in-flight")
	}
}

// BenchmarkReferenceReload50ms loads the reference plan into a double
// that already holds it: nothing is written.
func BenchmarkReferenceReload50ms(b *testing.B) {
	srv := sntest.NewServer(b, sntest.Options{SeedChoices: true, Latency: 50 * time.Millisecond})
	tg := newTarget(b, srv, benchConfig)
	if _, err := load(b, tg, loader.Journal{}, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		srv.ResetCalls()
		res, err := load(b, tg, loader.Journal{}, nil)
		if err != nil || res.Changed() {
			b.Fatal(err, res.Summary())
		}
		b.ReportMetric(float64(len(srv.Calls())), "calls/op")
		b.ReportMetric(float64(res.Calls.Writes()), "writes/op")
	}
}
