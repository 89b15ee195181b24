package loader_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

// classified is a target's error that says whether it is transient.
type classified struct {
	transient bool
	after     time.Duration
}

func (c classified) Error() string                 { return fmt.Sprintf("classified(%v, %s)", c.transient, c.after) }
func (c classified) Transient() bool               { return c.transient }
func (c classified) RetryAfterHint() time.Duration { return c.after }

func TestIsTransientAndRetryAfter(t *testing.T) {
	busy := classified{transient: true, after: 3 * time.Second}
	down := classified{transient: true}
	denied := classified{transient: false}
	for _, c := range []struct {
		name      string
		err       error
		transient bool
		after     time.Duration
		hasAfter  bool
	}{
		{"nil", nil, false, 0, false},
		{"unclassified", errors.New("boom"), false, 0, false},
		{"cancelled context", context.Canceled, false, 0, false},
		{"loader condition", loader.ErrInvalidPlan, false, 0, false},
		{"transient", down, true, 0, false},
		{"transient with a wait", busy, true, 3 * time.Second, true},
		{"permanent", denied, false, 0, false},
		{"wrapped by a step error", &loader.StepError{Step: "company", Op: "insert", Err: fmt.Errorf("x: %w", busy)}, true, 3 * time.Second, true},
		{"joined transient and permanent", errors.Join(down, denied), false, 0, false},
		{"two waits: the longest", fmt.Errorf("%w; %w", busy, classified{transient: true, after: time.Minute}), true, time.Minute, true},
		{"outcome unknown over a transient cause", fmt.Errorf("%w: %w", loader.ErrOutcomeUnknown, down), true, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loader.IsTransient(c.err); got != c.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.transient)
			}
			after, ok := loader.RetryAfter(c.err)
			if after != c.after || ok != c.hasAfter {
				t.Errorf("RetryAfter(%v) = %s, %v; want %s, %v", c.err, after, ok, c.after, c.hasAfter)
			}
		})
	}
}
