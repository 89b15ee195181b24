package bundb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// TestExists: a database is there only once it holds the table asked for,
// and asking creates nothing.
func TestExists(t *testing.T) {
	ctx := context.Background()
	dbtest.EachURL(t, func(t *testing.T, url string) {
		exists := func() bool {
			t.Helper()
			ok, err := bundb.Exists(ctx, url, "bb_marker")
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if exists() {
			t.Fatal("a fresh database holds bb_marker")
		}
		kind, _, _ := bundb.Parse(url)
		if kind == bundb.SQLite {
			if _, err := os.Stat(url); !os.IsNotExist(err) {
				t.Fatalf("Exists created %s: %v", url, err)
			}
		}
		db, err := bundb.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE TABLE bb_other (id integer)"); err != nil {
			t.Fatal(err)
		}
		if exists() {
			t.Fatal("a database without bb_marker holds it")
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE bb_marker (id integer)"); err != nil {
			t.Fatal(err)
		}
		if !exists() {
			t.Fatal("bb_marker is not found")
		}
	})
}

func TestExistsSQLiteForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "x.db")
	cases := []struct {
		url   string
		where string
	}{
		{file, file},
		{"sqlite://" + file, file},
		{"file:" + file + "?_pragma=busy_timeout(1)", file},
		{":memory:", ":memory:"},
	}
	for _, c := range cases {
		ok, err := bundb.Exists(ctx, c.url, "bb_marker")
		if err != nil || ok {
			t.Errorf("Exists(%q) = %v, %v; want false", c.url, ok, err)
		}
		if got := bundb.Where(c.url); got != c.where {
			t.Errorf("Where(%q) = %q, want %q", c.url, got, c.where)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("Exists created %s: %v", file, err)
	}
	if _, err := bundb.Exists(ctx, dir, "bb_marker"); err == nil {
		t.Error("a directory as the SQLite file: no error")
	}
	if got := bundb.Where("postgres://bb:hunter2@db/bb"); got != "postgres://bb:xxxxx@db/bb" {
		t.Errorf("Where hides no password: %s", got)
	}
	rel := bundb.Where("bookbridge.db")
	if !filepath.IsAbs(rel) || filepath.Base(rel) != "bookbridge.db" {
		t.Errorf("Where(bookbridge.db) = %s, want an absolute path", rel)
	}
}
