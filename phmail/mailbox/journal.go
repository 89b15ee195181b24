package mailbox

import (
	"context"
	"sync"
)

// Outcomes recorded in a Journal.
const (
	OutcomeProcessed   = "processed"
	OutcomeQuarantined = "quarantined"
)

// Journal remembers what became of a message, by MessageKey, so that the
// IMAP poller does not hand a message over again after a crash or a lost
// connection between handling and moving it. A durable implementation
// belongs to the store that the handler writes to.
type Journal interface {
	// Outcome returns the recorded outcome for key, or "" when none.
	Outcome(ctx context.Context, key string) (string, error)
	// Record stores the outcome for key.
	Record(ctx context.Context, key, outcome string) error
}

// MemoryJournal is a Journal in memory: it covers reconnects within one
// process, not restarts.
type MemoryJournal struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemoryJournal returns an empty MemoryJournal.
func NewMemoryJournal() *MemoryJournal { return &MemoryJournal{m: map[string]string{}} }

// Outcome implements Journal.
func (j *MemoryJournal) Outcome(_ context.Context, key string) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.m[key], nil
}

// Record implements Journal.
func (j *MemoryJournal) Record(_ context.Context, key, outcome string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m[key] = outcome
	return nil
}
