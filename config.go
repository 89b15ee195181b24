package bookbridge

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// Config holds the parts a Flow works with. The Flow does not open or close
// any of them: their owner does.
type Config struct {
	// Store is the staging store the Flow keeps records in. Required.
	Store *staging.Store

	// Parser parses PH emails. Default: phmail.NewParser() with its
	// default labels and limits.
	Parser *phmail.Parser

	// Rules are the compiled mapping rules plans are made with. Required.
	// They can be replaced while the Flow runs with [Flow.SetRules].
	Rules *mapping.Rules

	// Target is where loads write and previews look. Required.
	Target loader.Target

	// Queue is a River client over database/sql on the store's database
	// (riverdatabasesql on Postgres, riversqlite on SQLite). The Flow
	// enqueues its jobs with it inside the store's transactions. A client
	// that also works the jobs is built after the Flow (its workers come
	// from AddWorkers): pass it with Flow.UseQueue instead. Default: none;
	// then AcceptEmail and EnqueueLoad answer ErrNoQueue, and the caller
	// uses ProcessEmail and Load instead.
	Queue *river.Client[*sql.Tx]

	// MaxDealBytes is the largest deal body AcceptDeal decodes. Default:
	// sfdc.DefaultMaxBytes (6 MiB).
	MaxDealBytes int64

	// MaxDealRecords is the most records one list of a deal (its line
	// items, its sales team) may hold; AcceptDeal answers a longer list as
	// a validation problem without reading past the limit. Default:
	// sfdc.DefaultMaxRecords (5,000).
	MaxDealRecords int

	// Location is the time zone of business dates (the 30-day rule, due
	// dates): plans see the clock's time in it. Default: UTC.
	Location *time.Location

	// Now is the clock. Default: time.Now.
	Now func() time.Time

	// Logger receives the Flow's log lines. Default: slog.Default().
	Logger *slog.Logger

	// LoadRetry says how the load worker retries a load that failed for a
	// passing reason. Default: see LoadRetry's fields.
	LoadRetry LoadRetry

	// WriteGrace is how long a write already sent to the target may go on
	// after its load run ends (a shutdown, the job's time limit). Keep the
	// job timeout plus WriteGrace below River's RescueStuckJobsAfter, so
	// that a rescued run never meets a write of the run before it.
	// Default: 5 seconds.
	WriteGrace time.Duration

	// Hooks are told what the Flow did, for metrics. Default: none.
	Hooks Hooks
}

// LoadRetry is how the load worker (AddWorkers) retries a load whose
// target failed for a passing reason: unreachable, a timeout, 429, 502,
// 503 or 504 (loader.IsTransient). Each try resumes from the journal, so
// nothing is written twice. A permanent failure (401, 403, another 4xx, a
// plan that cannot be made, a record that changed) fails the load at once.
type LoadRetry struct {
	// Window is how long after the load was started it is retried; when
	// the next try would fall after it the load fails with the last
	// reason. Default: 24 hours.
	Window time.Duration
	// MinDelay is the wait before the first retry; each further retry
	// waits twice as long, with jitter, up to MaxDelay, and at least as
	// long as the target's Retry-After. Default: 2 seconds.
	MinDelay time.Duration
	// MaxDelay caps the wait between two tries. Default: 10 minutes.
	MaxDelay time.Duration
}

// Hooks are optional callbacks for counting what the Flow does. Each may
// be nil. They are called synchronously and must not block.
type Hooks struct {
	// Email is called once per processed email with its channel and
	// outcome: applied, waiting, needs_review, duplicate, quarantined,
	// not_ph, or error.
	Email func(channel, outcome string)
	// Load is called once per finished load or preview with its outcome
	// (loaded, unchanged, needs_review, failed, dry_run) and how long it
	// took.
	Load func(outcome string, took time.Duration)
}

// withDefaults returns a copy of c with every unset optional field set.
func (c Config) withDefaults() (Config, error) {
	if c.Parser == nil {
		p, err := phmail.NewParser()
		if err != nil {
			return c, fmt.Errorf("Config.Parser: the default parser: %w", err)
		}
		c.Parser = p
	}
	if c.MaxDealBytes <= 0 {
		c.MaxDealBytes = sfdc.DefaultMaxBytes
	}
	if c.MaxDealRecords <= 0 {
		c.MaxDealRecords = sfdc.DefaultMaxRecords
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.WriteGrace <= 0 {
		c.WriteGrace = 5 * time.Second
	}
	if c.LoadRetry.Window <= 0 {
		c.LoadRetry.Window = 24 * time.Hour
	}
	if c.LoadRetry.MinDelay <= 0 {
		c.LoadRetry.MinDelay = 2 * time.Second
	}
	if c.LoadRetry.MaxDelay <= 0 {
		c.LoadRetry.MaxDelay = 10 * time.Minute
	}
	c.LoadRetry.MaxDelay = max(c.LoadRetry.MaxDelay, c.LoadRetry.MinDelay)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// validate names every required field that is missing, in one error.
func (c *Config) validate() error {
	var missing []string
	if c.Store == nil {
		missing = append(missing, "Config.Store is nil: pass the staging store (staging.New on a database opened with staging/bundb)")
	}
	if c.Rules == nil {
		missing = append(missing, "Config.Rules is nil: pass compiled rules (mapping.Compile of a rule file, such as examples/mappings/reference.yaml)")
	}
	if c.Target == nil {
		missing = append(missing, "Config.Target is nil: pass a load target (loader/servicenow, loader/sqltarget or loader/memory)")
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("bookbridge: invalid config: " + strings.Join(missing, "; "))
}
