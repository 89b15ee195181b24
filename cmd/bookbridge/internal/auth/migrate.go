package auth

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// migrations creates the server's own tables. They live beside staging's in
// the same database, tracked in a table of their own.
var migrations = migrate.NewMigrations()

// Migrate creates or upgrades the tables of this package. Several processes
// starting at once take turns (bundb.WithLock).
func Migrate(ctx context.Context, db *bun.DB) error {
	return bundb.WithLock(ctx, db, "auth-migrations", func(ctx context.Context) error {
		m := migrate.NewMigrator(db, migrations,
			migrate.WithTableName("bb_auth_migrations"),
			migrate.WithLocksTableName("bb_auth_migration_locks"),
			migrate.WithMarkAppliedOnSuccess(true))
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("auth: preparing migrations: %w", err)
		}
		if _, err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("auth: migrating: %w", err)
		}
		return nil
	})
}
