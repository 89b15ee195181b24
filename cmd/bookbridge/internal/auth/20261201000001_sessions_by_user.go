package auth

import (
	"context"

	"github.com/uptrace/bun"
)

// Disabling or removing a user deletes their sessions by user_id; this
// index keeps that a lookup rather than a scan of every session.
func init() {
	migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		_, err := db.NewCreateIndex().Model((*Session)(nil)).Index("bb_sessions_user_idx").IfNotExists().Column("user_id").Exec(ctx)
		return err
	}, func(ctx context.Context, db *bun.DB) error {
		_, err := db.NewDropIndex().Model((*Session)(nil)).Index("bb_sessions_user_idx").IfExists().Exec(ctx)
		return err
	})
}
