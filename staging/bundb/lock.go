package bundb

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/uptrace/bun"
)

// WithLock runs fn while holding a database-wide lock named name, so that
// several processes starting at once (running migrations, say) take turns.
// On Postgres it is a session advisory lock held on one connection; on
// SQLite, where one file has one writer at a time anyway, fn runs directly.
func WithLock(ctx context.Context, db *bun.DB, name string, fn func(ctx context.Context) error) error {
	if KindOf(db) != Postgres {
		return fn(ctx)
	}
	h := fnv.New64a()
	h.Write([]byte("bookbridge:" + name))
	key := int64(h.Sum64())
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bundb: lock %s: %w", name, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
		return fmt.Errorf("bundb: waiting for lock %s: %w", name, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key) //nolint:errcheck
	return fn(ctx)
}
