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
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Config says how the queue works.
type Config struct {
	// URL is the database URL the Bun database was opened with; on
	// Postgres the worker client opens its own pgx pool from it.
	URL string
	// MaxWorkers is the default queue's concurrency (default 4).
	MaxWorkers int
	// JobTimeout bounds one job's run (default 20 seconds): a longer load
	// goes on from its journal in the next run.
	JobTimeout time.Duration
	// RescueAfter is how long a job may run before it is taken to be
	// from a process that died and is run again; more than JobTimeout
	// (default JobTimeout + 5s).
	RescueAfter time.Duration
	// FetchPollInterval is how often idle workers look for jobs when no
	// notification arrives (default 1s; SQLite relies on it).
	FetchPollInterval time.Duration
	Logger            *slog.Logger
}

// Queue enqueues and works jobs.
type Queue struct {
	db       *bun.DB
	cfg      Config
	inserter *river.Client[*sql.Tx]
	start    func(context.Context) error
	stop     func(context.Context) error
	close    func()
}

// Migrate creates or upgrades River's tables in the database of db.
func Migrate(ctx context.Context, db *bun.DB) error { return bookbridge.MigrateRiver(ctx, db) }

// New builds an insert-only queue: jobs are enqueued inside Bun
// transactions through Client. Work makes the process work them too.
func New(ctx context.Context, db *bun.DB, cfg Config) (*Queue, error) {
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 4
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 20 * time.Second
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		cfg.RescueAfter = cfg.JobTimeout + 5*time.Second
	}
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &Queue{db: db, cfg: cfg, start: func(context.Context) error { return nil }, stop: func(context.Context) error { return nil }, close: func() {}}
	var err error
	if q.inserter, err = bookbridge.NewRiverClient(db, q.riverConfig(nil, nil)); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return q, nil
}

// riverConfig is River's configuration for a client of this queue; with
// workers it works the default queue.
func (q *Queue) riverConfig(workers *river.Workers, periodic []*river.PeriodicJob) *river.Config {
	cfg := q.cfg
	rc := &river.Config{Logger: cfg.Logger, JobTimeout: cfg.JobTimeout, FetchPollInterval: cfg.FetchPollInterval,
		FetchCooldown: min(100*time.Millisecond, cfg.FetchPollInterval),
		// A job whose process died is run again soon after its timeout
		// could have ended it (River's default is an hour); loads resume
		// from their journal.
		RescueStuckJobsAfter: cfg.RescueAfter}
	if workers != nil {
		rc.Workers = workers
		rc.PeriodicJobs = periodic
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
	}
	return rc
}

// Client is the client jobs are enqueued with, inside a transaction of the
// Bun database (InsertTx with the bun.Tx's *sql.Tx).
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.inserter }

// Work makes this process work the jobs of workers, and run periodic jobs
// when it is the elected leader, from Start until Stop. On Postgres the
// workers run on a riverpgxv5 client over their own pgx pool, which gets
// LISTEN/NOTIFY wake-ups.
func (q *Queue) Work(ctx context.Context, workers *river.Workers, periodic []*river.PeriodicJob) error {
	rc := q.riverConfig(workers, periodic)
	switch bundb.KindOf(q.db) {
	case bundb.Postgres:
		poolCfg, err := pgxpool.ParseConfig(q.cfg.URL)
		if err != nil {
			return fmt.Errorf("queue: bad Postgres URL: %w", err)
		}
		pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
		if err != nil {
			return fmt.Errorf("queue: connecting workers: %w", err)
		}
		worker, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), rc)
		if err != nil {
			pool.Close()
			return fmt.Errorf("queue: %w", err)
		}
		q.start, q.stop, q.close = worker.Start, worker.Stop, pool.Close
	default:
		worker, err := bookbridge.NewRiverClient(q.db, rc)
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		q.start, q.stop = worker.Start, worker.Stop
	}
	return nil
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
