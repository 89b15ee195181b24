package loader_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
)

// TestCrashAfterEachWriteThenResume interrupts the reference load at each
// of its writes in turn, in every way a write can go wrong, and checks
// that resuming from the journal the caller saved leaves exactly the
// tables of an uninterrupted load: nothing missing, nothing twice.
func TestCrashAfterEachWriteThenResume(t *testing.T) {
	plan := loadertest.ReferencePlan(10)
	cleanTarget := newTarget(t)
	clean := apply(t, cleanTarget, plan, loader.Journal{}, loader.Options{})
	want := canonical(cleanTarget)
	writes := clean.Calls.Writes()
	if writes != 14 {
		t.Fatalf("the clean load made %d writes, want 14", writes)
	}
	modes := []crashMode{crashAfter, crashBefore, unknownAfter, unknownBefore, "journal-save-fails"}
	for _, concurrency := range []int{1, 16} {
		for _, mode := range modes {
			for n := 1; n <= writes; n++ {
				t.Run(fmt.Sprintf("c%d/%s/write%d", concurrency, mode, n), func(t *testing.T) {
					ctx := context.Background()
					tg := newTarget(t)
					st := &store{}
					var target loader.Target = &faulty{Target: tg, mode: mode, at: n}
					if mode == "journal-save-fails" {
						target = tg
						st.failAt = n
					}
					opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: st.onWrite, Concurrency: concurrency}
					res, err := loader.Apply(ctx, plan, target, loader.Journal{}, opts)
					switch mode {
					case unknownAfter, unknownBefore:
						// The executor checks for the record and goes on.
						if err != nil || res.Status != loader.StatusLoaded {
							t.Fatalf("load with a lost answer: %v (%s)", err, outcomes(res))
						}
					default:
						if !errors.Is(err, errCrash) || res.Status != loader.StatusFailed {
							t.Fatalf("interrupted load: err %v, status %s", err, res.Status)
						}
						res, err = loader.Apply(ctx, plan, tg, st.journal(), opts)
						if err != nil || res.Status != loader.StatusLoaded {
							t.Fatalf("resume: %v (%s)", err, outcomes(res))
						}
					}
					if got := canonical(tg); got != want {
						t.Fatalf("tables after resume differ from an uninterrupted load:\n%s\nwant\n%s", got, want)
					}
					again := apply(t, tg, plan, loader.Journal{}, loader.Options{})
					if again.Changed() {
						t.Errorf("a further load still changes something: %s", outcomes(again))
					}
				})
			}
		}
	}
}

// TestResumeSkipsWhatTheJournalHolds checks that a resumed load neither
// looks up nor writes the steps and files its journal records, and that no
// write starts once a load has failed.
func TestResumeSkipsWhatTheJournalHolds(t *testing.T) {
	plan := loadertest.ReferencePlan(10)
	clean := newTarget(t)
	apply(t, clean, plan, loader.Journal{}, loader.Options{})
	tg := newTarget(t)
	counting := &faulty{Target: tg}
	st := &store{failAt: 4}
	opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: st.onWrite, Concurrency: 1}
	first, err := loader.Apply(context.Background(), plan, counting, loader.Journal{}, opts)
	if !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	saved := st.journal()
	// The fourth save failed; a write already under way when it did may
	// have completed and been saved, nothing after it.
	if w := counting.writes; w < 4 || w > 5 || len(saved.Writes) != w && len(saved.Writes) != 3 {
		t.Fatalf("%d writes made, %d saved", w, len(saved.Writes))
	}
	notRun := first.Count(loader.Skipped)
	if notRun == 0 {
		t.Errorf("no step was left undone after the failure: %s", outcomes(first))
	}
	st.failAt = 0
	res, err := loader.Apply(context.Background(), plan, tg, saved, opts)
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for _, s := range res.Steps {
		if s.Resumed {
			resumed++
			if _, ok := saved.Steps[s.ID]; !ok {
				t.Errorf("%s resumed but not in the journal", s.ID)
			}
		}
	}
	if resumed != len(saved.Steps) {
		t.Errorf("%d steps resumed from the journal, want %d: %s", resumed, len(saved.Steps), outcomes(res))
	}
	if got, want := res.Calls.Writes(), 14-counting.writes; got != want {
		t.Errorf("resume made %d writes, want %d: %+v", got, want, res.Calls)
	}
	if canonical(tg) != canonical(clean) {
		t.Error("tables differ from an uninterrupted load")
	}
}

