package loader_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
)

// newTarget returns a memory target with the reference schema and the
// demo's block-number choices.
func newTarget(t *testing.T) *memory.Target {
	t.Helper()
	tg := memory.New(memory.Options{Tables: refschema.Tables()})
	for _, c := range refschema.BlockNumberChoices() {
		tg.Seed("sys_choice", c)
	}
	return tg
}

func canonical(tg *memory.Target) string {
	dump := tg.Dump()
	files := map[string][]loader.AttachmentInfo{}
	for table, recs := range dump {
		for _, r := range recs {
			files[r.ID] = tg.Files(table, r.ID)
		}
	}
	return loadertest.Canonical(dump, files)
}

var errCrash = errors.New("injected crash")

// crashMode says where a fault hits a write.
type crashMode string

const (
	// crashAfter: the write takes effect, then the caller gets an error
	// (the process died before it could record the write).
	crashAfter crashMode = "after-write"
	// crashBefore: the write fails and does not take effect.
	crashBefore crashMode = "failed-call"
	// unknownAfter: the write takes effect, the answer is lost.
	unknownAfter crashMode = "unknown-after-write"
	// unknownBefore: the write does not take effect, the answer is lost.
	unknownBefore crashMode = "unknown-before-write"
)

// faulty wraps a target and injects a fault into its n-th write (1-based).
type faulty struct {
	loader.Target
	mode crashMode
	at   int

	mu     sync.Mutex
	writes int
	// inFlight and maxInFlight measure how many calls overlap.
	inFlight, maxInFlight int
}

func (f *faulty) enter() func() {
	f.mu.Lock()
	f.inFlight++
	if f.inFlight > f.maxInFlight {
		f.maxInFlight = f.inFlight
	}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}
}

// write runs one write through the fault plan.
func (f *faulty) write(do func() error) error {
	f.mu.Lock()
	f.writes++
	n := f.writes
	f.mu.Unlock()
	if f.at == 0 || n != f.at {
		return do()
	}
	switch f.mode {
	case crashBefore:
		return fmt.Errorf("write %d: %w", n, errCrash)
	case unknownBefore:
		return fmt.Errorf("write %d: timeout: %w", n, loader.ErrOutcomeUnknown)
	case unknownAfter:
		if err := do(); err != nil {
			return err
		}
		return fmt.Errorf("write %d: timeout after sending: %w", n, loader.ErrOutcomeUnknown)
	default:
		if err := do(); err != nil {
			return err
		}
		return fmt.Errorf("write %d: %w", n, errCrash)
	}
}

func (f *faulty) Find(ctx context.Context, q loader.Query) ([]loader.Record, error) {
	defer f.enter()()
	return f.Target.Find(ctx, q)
}

func (f *faulty) Insert(ctx context.Context, table string, fields map[string]string) (rec loader.Record, err error) {
	defer f.enter()()
	err = f.write(func() (err error) {
		rec, err = f.Target.Insert(ctx, table, fields)
		return err
	})
	return rec, err
}

func (f *faulty) Update(ctx context.Context, table, id string, fields map[string]string) (rec loader.Record, err error) {
	defer f.enter()()
	err = f.write(func() (err error) {
		rec, err = f.Target.Update(ctx, table, id, fields)
		return err
	})
	return rec, err
}

func (f *faulty) Attach(ctx context.Context, table, id string, file loader.File) (info loader.AttachmentInfo, err error) {
	defer f.enter()()
	err = f.write(func() (err error) {
		info, err = f.Target.Attach(ctx, table, id, file)
		return err
	})
	return info, err
}

func (f *faulty) Attachments(ctx context.Context, table, id string) ([]loader.AttachmentInfo, error) {
	defer f.enter()()
	return f.Target.Attachments(ctx, table, id)
}

// store keeps the last journal OnWrite saved, like the staging store, and
// can fail the save number failAt (1-based).
type store struct {
	mu     sync.Mutex
	saved  loader.Journal
	saves  int
	failAt int
}

func (s *store) onWrite(_ context.Context, j loader.Journal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.failAt > 0 && s.saves == s.failAt {
		return fmt.Errorf("save %d: %w", s.saves, errCrash)
	}
	s.saved = j
	return nil
}

func (s *store) journal() loader.Journal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved.Clone()
}

var idPattern = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// scrubIDs replaces generated ids so snapshots do not depend on them.
func scrubIDs(s string) string { return idPattern.ReplaceAllString(s, "<id>") }
