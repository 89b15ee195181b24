package staging_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestMigrateTwiceAndConcurrentlyIsHarmless(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		// Several processes start at once: each has its own connection pool.
		const processes = 6
		dbs := make([]*bun.DB, processes)
		for i := range dbs {
			db, err := bundb.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs[i] = db
		}
		var wg sync.WaitGroup
		errs := make(chan error, processes*2)
		for _, db := range dbs {
			wg.Go(func() {
				s := staging.New(db, staging.WithLogger(slog.New(slog.DiscardHandler)))
				for range 2 { // and each runs it twice
					errs <- s.Migrate(ctx)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		var applied int
		if err := dbs[0].NewSelect().TableExpr(staging.MigrationsTable).ColumnExpr("count(*)").Scan(ctx, &applied); err != nil {
			t.Fatal(err)
		}
		if applied != staging.SchemaSteps {
			t.Fatalf("%s has %d rows, want one per step (%d)", staging.MigrationsTable, applied, staging.SchemaSteps)
		}
		var locks int
		if err := dbs[0].NewSelect().TableExpr(staging.MigrationLocksTable).ColumnExpr("count(*)").Scan(ctx, &locks); err != nil {
			t.Fatal(err)
		}
		if locks != 0 {
			t.Fatalf("%d migration locks left behind", locks)
		}
		// and the schema works
		s, _ := newStore(t, dbs[1])
		if res := intake(t, s, deal(t, nil)); res.Outcome != staging.IntakeCreated {
			t.Fatalf("intake after migrating: %s", res.Outcome)
		}
	})
}

func TestMigrateLeavesOtherMigrationGroupsAlone(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		// the server's own bun/migrate group in the same database
		if _, err := db.ExecContext(ctx, "CREATE TABLE bun_migrations (id INTEGER PRIMARY KEY, name TEXT, group_id INTEGER, migrated_at TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO bun_migrations (id, name, group_id, migrated_at) VALUES (1, '20260101000000', 1, CURRENT_TIMESTAMP)"); err != nil {
			t.Fatal(err)
		}
		newStore(t, db)
		var n int
		if err := db.NewSelect().TableExpr("bun_migrations").ColumnExpr("count(*)").Scan(ctx, &n); err != nil || n != 1 {
			t.Fatalf("the other group's table: %d rows, %v", n, err)
		}
	})
}
