// Package queue runs the reference server's background work on River:
// riverpgxv5 on Postgres, riversqlite on the embedded SQLite default.
//
// Jobs are enqueued inside the Bun transaction that changes a record, so a
// state change and its job commit together or not at all. Bun speaks
// database/sql, so enqueuing goes through a database/sql River client
// (riverdatabasesql on Postgres, riversqlite on SQLite); on Postgres the
// workers run on a separate riverpgxv5 client over a pgx pool, which gets
// LISTEN/NOTIFY wake-ups. Both clients share River's tables, and River's
// locking makes each job run once however many processes work the queue.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Config says how the queue works.
type Config struct {
	// URL is the database URL the Bun database was opened with; on
	// Postgres the worker client opens its own pgx pool from it.
	URL string
	// Workers are the job kinds this process works; nil makes an
	// insert-only queue (CLI commands that only enqueue).
	Workers *river.Workers
	// PeriodicJobs run on the elected leader only.
	PeriodicJobs []*river.PeriodicJob
	// MaxWorkers is the default queue's concurrency (default 4).
	MaxWorkers int
	// JobTimeout bounds one job's run (default 10 minutes).
	JobTimeout time.Duration
	// FetchPollInterval is how often idle workers look for jobs when no
	// notification arrives (default 1s; SQLite relies on it).
	FetchPollInterval time.Duration
	Logger            *slog.Logger
}

// Queue enqueues and works jobs.
type Queue struct {
	db       *bun.DB
	inserter *river.Client[*sql.Tx]
	start    func(context.Context) error
	stop     func(context.Context) error
	close    func()
}

// Migrate creates or upgrades River's tables in the database of db.
func Migrate(ctx context.Context, db *bun.DB, url string) error {
	return bundb.WithLock(ctx, db, "river-migrations", func(ctx context.Context) error {
		var err error
		switch bundb.KindOf(db) {
		case bundb.Postgres:
			var m *rivermigrate.Migrator[*sql.Tx]
			if m, err = rivermigrate.New(riverdatabasesql.New(db.DB), nil); err == nil {
				_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
			}
		default:
			var m *rivermigrate.Migrator[*sql.Tx]
			if m, err = rivermigrate.New(riversqlite.New(db.DB), nil); err == nil {
				_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
			}
		}
		if err != nil {
			return fmt.Errorf("queue: migrating River's tables: %w", err)
		}
		return nil
	})
}

// New builds the queue; call Start to begin working jobs.
func New(ctx context.Context, db *bun.DB, cfg Config) (*Queue, error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 4
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 10 * time.Minute
	}
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	riverCfg := func(working bool) *river.Config {
		rc := &river.Config{Logger: cfg.Logger, JobTimeout: cfg.JobTimeout, FetchPollInterval: cfg.FetchPollInterval,
			FetchCooldown: min(100*time.Millisecond, cfg.FetchPollInterval),
			// A job whose process died is run again soon after its timeout
			// could have ended it (River's default is an hour); loads resume
			// from their journal.
			RescueStuckJobsAfter: cfg.JobTimeout + 5*time.Minute}
		if working && cfg.Workers != nil {
			rc.Workers = cfg.Workers
			rc.PeriodicJobs = cfg.PeriodicJobs
			rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
		}
		return rc
	}
	q := &Queue{db: db, start: func(context.Context) error { return nil }, stop: func(context.Context) error { return nil }, close: func() {}}
	switch bundb.KindOf(db) {
	case bundb.Postgres:
		ins, err := river.NewClient(riverdatabasesql.New(db.DB), riverCfg(false))
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		q.inserter = ins
		if cfg.Workers != nil {
			poolCfg, err := pgxpool.ParseConfig(cfg.URL)
			if err != nil {
				return nil, fmt.Errorf("queue: bad Postgres URL: %w", err)
			}
			pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
			if err != nil {
				return nil, fmt.Errorf("queue: connecting workers: %w", err)
			}
			worker, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), riverCfg(true))
			if err != nil {
				pool.Close()
				return nil, fmt.Errorf("queue: %w", err)
			}
			q.start, q.stop, q.close = worker.Start, worker.Stop, pool.Close
		}
	default:
		client, err := river.NewClient(riversqlite.New(db.DB), riverCfg(true))
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		q.inserter = client
		if cfg.Workers != nil {
			q.start, q.stop = client.Start, client.Stop
		}
	}
	return q, nil
}

// Start begins working jobs (a no-op for an insert-only queue).
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop waits for running jobs to finish, until ctx ends, then releases the
// queue's connections.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stop(ctx)
	q.close()
	return err
}

// InsertTx enqueues a job inside tx; it runs only if tx commits.
func (q *Queue) InsertTx(ctx context.Context, tx bun.Tx, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := q.inserter.InsertTx(ctx, tx.Tx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("queue: enqueuing %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// Insert enqueues a job on its own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := q.inserter.Insert(ctx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("queue: enqueuing %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

// LatestJob returns the newest job of kind carrying tag, or ErrNoJob.
func (q *Queue) LatestJob(ctx context.Context, kind, tag string) (*rivertype.JobRow, error) {
	res, err := q.inserter.JobList(ctx, river.NewJobListParams().Kinds(kind).TagsAll(tag).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1))
	if err != nil {
		return nil, fmt.Errorf("queue: listing %s jobs: %w", kind, err)
	}
	if len(res.Jobs) == 0 {
		return nil, ErrNoJob
	}
	return res.Jobs[0], nil
}

// ErrNoJob is returned by Job for an unknown id.
var ErrNoJob = errors.New("queue: no such job (finished jobs are kept for 24 hours)")

// Job returns the job with id.
func (q *Queue) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	j, err := q.inserter.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, ErrNoJob
	}
	return j, err
}
