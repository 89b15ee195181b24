package staging

import (
	"context"
	"fmt"
)

// Close stops the store's background work and waits for it: after Close,
// Intake refuses deals with ErrClosed, and Close returns once the deals
// already handed to the Postgres batch writer are committed (or failed)
// and its connection is back in db's pool. When ctx ends first, Close
// returns ctx's error, saying what still runs; the work goes on (each
// batch is bounded by the store's transaction timeout), and a later Close
// waits for it again. Calling Close more than once is safe.
//
// Close does not close the *bun.DB: the caller owns it, and closes it
// after Close returned. The store's other methods run in the caller's
// goroutine and keep working while the database is open.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		b := &s.batcher
		b.mu.Lock()
		s.closed.Store(true) // under b.mu: no run starts after this
		b.mu.Unlock()
		s.stopped = make(chan struct{})
		go func() {
			s.runs.Wait()
			close(s.stopped)
		}()
	})
	select {
	case <-s.stopped:
		return nil // finished work wins over an ended ctx
	default:
	}
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		b := &s.batcher
		b.mu.Lock()
		queued, running := len(b.queue), b.running
		b.mu.Unlock()
		still := "the Postgres batch writer of new deals is returning its connection"
		if running {
			still = fmt.Sprintf("the Postgres batch writer of new deals is writing (%d deals queued for its next batch, besides those on their way)", queued)
		}
		return fmt.Errorf("staging: closing the store: %w; still running: %s; call Close again to wait for it", ctx.Err(), still)
	}
}
