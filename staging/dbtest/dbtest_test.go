package dbtest_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestEachGivesIsolatedDatabases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE probe (id INTEGER PRIMARY KEY, note TEXT)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO probe (id, note) VALUES (1, 'x')"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.NewSelect().TableExpr("probe").ColumnExpr("count(*)").Scan(ctx, &n); err != nil || n != 1 {
			t.Fatalf("count: %d %v", n, err)
		}
		if t.Name() == "TestEachGivesIsolatedDatabases/postgres" && bundb.KindOf(db) != bundb.Postgres {
			t.Fatal("postgres subtest got another engine")
		}
	})
}

func TestParse(t *testing.T) {
	cases := []struct {
		url  string
		kind bundb.Kind
		ok   bool
	}{
		{"postgres://u@h/db", bundb.Postgres, true},
		{"postgresql://u@h/db", bundb.Postgres, true},
		{"sqlite:///tmp/x.db", bundb.SQLite, true},
		{"bookbridge.db", bundb.SQLite, true},
		{"file:x.db?_pragma=busy_timeout(1)", bundb.SQLite, true},
		{"mysql://u@h/db", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		kind, _, err := bundb.Parse(c.url)
		if (err == nil) != c.ok || kind != c.kind {
			t.Errorf("Parse(%q) = %q, %v", c.url, kind, err)
		}
	}
	if got := bundb.Redact("postgres://u:secret@h/db"); got != "postgres://u:xxxxx@h/db" {
		t.Errorf("Redact: %s", got)
	}
}
