package bundb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/uptrace/bun/driver/sqliteshim"
)

// Exists reports whether the database url names is there and holds table
// (a table its schema always has, such as a migrations table), without
// creating anything: a SQLite file that does not exist is not created,
// and one that does is opened read-only; a Postgres database is asked
// whether table is on its search path. Commands that only work on a
// database made earlier call it before Open, which would create one.
func Exists(ctx context.Context, url, table string) (bool, error) {
	kind, _, err := Parse(url)
	if err != nil {
		return false, err
	}
	if kind == Postgres {
		db, err := Open(ctx, url)
		if err != nil {
			return false, err
		}
		defer db.Close()
		var found bool
		if err := db.NewRaw("SELECT to_regclass(?) IS NOT NULL", table).Scan(ctx, &found); err != nil {
			return false, fmt.Errorf("bundb: looking for table %s in %q: %w", table, redact(url), err)
		}
		return found, nil
	}
	path := sqlitePath(url)
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return false, nil // a database in memory exists only while it is open
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bundb: SQLite file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return false, fmt.Errorf("bundb: SQLite path %s is not a file", path)
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return false, fmt.Errorf("bundb: opening SQLite %s: %w", path, err)
	}
	defer sqldb.Close()
	var n int
	err = sqldb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("bundb: reading SQLite %s: %w", path, err)
	}
	return n > 0, nil
}

// Where names the database url points at for a person: the absolute path
// of a SQLite file (so that a command run from the wrong directory says
// which file it looked for), or the URL with its password hidden.
func Where(url string) string {
	kind, _, err := Parse(url)
	if err != nil || kind == Postgres {
		return redact(url)
	}
	path := sqlitePath(url)
	if abs, err := filepath.Abs(path); err == nil && !strings.HasPrefix(path, ":memory:") {
		return abs
	}
	return path
}

// sqlitePath is the file part of a SQLite URL, without its parameters.
func sqlitePath(url string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite://"), "file:")
	path, _, _ = strings.Cut(path, "?")
	return path
}
