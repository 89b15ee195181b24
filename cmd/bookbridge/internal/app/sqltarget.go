package app

import (
	"context"
	"fmt"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// openSQLTarget opens the database of BOOKBRIDGE_TARGET_URL as the load
// target and creates the reference tables there when they are missing.
func openSQLTarget(ctx context.Context, cfg *config.Config) (loader.Target, func() error, error) {
	db, err := bundb.Open(ctx, cfg.TargetURL)
	if err != nil {
		return nil, nil, fmt.Errorf("BOOKBRIDGE_TARGET_URL: %w", err)
	}
	t := sqltarget.New(db, sqltarget.Options{})
	if err := t.EnsureReferenceTables(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("creating the reference tables in BOOKBRIDGE_TARGET_URL: %w", err)
	}
	return t, db.Close, nil
}
