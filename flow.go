package bookbridge

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
)

// Flow runs bookbridge's flow on the parts of its Config. It is safe for
// concurrent use.
type Flow struct {
	cfg   Config
	rules atomic.Pointer[mapping.Rules]
	jobs  atomic.Pointer[river.Client[*sql.Tx]]
	log   *slog.Logger
}

// New checks cfg, fills in the defaults of its optional fields, and
// returns the Flow. The error names every required field that is missing.
func New(cfg Config) (*Flow, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Flow{cfg: cfg, log: cfg.Logger}
	f.rules.Store(cfg.Rules)
	if cfg.Queue != nil {
		f.jobs.Store(cfg.Queue)
	}
	return f, nil
}

// UseQueue sets the River client the Flow enqueues its jobs with, for a
// client built after the Flow: one client that both enqueues and works
// jobs needs the Flow's workers (AddWorkers) before it exists. Call it
// before the first AcceptEmail or EnqueueLoad; it replaces Config.Queue.
func (f *Flow) UseQueue(client *river.Client[*sql.Tx]) { f.jobs.Store(client) }

// queue returns the River client, or nil when there is none.
func (f *Flow) queue() *river.Client[*sql.Tx] { return f.jobs.Load() }

// ErrNoQueue is returned by the methods that enqueue jobs when the Config
// has no Queue.
var ErrNoQueue = errors.New("bookbridge: no job queue: set Config.Queue to a River client, or call ProcessEmail and Load directly")

// Store returns the staging store the Flow works on.
func (f *Flow) Store() *staging.Store { return f.cfg.Store }

// Target returns the load target.
func (f *Flow) Target() loader.Target { return f.cfg.Target }

// Parser returns the PH email parser.
func (f *Flow) Parser() *phmail.Parser { return f.cfg.Parser }

// Rules returns the mapping rules in use.
func (f *Flow) Rules() *mapping.Rules { return f.rules.Load() }

// SetRules puts rules in use for the plans made from now on. A load that
// has planned already keeps its plan (and resumes it after a crash).
func (f *Flow) SetRules(rules *mapping.Rules) {
	if rules != nil {
		f.rules.Store(rules)
	}
}

// Now returns the Flow's clock reading in its Location.
func (f *Flow) Now() time.Time { return f.cfg.Now().In(f.cfg.Location) }

// Migrate creates or upgrades the tables the Flow needs: the staging
// store's and the inbox of raw emails. Several processes may run it at
// once. River's own tables are migrated by the owner of the River client.
func (f *Flow) Migrate(ctx context.Context) error { return Migrate(ctx, f.cfg.Store) }

// Migrate creates or upgrades the tables a Flow on store needs, before the
// Flow exists (see Flow.Migrate).
func Migrate(ctx context.Context, store *staging.Store) error {
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	return migrateInbox(ctx, store.DB())
}

// FindRecord returns the record named by ref: its number (BB1000001) or
// its id. An unknown record is a *NotFoundError naming ref.
func (f *Flow) FindRecord(ctx context.Context, ref string) (*staging.Record, error) {
	var rec *staging.Record
	var err error
	if _, ok := staging.ParseNumber(ref); ok {
		rec, err = f.cfg.Store.GetByNumber(ctx, ref)
	} else if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
		rec, err = f.cfg.Store.Get(ctx, id)
	} else {
		err = staging.ErrNotFound
	}
	if errors.Is(err, staging.ErrNotFound) {
		return nil, &NotFoundError{What: "record", Ref: ref}
	}
	return rec, err
}

// NotFoundError says that something the caller named does not exist. It
// matches staging.ErrNotFound with errors.Is.
type NotFoundError struct {
	What string // record, job, inbox message
	Ref  string // as the caller named it
	Hint string // what the caller may do or know, if anything
}

func (e *NotFoundError) Error() string {
	msg := "no " + e.What + " " + e.Ref
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Is makes errors.Is(err, staging.ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == staging.ErrNotFound }
