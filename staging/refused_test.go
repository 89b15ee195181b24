package staging_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// RefusedValue tells a value Postgres refuses (always the same answer:
// the input must change) from a failure worth retrying, with the errors
// Postgres really sends.
func TestRefusedValue(t *testing.T) {
	db := dbtest.Postgres(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE refused (name varchar(3))"); err != nil {
		t.Fatal(err)
	}
	// The queries go to pgx with real parameters ($1), as the store's
	// batched intake sends them. Text holding NUL is made from bytes in
	// SQL, as Postgres refuses it in its encoding check; bun's own
	// formatting puts values into the SQL text, where a NUL ends the
	// statement early: a syntax error, which is no refused value (sfdc's
	// check of control characters keeps NUL from the store).
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		want  bool
		code  string
	}{
		{"NUL in text", `SELECT convert_from('\x610062'::bytea, 'UTF8')`, nil, true, "22021"},
		{"a number out of range", "SELECT $1::numeric(20,2)", []any{"1e30"}, true, "22003"},
		{"a date that is no date", "SELECT $1::date", []any{"2026-13-01"}, true, "22008"},
		{"a value too long", "INSERT INTO refused (name) VALUES ($1)", []any{"abcd"}, true, "22001"},
		{"a value that fits", "INSERT INTO refused (name) VALUES ($1)", []any{"abc"}, false, ""},
		{"a missing table", "SELECT * FROM no_such_table", nil, false, ""},
		{"a NUL inlined by bun", "", nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.query == "" {
				_, err = db.ExecContext(ctx, "SELECT ?::text", "a\x00b")
				if err == nil {
					t.Fatal("Postgres took a NUL")
				}
			} else {
				_, err = db.DB.ExecContext(ctx, tc.query, tc.args...)
			}
			msg, refused := staging.RefusedValue(err)
			if refused != tc.want || (tc.want && !strings.Contains(msg, tc.code)) {
				t.Fatalf("RefusedValue(%v) = %q, %v; want %v with %s", err, msg, refused, tc.want, tc.code)
			}
		})
	}
	for _, err := range []error{nil, errors.New("connection refused"), context.DeadlineExceeded} {
		if _, refused := staging.RefusedValue(err); refused {
			t.Errorf("RefusedValue(%v) = true: a failure to retry is no refused value", err)
		}
	}
}
