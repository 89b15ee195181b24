package staging

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// The bun/migrate tables of the staging schema. They are staging's own, so
// that other migration groups (the server's) can share the database.
const (
	MigrationsTable     = "staging_migrations"
	MigrationLocksTable = "staging_migration_locks"
)

// Migrate brings the staging schema up to date. It is safe to run at every
// start, by several processes at once: on Postgres the processes take turns
// on an advisory lock; on SQLite each step runs in an immediate
// transaction, which serialises writers, and skips itself when another
// process applied it first. There are no down steps: staged records are
// evidence and are never dropped by a migration.
func (s *Store) Migrate(ctx context.Context) error {
	m := s.migrator()
	if s.kind == bundb.Postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("staging: migrate: %w", err)
		}
		defer conn.Close()
		const key = `hashtextextended('bookbridge.staging.migrate:' || current_schema(), 0)`
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
			return fmt.Errorf("staging: migrate: taking the migration lock: %w", err)
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")"); err != nil {
				s.log.Error("staging: releasing the migration lock failed; the connection is dropped", "err", err)
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("staging: migrate: creating %s: %w", MigrationsTable, err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("staging: migrate: %w", err)
	}
	if !group.IsZero() {
		s.log.Info("staging: schema migrated", "steps", len(group.Migrations), "group", group.ID)
	}
	return nil
}

func (s *Store) migrator() *migrate.Migrator {
	ms := migrate.NewMigrations()
	for _, step := range schemaMigrations {
		stmts := step.sqlite
		if s.kind == bundb.Postgres {
			stmts = step.postgres
		}
		ms.Add(migrate.Migration{
			Name:    step.name,
			Comment: step.comment,
			Up: func(ctx context.Context, m *migrate.Migrator, mig *migrate.Migration) error {
				if step.run != nil {
					if err := runStep(ctx, s, m.DB(), mig, step.run); err != nil {
						return err
					}
				}
				return applyStep(ctx, m.DB(), mig, stmts)
			},
		})
	}
	return migrate.NewMigrator(s.db, ms,
		migrate.WithTableName(MigrationsTable),
		migrate.WithLocksTableName(MigrationLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithUpsert(true),
	)
}

// runStep runs the Go part of a step unless the step is recorded already
// (another process was first).
func runStep(ctx context.Context, s *Store, db *bun.DB, mig *migrate.Migration, run func(context.Context, *Store, *bun.DB) error) error {
	n, err := db.NewSelect().TableExpr(MigrationsTable).Where("name = ?", mig.Name).Count(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if err := run(ctx, s, db); err != nil {
		return fmt.Errorf("step %s (%s): %w", mig.Name, mig.Comment, err)
	}
	return nil
}

// applyStep runs one step in a transaction that also records it, and does
// nothing when the step is recorded already (another process was first).
func applyStep(ctx context.Context, db *bun.DB, mig *migrate.Migration, stmts []string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().TableExpr(MigrationsTable).Where("name = ?", mig.Name).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, stmt := range stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%w\n%s", err, stmt)
			}
		}
		_, err = tx.NewInsert().Model(&migrate.Migration{Name: mig.Name, GroupID: mig.GroupID}).
			ModelTableExpr(MigrationsTable).Exec(ctx)
		return err
	})
}
