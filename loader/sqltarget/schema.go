package sqltarget

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// EnsureReferenceTables creates the reference tables (loader/refschema)
// and sys_attachment when they are missing, adds missing columns to
// existing ones, and puts the demo's block-number choices into an empty
// sys_choice. It can run any number of times.
func (t *Target) EnsureReferenceTables(ctx context.Context) error {
	return t.EnsureTables(ctx, refschema.Tables(), refschema.BlockNumberChoices())
}

// EnsureTables creates tables (table -> fields, every field a text column)
// the same way, and seeds sys_choice with choices when it is empty.
func (t *Target) EnsureTables(ctx context.Context, tables map[string][]string, choices []map[string]string) error {
	defer t.lock()()
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		if err := t.ensureTable(ctx, table, tables[table]); err != nil {
			return err
		}
	}
	blob := "BLOB"
	if bundb.KindOf(t.db) == bundb.Postgres {
		blob = "BYTEA"
	}
	if _, err := t.db.NewRaw(`CREATE TABLE IF NOT EXISTS ? (
		sys_id VARCHAR(32) PRIMARY KEY,
		sys_created_on VARCHAR(19) NOT NULL DEFAULT '',
		table_name TEXT NOT NULL,
		table_sys_id TEXT NOT NULL,
		file_name TEXT NOT NULL,
		content_type TEXT NOT NULL DEFAULT '',
		size_bytes BIGINT NOT NULL,
		hash VARCHAR(64) NOT NULL,
		content `+blob+` NOT NULL)`, bun.Ident(AttachmentsTable)).Exec(ctx); err != nil {
		return fmt.Errorf("sqltarget: creating %s: %w", AttachmentsTable, err)
	}
	if _, err := t.db.NewRaw("CREATE INDEX IF NOT EXISTS ? ON ? (table_name, table_sys_id)",
		bun.Ident(AttachmentsTable+"_record"), bun.Ident(AttachmentsTable)).Exec(ctx); err != nil {
		return fmt.Errorf("sqltarget: indexing %s: %w", AttachmentsTable, err)
	}
	t.cols.mu.Lock()
	clear(t.cols.m)
	t.cols.mu.Unlock()
	if _, ok := tables["sys_choice"]; ok && len(choices) > 0 {
		n, err := t.db.NewSelect().TableExpr("sys_choice").Count(ctx)
		if err != nil {
			return fmt.Errorf("sqltarget: counting sys_choice: %w", err)
		}
		if n == 0 {
			for _, c := range choices {
				if _, err := t.insertLocked(ctx, "sys_choice", c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (t *Target) ensureTable(ctx context.Context, table string, fields []string) error {
	if err := checkName("table", table); err != nil {
		return err
	}
	existing, err := readColumns(ctx, t.db, table)
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		q := "CREATE TABLE IF NOT EXISTS ? (sys_id VARCHAR(32) PRIMARY KEY, sys_created_on VARCHAR(19) NOT NULL DEFAULT ''"
		args := []any{bun.Ident(table)}
		for _, f := range fields {
			if err := checkName("field", f); err != nil {
				return err
			}
			q += ", ? TEXT NOT NULL DEFAULT ''"
			args = append(args, bun.Ident(f))
		}
		if _, err := t.db.NewRaw(q+")", args...).Exec(ctx); err != nil {
			return fmt.Errorf("sqltarget: creating %s: %w", table, err)
		}
		return nil
	}
	for _, f := range fields {
		if slices.Contains(existing, f) {
			continue
		}
		if err := checkName("field", f); err != nil {
			return err
		}
		if _, err := t.db.NewRaw("ALTER TABLE ? ADD COLUMN ? TEXT NOT NULL DEFAULT ''", bun.Ident(table), bun.Ident(f)).Exec(ctx); err != nil {
			return fmt.Errorf("sqltarget: adding %s.%s: %w", table, f, err)
		}
	}
	return nil
}
