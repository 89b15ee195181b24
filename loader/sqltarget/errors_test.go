package sqltarget

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestConnectionErrorsAreTransient(t *testing.T) {
	for _, c := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"bad connection", fmt.Errorf("sqltarget: reading x: %w", driver.ErrBadConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"connection failure 08006", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown 57P01", &pgconn.PgError{Code: "57P01"}, true},
		{"unique violation 23505", &pgconn.PgError{Code: "23505"}, false},
		{"undefined table 42P01", &pgconn.PgError{Code: "42P01"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"other", errors.New("sqltarget: no table x"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loader.IsTransient(classify(c.err)); got != c.transient {
				t.Errorf("IsTransient = %v, want %v", got, c.transient)
			}
			if !errors.Is(classify(c.err), c.err) {
				t.Error("the classified error does not wrap the cause")
			}
		})
	}
}

// TestUnreachableDatabase calls a target over a Postgres address nobody
// listens on: the error is transient; a missing table on a reachable
// database is not.
func TestUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := pgx.ParseConfig("postgres://postgres@" + addr + "/test?connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	t.Cleanup(func() { db.Close() })
	q := loader.Query{Table: "core_company", Where: []map[string]string{{"u_ecc_id": "1"}}}
	_, err = New(db, Options{}).Find(context.Background(), q)
	if err == nil || !loader.IsTransient(err) {
		t.Errorf("Find on an unreachable database: %v, transient %v", err, loader.IsTransient(err))
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		_, err := New(db, Options{}).Find(context.Background(), q)
		if err == nil || loader.IsTransient(err) {
			t.Errorf("Find on a missing table: %v, transient %v", err, loader.IsTransient(err))
		}
	})
}
