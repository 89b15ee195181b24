package memory

import (
	"context"
	"maps"

	"github.com/bookbridge/bookbridge/loader"
)

var (
	_ loader.BatchGetter           = (*Target)(nil)
	_ loader.BatchAttachmentLister = (*Target)(nil)
)

// Get implements loader.BatchGetter.
func (t *Target) Get(ctx context.Context, table string, ids []string, _ []string) ([]loader.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkTable(table); err != nil {
		return nil, err
	}
	var out []loader.Record
	seen := map[string]bool{}
	for _, id := range ids {
		row, ok := t.tables[table][id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, loader.Record{ID: id, Fields: maps.Clone(row)})
	}
	return out, nil
}

// AttachmentsOf implements loader.BatchAttachmentLister.
func (t *Target) AttachmentsOf(ctx context.Context, table string, ids []string) (map[string][]loader.AttachmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]loader.AttachmentInfo{}
	for _, id := range ids {
		for _, f := range t.files[table+"/"+id] {
			out[id] = append(out[id], f.info)
		}
	}
	return out, nil
}

// Delete removes a record directly, as a person might in the target, to
// set up a test.
func (t *Target) Delete(table, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.tables[table], id)
	delete(t.files, table+"/"+id)
}

// Set changes fields of a record directly, as a person might in the
// target, to set up a test.
func (t *Target) Set(table, id string, fields map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if row, ok := t.tables[table][id]; ok {
		maps.Copy(row, fields)
	}
}
