// Package sqltarget is a loader.Target over SQL tables through Bun: the
// database the user names (an embedded SQLite file by default, or
// Postgres), opened by the caller with staging/bundb.
//
// Tables are plain tables: a sys_id primary key (32 lowercase hex digits,
// generated on insert), sys_created_on, and one text column per field.
// EnsureReferenceTables creates the reference ServiceNow schema of
// loader/refschema, an attachments table (sys_attachment) and the demo's
// block-number choices, so the demo runs without ServiceNow.
//
// Matching is exact: SQLite's default BINARY collation and Postgres'
// default collations compare text byte for byte (NULL counts as ""). An
// unknown table or match column is an error; fields of an insert or update
// that are not columns are ignored and left out of the returned record, as
// ServiceNow does.
//
// Errors of a failed connection (the database unreachable, a connection
// the driver gave up, the server shutting down: Postgres SQLSTATE class
// 08 and 57P01-57P03) are transient for loader.IsTransient, so the load
// can be run again later; every other error (a statement the database
// refused, a missing table, SQLite's "database is locked") is not.
//
// The target implements loader.Transactional: the executor runs a whole
// load in one transaction and commits it at the end, so a failed load
// leaves nothing behind. The package is named sqltarget, not sql, so that
// it does not shadow database/sql.
package sqltarget

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// AttachmentsTable holds the files attached to records.
const AttachmentsTable = "sys_attachment"

// Options configure a Target.
type Options struct {
	// Now stamps sys_created_on; default time.Now.
	Now func() time.Time
}

// Target is a loader.Target over one database. It is safe for concurrent
// use.
type Target struct {
	db   bun.IDB
	root *bun.DB
	opts Options
	cols *columnCache
	// mu serializes the calls of a transaction (one connection).
	mu *sync.Mutex
}

var (
	_ loader.Target        = (*Target)(nil)
	_ loader.Transactional = (*Target)(nil)
)

// New returns a Target over db.
func New(db *bun.DB, opts Options) *Target {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Target{db: db, root: db, opts: opts, cols: &columnCache{m: map[string][]string{}}}
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func checkName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("sqltarget: %s name %q must be lowercase letters, digits and _", kind, name)
	}
	return nil
}

// columnCache remembers the columns of each table.
type columnCache struct {
	mu sync.Mutex
	m  map[string][]string
}

func (t *Target) lock() func() {
	if t.mu == nil {
		return func() {}
	}
	t.mu.Lock()
	return t.mu.Unlock
}

// columns returns the columns of table, or an error when it does not exist.
func (t *Target) columns(ctx context.Context, table string) (map[string]bool, error) {
	if err := checkName("table", table); err != nil {
		return nil, err
	}
	t.cols.mu.Lock()
	cols, ok := t.cols.m[table]
	t.cols.mu.Unlock()
	if !ok {
		var err error
		cols, err = readColumns(ctx, t.db, table)
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("sqltarget: no table %s: create it (EnsureReferenceTables creates the reference tables) or fix the mapping rule", table)
		}
		t.cols.mu.Lock()
		t.cols.m[table] = cols
		t.cols.mu.Unlock()
	}
	set := map[string]bool{}
	for _, c := range cols {
		set[c] = true
	}
	return set, nil
}

func readColumns(ctx context.Context, db bun.IDB, table string) ([]string, error) {
	var cols []string
	var err error
	if bundb.KindOf(db) == bundb.Postgres {
		err = db.NewRaw("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position", table).Scan(ctx, &cols)
	} else {
		err = db.NewRaw("SELECT name FROM pragma_table_info(?) ORDER BY cid", table).Scan(ctx, &cols)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqltarget: reading the columns of %s: %w", table, err)
	}
	return cols, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (t *Target) stamp() string { return t.opts.Now().UTC().Format("2006-01-02 15:04:05") }

// whereExpr builds "(a = ? AND b = ?) OR (...)" over COALESCE(col, ”).
func whereExpr(where []map[string]string, cols map[string]bool, table string) (string, []any, error) {
	var groups []string
	var args []any
	for _, w := range where {
		if len(w) == 0 {
			return "", nil, errors.New("sqltarget: a query alternative has no condition; it would match every record")
		}
		var conds []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if !cols[k] {
				return "", nil, fmt.Errorf("sqltarget: table %s has no column %s; fix the mapping rule's match", table, k)
			}
			conds = append(conds, "COALESCE(?, '') = ?")
			args = append(args, bun.Ident(k), w[k])
		}
		groups = append(groups, "("+strings.Join(conds, " AND ")+")")
	}
	if len(groups) == 0 {
		return "", nil, errors.New("sqltarget: a query needs at least one condition")
	}
	return strings.Join(groups, " OR "), args, nil
}

