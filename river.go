package bookbridge

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// NewRiverClient returns a River client over database/sql on db, the
// store's database (riverdatabasesql on Postgres, riversqlite on SQLite),
// so that the Flow's jobs are enqueued inside the store's transactions.
// With cfg.Workers (see AddWorkers) it also works them, polling every
// cfg.FetchPollInterval; on Postgres a riverpgxv5 client over a pgx pool,
// sharing River's tables, is woken at once instead.
func NewRiverClient(db *bun.DB, cfg *river.Config) (*river.Client[*sql.Tx], error) {
	if bundb.KindOf(db) == bundb.Postgres {
		return river.NewClient(riverdatabasesql.New(db.DB), cfg)
	}
	return river.NewClient(riversqlite.New(db.DB), cfg)
}

// MigrateRiver creates or upgrades River's tables in db. Several processes
// may run it at once.
func MigrateRiver(ctx context.Context, db *bun.DB) error {
	return bundb.WithLock(ctx, db, "river-migrations", func(ctx context.Context) error {
		var m *rivermigrate.Migrator[*sql.Tx]
		var err error
		if bundb.KindOf(db) == bundb.Postgres {
			m, err = rivermigrate.New(riverdatabasesql.New(db.DB), nil)
		} else {
			m, err = rivermigrate.New(riversqlite.New(db.DB), nil)
		}
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
		if err != nil {
			return fmt.Errorf("migrating River's tables: %w", err)
		}
		return nil
	})
}

// WaitLoad waits until the record's load has left loading (loaded,
// needs_review or load_failed) and returns the record; when ctx ends
// first it returns the record as it is then, still loading, with ctx's
// error. It is for callers that enqueue a load (EnqueueLoad) and answer
// once it is done.
func (f *Flow) WaitLoad(ctx context.Context, recordID int64) (*staging.Record, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		rec, err := f.cfg.Store.Get(context.WithoutCancel(ctx), recordID)
		if err != nil || rec.State != staging.StateLoading {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-tick.C:
		}
	}
}
