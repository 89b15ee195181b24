package loader_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/memory"
)

// hangingInsert is a target whose inserts wait until their context ends
// (or 3s pass), telling started when the first one began.
type hangingInsert struct {
	*memory.Target
	started chan struct{}
	ended   chan error
}

func (h *hangingInsert) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	select {
	case h.started <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		h.ended <- ctx.Err()
		return loader.Record{}, ctx.Err()
	case <-time.After(3 * time.Second):
		h.ended <- nil
		return h.Target.Insert(ctx, table, fields)
	}
}

// A write already sent outlives the load's context by WriteGrace, not
// more: a run cut off by its time limit ends soon after, so another run
// started later never meets its writes.
func TestWriteGraceBoundsAWriteAfterTheLoadEnds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		ended bool // the write's context ends (within the test's bound)
	}{
		{"with a grace the write ends after it", 50 * time.Millisecond, true},
		{"without one the write runs on", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := &hangingInsert{Target: newTarget(t), started: make(chan struct{}, 1), ended: make(chan error, 16)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = loader.Apply(ctx, loadertest.ReferencePlan(1), tg, loader.Journal{}, loader.Options{WriteGrace: tc.grace, Concurrency: 1, Attachments: loadertest.ReferenceFiles()})
			}()
			select {
			case <-tg.started:
			case <-time.After(10 * time.Second):
				t.Fatal("no insert started")
			}
			cancel()
			select {
			case err := <-tg.ended:
				if !tc.ended {
					t.Fatalf("the write's context ended (%v) without a grace", err)
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("the write ended with %v, want its context cancelled", err)
				}
			case <-time.After(time.Second):
				if tc.ended {
					t.Fatal("the write still ran 1s after the load ended, with a grace of 50ms")
				}
			}
			<-done
		})
	}
}
