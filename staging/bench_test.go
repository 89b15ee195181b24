package staging_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// BenchmarkIntake measures staging throughput of the full example deal
// (examples/payloads/deal-full.json, 12 line items) on both engines, from
// one goroutine and from 8. Every iteration stages a new deal (its own
// Salesforce id and ECC id), as a stream of Closed Booked deals would; the
// payload bytes are the example's. Decoding is not included (see
// sfdc.BenchmarkDecodeValidate).
//
//	go test ./staging -run '^$' -bench Intake -benchtime 2000x
func BenchmarkIntake(b *testing.B) {
	base := deal(b, nil)
	engines := []struct {
		name string
		open func(testing.TB) *bun.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}}
	for _, eng := range engines {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", eng.name, workers), func(b *testing.B) {
				s, _ := newStore(b, eng.open(b))
				ctx := context.Background()
				var seq atomic.Int64
				next := func() staging.Payload {
					n := seq.Add(1)
					p := base
					p.SalesforceID = fmt.Sprintf("006Bn%013d", n)
					p.Keys.ECCID = fmt.Sprintf("B%09d", n)
					p.Keys.OpportunityID = p.SalesforceID
					return p
				}
				b.SetBytes(int64(len(base.Raw)))
				b.ResetTimer()
				var wg sync.WaitGroup
				var failed atomic.Value
				per := b.N / workers
				for w := range workers {
					count := per
					if w == 0 {
						count += b.N % workers
					}
					wg.Go(func() {
						for range count {
							res, err := s.Intake(ctx, next())
							if err == nil && res.Outcome != staging.IntakeCreated {
								err = fmt.Errorf("outcome %s", res.Outcome)
							}
							if err != nil {
								failed.CompareAndSwap(nil, err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