// TestSlowFailedSaveStopsLaterWrites checks that a journal save that fails
// only after a while still stops the writes after it: a write starts only
// once the saves of the writes before it are done, however the goroutines
// are scheduled. (A save that failed late let every other write through.)
func TestSlowFailedSaveStopsLaterWrites(t *testing.T) {
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprintf("c%d", concurrency), func(t *testing.T) {
			plan := loadertest.ReferencePlan(10)
			counting := &faulty{Target: newTarget(t)}
			st := &store{failAt: 4}
			var saves atomic.Int32
			opts := loader.Options{Attachments: loadertest.ReferenceFiles(), Concurrency: concurrency,
				OnWrite: func(ctx context.Context, j loader.Journal) error {
					if saves.Add(1) == 4 {
						time.Sleep(50 * time.Millisecond) // the failing save is slow
					}
					return st.onWrite(ctx, j)
				}}
			_, err := loader.Apply(context.Background(), plan, counting, loader.Journal{}, opts)
			if !errors.Is(err, errCrash) {
				t.Fatalf("err = %v", err)
			}
			counting.mu.Lock()
			w := counting.writes
			counting.mu.Unlock()
			// Writes already under way beside the fourth may complete.
			if w < 4 || w > 3+concurrency {
				t.Errorf("%d writes made with the fourth save failing, want 4 to %d", w, 3+concurrency)
			}
			// Alone, the fourth write is the last and unsaved; beside
			// others, those that completed may still be saved.
			if n := len(st.journal().Writes); concurrency == 1 && n != 3 || n > w {
				t.Errorf("%d writes saved of %d made", n, w)
			}
		})
	}
}

// cancelAfter cancels the load's context once n writes have completed.
type cancelAfter struct {
	loader.Target
	n      int
	cancel context.CancelFunc
	mu     sync.Mutex
	writes int
}

func (c *cancelAfter) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	rec, err := c.Target.Insert(ctx, table, fields)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes++; c.writes == c.n {
		c.cancel()
	}
	return rec, err
}

func TestCancelledLoadResumes(t *testing.T) {
	plan := loadertest.ReferencePlan(10)
	clean := newTarget(t)
	apply(t, clean, plan, loader.Journal{}, loader.Options{})
	tg := newTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &store{}
	opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: st.onWrite}
	res, err := loader.Apply(ctx, plan, &cancelAfter{Target: tg, n: 3, cancel: cancel}, loader.Journal{}, opts)
	if !errors.Is(err, context.Canceled) || res.Status != loader.StatusFailed {
		t.Fatalf("err %v status %s", err, res.Status)
	}
	// The write that completed as the context went away was still saved.
	if len(st.journal().Writes) < 3 {
		t.Errorf("saved journal has %d writes, want at least 3", len(st.journal().Writes))
	}
	res, err = loader.Apply(context.Background(), plan, tg, st.journal(), opts)
	if err != nil || res.Status != loader.StatusLoaded {
		t.Fatalf("resume: %v %s", err, res.Summary())
	}
	if canonical(tg) != canonical(clean) {
		t.Error("tables differ from an uninterrupted load")
	}
}

// cancelDuring cancels the load's context while its first insert is under
// way, and records whether that insert's own context was cut off.
type cancelDuring struct {
	loader.Target
	cancel context.CancelFunc
	mu     sync.Mutex
	calls  int
	cut    bool
}

func (c *cancelDuring) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	c.mu.Lock()
	c.calls++
	first := c.calls == 1
	c.mu.Unlock()
	if first {
		c.cancel()
		c.mu.Lock()
		c.cut = ctx.Err() != nil
		c.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		// A client cut off mid-request: the outcome is unknown to the
		// loader, though the target may have stored the record.
		return loader.Record{}, err
	}
	return c.Target.Insert(ctx, table, fields)
}

// TestWriteUnderWayOutlivesCancel checks that a write already sent when the
// load's context ends completes and is journaled, and that no write starts
// after that.
func TestWriteUnderWayOutlivesCancel(t *testing.T) {
	plan := loadertest.ReferencePlan(10)
	tg := newTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &store{}
	target := &cancelDuring{Target: tg, cancel: cancel}
	opts := loader.Options{Attachments: loadertest.ReferenceFiles(), OnWrite: st.onWrite, Concurrency: 1}
	res, err := loader.Apply(ctx, plan, target, loader.Journal{}, opts)
	if !errors.Is(err, context.Canceled) || res.Status != loader.StatusFailed {
		t.Fatalf("err %v status %s", err, res.Status)
	}
	if target.cut {
		t.Error("the insert under way was cut off when the load's context ended")
	}
	if target.calls != 1 {
		t.Errorf("%d inserts reached the target, want only the one under way", target.calls)
	}
	if n := len(st.journal().Writes); n != 1 {
		t.Errorf("saved journal has %d writes, want the 1 that completed", n)
	}
}
