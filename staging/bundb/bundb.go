// Package bundb opens the database bookbridge stores its records in: a
// Postgres server (through pgx's database/sql driver) or an embedded SQLite
// file (pure Go, no cgo), both wrapped in Bun with the matching dialect.
//
// The same URL form is used everywhere (server configuration, tests, the SQL
// loader target):
//
//	postgres://user:pass@host:5432/db?sslmode=disable   Postgres
//	postgresql://...                                    Postgres
//	sqlite:///var/lib/bookbridge/bookbridge.db          SQLite file
//	file:bookbridge.db  or  bookbridge.db               SQLite file
//
// For SQLite, Open turns on WAL, foreign keys, a busy timeout and immediate
// write transactions, so concurrent writers wait for each other instead of
// failing with "database is locked".
package bundb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// Kind names a database engine.
type Kind string

// The engines bookbridge runs on.
const (
	Postgres Kind = "postgres"
	SQLite   Kind = "sqlite"
)

// Parse tells which engine url names and returns the driver's data source
// name for it.
func Parse(url string) (Kind, string, error) {
	switch {
	case url == "":
		return "", "", errors.New("bundb: empty database URL: use postgres://... or a SQLite file path")
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres, url, nil
	case strings.HasPrefix(url, "sqlite://"):
		return SQLite, sqliteDSN(strings.TrimPrefix(url, "sqlite://")), nil
	case strings.Contains(url, "://"):
		return "", "", fmt.Errorf("bundb: unsupported database URL scheme in %q: use postgres://... or a SQLite file path", redact(url))
	default:
		return SQLite, sqliteDSN(url), nil
	}
}

func sqliteDSN(path string) string {
	path = strings.TrimPrefix(path, "file:")
	file, query, _ := strings.Cut(path, "?")
	q, _ := parseQuery(query)
	set := func(k, v string) {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	if !hasPragma(q, "busy_timeout") {
		q.Add("_pragma", "busy_timeout(10000)")
	}
	if !hasPragma(q, "journal_mode") && file != ":memory:" {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	if !hasPragma(q, "foreign_keys") {
		q.Add("_pragma", "foreign_keys(1)")
	}
	if !hasPragma(q, "synchronous") {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	set("_txlock", "immediate")
	return "file:" + file + "?" + q.Encode()
}

func hasPragma(q url.Values, name string) bool {
	for _, p := range q["_pragma"] {
		if strings.HasPrefix(p, name+"(") || strings.HasPrefix(p, name+"=") {
			return true
		}
	}
	return false
}

func parseQuery(s string) (url.Values, error) {
	if s == "" {
		return url.Values{}, nil
	}
	return url.ParseQuery(s)
}

// Open connects to the database url names, checks that it answers and
// returns it wrapped in Bun.
func Open(ctx context.Context, url string) (*bun.DB, error) {
	kind, dsn, err := Parse(url)
	if err != nil {
		return nil, err
	}
	var db *bun.DB
	switch kind {
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("bundb: bad Postgres URL %q: %w", redact(url), err)
		}
		// Bun writes values into the SQL text itself, so nearly every
		// statement is new: preparing each one would cost a round trip and
		// fill the statement cache for nothing. The simple protocol sends
		// the text once (pgx escapes any remaining arguments).
		if !strings.Contains(dsn, "default_query_exec_mode") {
			cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		}
		sqldb := stdlib.OpenDB(*cfg)
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(32)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
	case SQLite:
		sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
		if err != nil {
			return nil, fmt.Errorf("bundb: opening SQLite %q: %w", url, err)
		}
		// One writer at a time is what SQLite allows; a small pool lets
		// readers proceed while the busy timeout queues writers.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxLifetime(0)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("bundb: %s database at %q does not answer: %w", kind, redact(url), err)
	}
	return db, nil
}

// KindOf reports the engine behind db.
func KindOf(db bun.IDB) Kind {
	if db.Dialect().Name() == dialect.PG {
		return Postgres
	}
	return SQLite
}

// redact hides the password of a URL for messages and logs.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Redact returns url with its password replaced, for logs and config dumps.
func Redact(url string) string { return redact(url) }