func (t *Target) find(ctx context.Context, q loader.Query) ([]loader.Record, error) {
	defer t.lock()()
	cols, err := t.columns(ctx, q.Table)
	if err != nil {
		return nil, err
	}
	expr, args, err := whereExpr(q.Where, cols, q.Table)
	if err != nil {
		return nil, err
	}
	read := map[string]bool{}
	for _, f := range q.Fields {
		if cols[f] && f != "sys_id" {
			read[f] = true
		}
	}
	for _, w := range q.Where {
		for k := range w {
			if k != "sys_id" {
				read[k] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(read))
	sel := t.db.NewSelect().TableExpr("?", bun.Ident(q.Table)).ColumnExpr("?", bun.Ident("sys_id"))
	for _, n := range names {
		sel = sel.ColumnExpr("?", bun.Ident(n))
	}
	sel = sel.Where(expr, args...).OrderExpr("? ASC", bun.Ident("sys_id"))
	if q.Limit > 0 {
		sel = sel.Limit(int64(q.Limit))
	}
	rows, err := sel.Rows(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: reading %s: %w", q.Table, err)
	}
	defer rows.Close()
	var out []loader.Record
	for rows.Next() {
		vals := make([]sql.NullString, len(names)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("sqltarget: reading %s: %w", q.Table, err)
		}
		rec := loader.Record{ID: vals[0].String, Fields: map[string]string{}}
		for i, n := range names {
			rec.Fields[n] = vals[i+1].String
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqltarget: reading %s: %w", q.Table, err)
	}
	return out, nil
}

// known keeps the fields that are columns (sys_ columns are the target's).
func known(fields map[string]string, cols map[string]bool) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		if cols[k] && !strings.HasPrefix(k, "sys_") {
			out[k] = v
		}
	}
	return out
}

func (t *Target) insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	defer t.lock()()
	return t.insertLocked(ctx, table, fields)
}

// insertLocked inserts with the caller holding the lock.
func (t *Target) insertLocked(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	cols, err := t.columns(ctx, table)
	if err != nil {
		return loader.Record{}, err
	}
	set := known(fields, cols)
	id := newID()
	names := []bun.Ident{"sys_id"}
	vals := []any{id}
	if cols["sys_created_on"] {
		names = append(names, "sys_created_on")
		vals = append(vals, t.stamp())
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		names = append(names, bun.Ident(k))
		vals = append(vals, set[k])
	}
	if _, err := t.db.NewRaw("INSERT INTO ? (?) VALUES (?)", bun.Ident(table), bun.In(names), bun.In(vals)).Exec(ctx); err != nil {
		return loader.Record{}, fmt.Errorf("sqltarget: inserting into %s: %w", table, err)
	}
	return loader.Record{ID: id, Fields: set}, nil
}

func (t *Target) update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	defer t.lock()()
	cols, err := t.columns(ctx, table)
	if err != nil {
		return loader.Record{}, err
	}
	set := known(fields, cols)
	if len(set) == 0 {
		n, err := t.db.NewSelect().TableExpr("?", bun.Ident(table)).Where("? = ?", bun.Ident("sys_id"), id).Count(ctx)
		if err != nil {
			return loader.Record{}, fmt.Errorf("sqltarget: reading %s: %w", table, err)
		}
		if n == 0 {
			return loader.Record{}, fmt.Errorf("sqltarget: %s %s: %w", table, id, loader.ErrNotFound)
		}
		return loader.Record{ID: id, Fields: set}, nil
	}
	up := t.db.NewUpdate().TableExpr("?", bun.Ident(table))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		up = up.Set("? = ?", bun.Ident(k), set[k])
	}
	res, err := up.Where("? = ?", bun.Ident("sys_id"), id).Exec(ctx)
	if err != nil {
		return loader.Record{}, fmt.Errorf("sqltarget: updating %s %s: %w", table, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return loader.Record{}, fmt.Errorf("sqltarget: %s %s: %w", table, id, loader.ErrNotFound)
	}
	return loader.Record{ID: id, Fields: set}, nil
}

// Dump returns the records of tables, sorted by sys_id (system columns
// left out), and the files on them by record sys_id: for tests and the
// demo's report.
func (t *Target) Dump(ctx context.Context, tables ...string) (map[string][]loader.Record, map[string][]loader.AttachmentInfo, error) {
	recs := map[string][]loader.Record{}
	files := map[string][]loader.AttachmentInfo{}
	for _, table := range tables {
		cols, err := t.columns(ctx, table)
		if err != nil {
			return nil, nil, err
		}
		var fields []string
		for c := range cols {
			if c != "sys_id" && c != "sys_created_on" {
				fields = append(fields, c)
			}
		}
		// Every record has a sys_id; "sys_id is not empty" has no exact
		// equality form, so read all and keep them.
		rows, err := t.all(ctx, table, fields)
		if err != nil {
			return nil, nil, err
		}
		recs[table] = rows
		for _, r := range rows {
			list, err := t.Attachments(ctx, table, r.ID)
			if err != nil {
				return nil, nil, err
			}
			if len(list) > 0 {
				files[r.ID] = list
			}
		}
	}
	return recs, files, nil
}

func (t *Target) all(ctx context.Context, table string, fields []string) ([]loader.Record, error) {
	defer t.lock()()
	slices.Sort(fields)
	sel := t.db.NewSelect().TableExpr("?", bun.Ident(table)).ColumnExpr("?", bun.Ident("sys_id"))
	for _, f := range fields {
		sel = sel.ColumnExpr("?", bun.Ident(f))
	}
	rows, err := sel.OrderExpr("? ASC", bun.Ident("sys_id")).Rows(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: reading %s: %w", table, err)
	}
	defer rows.Close()
	var out []loader.Record
	for rows.Next() {
		vals := make([]sql.NullString, len(fields)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		rec := loader.Record{ID: vals[0].String, Fields: map[string]string{}}
		for i, f := range fields {
			if vals[i+1].String != "" {
				rec.Fields[f] = vals[i+1].String
			}
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}
