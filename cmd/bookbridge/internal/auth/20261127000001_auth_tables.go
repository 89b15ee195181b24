package auth

import (
	"context"

	"github.com/uptrace/bun"
)

// The migration's name comes from this file's name (bun/migrate's rule).
func init() {
	migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, m := range []any{(*APIKey)(nil), (*User)(nil), (*Session)(nil)} {
				if _, err := tx.NewCreateTable().Model(m).IfNotExists().Exec(ctx); err != nil {
					return err
				}
			}
			_, err := tx.NewCreateIndex().Model((*Session)(nil)).Index("bb_sessions_expires_idx").IfNotExists().Column("expires_at").Exec(ctx)
			return err
		})
	}, func(ctx context.Context, db *bun.DB) error {
		for _, m := range []any{(*Session)(nil), (*User)(nil), (*APIKey)(nil)} {
			if _, err := db.NewDropTable().Model(m).IfExists().Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}
