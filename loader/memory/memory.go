// Package memory is a loader.Target that keeps its tables in memory, for
// tests and the library's examples. It meets every rule of the Target
// contract (it passes loader/loadertest's conformance suite).
//
// Without a schema it accepts any table and field; with Options.Tables it
// behaves like ServiceNow: an unknown table is an error and unknown fields
// are silently ignored (and absent from the returned record).
package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/bookbridge/bookbridge/loader"
)

// Options configure a Target.
type Options struct {
	// Tables, when set, is the schema: table -> fields. Nil accepts
	// everything.
	Tables map[string][]string
}

// Target is an in-memory loader.Target. It is safe for concurrent use.
type Target struct {
	mu      sync.Mutex
	schema  map[string]map[string]bool
	tables  map[string]map[string]map[string]string
	files   map[string][]file
	counter uint64
}

type file struct {
	info    loader.AttachmentInfo
	content []byte
}

var _ loader.Target = (*Target)(nil)

// New returns an empty Target.
func New(opts Options) *Target {
	t := &Target{tables: map[string]map[string]map[string]string{}, files: map[string][]file{}}
	if opts.Tables != nil {
		t.schema = map[string]map[string]bool{}
		for tab, fields := range opts.Tables {
			t.schema[tab] = map[string]bool{}
			for _, f := range fields {
				t.schema[tab][f] = true
			}
		}
	}
	return t
}

func (t *Target) newID() string {
	t.counter++
	sum := sha256.Sum256(fmt.Appendf(nil, "memory-%d", t.counter))
	return hex.EncodeToString(sum[:16])
}

func (t *Target) checkTable(table string) error {
	if table == "" {
		return fmt.Errorf("memory: empty table name")
	}
	if t.schema != nil && t.schema[table] == nil {
		return fmt.Errorf("memory: no table %q", table)
	}
	return nil
}

// known keeps the fields the schema has.
func (t *Target) known(table string, fields map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		if t.schema == nil || t.schema[table][k] {
			out[k] = v
		}
	}
	return out
}

// Find implements loader.Target.
func (t *Target) Find(ctx context.Context, q loader.Query) ([]loader.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkTable(q.Table); err != nil {
		return nil, err
	}
	if len(q.Where) == 0 {
		return nil, fmt.Errorf("memory: a query on %s needs at least one condition", q.Table)
	}
	rows := t.tables[q.Table]
	ids := slices.Sorted(maps.Keys(rows))
	var out []loader.Record
	for _, id := range ids {
		row := rows[id]
		if !anyMatch(row, q.Where) {
			continue
		}
		out = append(out, loader.Record{ID: id, Fields: maps.Clone(row)})
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func anyMatch(row map[string]string, where []map[string]string) bool {
	for _, w := range where {
		ok := len(w) > 0
		for k, v := range w {
			if row[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Insert implements loader.Target.
func (t *Target) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	if err := ctx.Err(); err != nil {
		return loader.Record{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkTable(table); err != nil {
		return loader.Record{}, err
	}
	row := t.known(table, fields)
	if t.tables[table] == nil {
		t.tables[table] = map[string]map[string]string{}
	}
	id := t.newID()
	t.tables[table][id] = row
	return loader.Record{ID: id, Fields: maps.Clone(row)}, nil
}

// Update implements loader.Target.
func (t *Target) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	if err := ctx.Err(); err != nil {
		return loader.Record{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkTable(table); err != nil {
		return loader.Record{}, err
	}
	row, ok := t.tables[table][id]
	if !ok {
		return loader.Record{}, fmt.Errorf("memory: %s %s: %w", table, id, loader.ErrNotFound)
	}
	set := t.known(table, fields)
	maps.Copy(row, set)
	return loader.Record{ID: id, Fields: set}, nil
}

// Attach implements loader.Target.
func (t *Target) Attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return loader.AttachmentInfo{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tables[table][id]; !ok {
		return loader.AttachmentInfo{}, fmt.Errorf("memory: attaching to %s %s: %w", table, id, loader.ErrNotFound)
	}
	sum := sha256.Sum256(f.Content)
	info := loader.AttachmentInfo{ID: t.newID(), Name: f.Name, ContentType: f.ContentType, Size: int64(len(f.Content)), SHA256: hex.EncodeToString(sum[:])}
	key := table + "/" + id
	t.files[key] = append(t.files[key], file{info: info, content: slices.Clone(f.Content)})
	return info, nil
}

// Attachments implements loader.Target.
func (t *Target) Attachments(ctx context.Context, table, id string) ([]loader.AttachmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tables[table][id]; !ok {
		return nil, fmt.Errorf("memory: attachments of %s %s: %w", table, id, loader.ErrNotFound)
	}
	var out []loader.AttachmentInfo
	for _, f := range t.files[table+"/"+id] {
		out = append(out, f.info)
	}
	return out, nil
}

// Seed inserts a record directly (no checks) and returns its id, to set up
// a test.
func (t *Target) Seed(table string, fields map[string]string) string {
	rec, err := t.Insert(context.Background(), table, fields)
	if err != nil {
		panic(err)
	}
	return rec.ID
}

// Dump returns every table's records, sorted by id.
func (t *Target) Dump() map[string][]loader.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]loader.Record{}
	for table, rows := range t.tables {
		for _, id := range slices.Sorted(maps.Keys(rows)) {
			out[table] = append(out[table], loader.Record{ID: id, Fields: maps.Clone(rows[id])})
		}
	}
	return out
}

// Files returns the attachments of a record.
func (t *Target) Files(table, id string) []loader.AttachmentInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []loader.AttachmentInfo
	for _, f := range t.files[table+"/"+id] {
		out = append(out, f.info)
	}
	return out
}
