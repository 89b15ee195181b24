// Package dbtest gives each test its own database: a fresh SQLite file, and
// a fresh schema on the test Postgres server, dropped when the test ends.
//
// Postgres is found through BOOKBRIDGE_TEST_DATABASE_URL, or at
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable when that is unset.
// When no server answers, Postgres tests skip with a loud message, unless
// BOOKBRIDGE_REQUIRE_POSTGRES=1 is set (CI sets it): then they fail.
//
// Store tests run on both engines with Each:
//
//	dbtest.Each(t, func(t *testing.T, db *bun.DB) { ... })
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// DefaultPostgresURL is used when BOOKBRIDGE_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Environment variables read by this package.
const (
	EnvURL             = "BOOKBRIDGE_TEST_DATABASE_URL"
	EnvRequirePostgres = "BOOKBRIDGE_REQUIRE_POSTGRES"
)

// BaseURL returns the Postgres server tests use.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultPostgresURL
}

var (
	reachOnce sync.Once
	reachErr  error
)

func reachable() error {
	reachOnce.Do(func() {
		db, err := sql.Open("pgx", BaseURL())
		if err != nil {
			reachErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		reachErr = db.PingContext(ctx)
	})
	return reachErr
}

// RequirePostgres skips t when no Postgres answers, or fails it when
// BOOKBRIDGE_REQUIRE_POSTGRES=1.
func RequirePostgres(t testing.TB) {
	t.Helper()
	if err := reachable(); err != nil {
		SkipOrFail(t, fmt.Sprintf("POSTGRES NOT REACHABLE at %s (%v): set %s to a reachable server", bundb.Redact(BaseURL()), err, EnvURL))
	}
}

// SkipOrFail skips t for want of something Postgres-related that msg
// names, saying so loudly on stderr, or fails it when
// BOOKBRIDGE_REQUIRE_POSTGRES=1, so that CI never skips it unseen.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatalf("%s; %s=1 forbids skipping", msg, EnvRequirePostgres)
	}
	fmt.Fprintln(os.Stderr, "!!! SKIPPING:", msg)
	t.Skip("SKIPPED: " + msg)
}

// PostgresURL creates a schema of its own for t, drops it when t ends, and
// returns a URL whose connections use it as their search path.
func PostgresURL(t testing.TB) string {
	t.Helper()
	RequirePostgres(t)
	schema := "bbtest_" + randomHex(6)
	admin, err := sql.Open("pgx", BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("dbtest: creating schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dbtest: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a Bun database on a schema of t's own.
func Postgres(t testing.TB) *bun.DB {
	t.Helper()
	return Open(t, PostgresURL(t))
}

// SQLiteURL returns the path of a fresh SQLite file for t.
func SQLiteURL(t testing.TB) string {
	return filepath.Join(t.TempDir(), "bookbridge.db")
}

// SQLite returns a Bun database on a fresh SQLite file of t's own.
func SQLite(t testing.TB) *bun.DB {
	t.Helper()
	return Open(t, SQLiteURL(t))
}

// Open opens the database at u through bundb, as serve does, and closes it
// when t ends.
func Open(t testing.TB, u string) *bun.DB {
	t.Helper()
	db, err := bundb.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as two subtests, "sqlite" and "postgres", each with a fresh
// database of its own.
func Each(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	EachURL(t, func(t *testing.T, u string) { fn(t, Open(t, u)) })
}

// EachURL is Each for code that opens its own connections: fn gets the URL.
func EachURL(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver
