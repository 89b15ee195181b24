package servicenow

import "time"

// PausedUntil is when the Target's gate lets the next call go (zero when
// no Retry-After holds it), for tests that must wait for a 429 to reach
// the client.
func (t *Target) PausedUntil() time.Time {
	g := t.c.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}
