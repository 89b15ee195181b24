package sqltarget

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader"
)

var (
	_ loader.BatchGetter           = (*Target)(nil)
	_ loader.BatchAttachmentLister = (*Target)(nil)
)

// Get implements loader.BatchGetter with one SELECT ... WHERE sys_id IN
// (...) per loader.MaxBatch ids. Fields that are not columns read as "".
func (t *Target) Get(ctx context.Context, table string, ids []string, fields []string) ([]loader.Record, error) {
	recs, err := t.get(ctx, table, ids, fields)
	return recs, classify(err)
}

// AttachmentsOf implements loader.BatchAttachmentLister with one SELECT
// on sys_attachment per loader.MaxBatch records.
func (t *Target) AttachmentsOf(ctx context.Context, table string, ids []string) (map[string][]loader.AttachmentInfo, error) {
	files, err := t.attachmentsOf(ctx, table, ids)
	return files, classify(err)
}

func (t *Target) get(ctx context.Context, table string, ids []string, fields []string) ([]loader.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	defer t.lock()()
	cols, err := t.columns(ctx, table)
	if err != nil {
		return nil, err
	}
	read := map[string]bool{}
	for _, f := range fields {
		if cols[f] && f != "sys_id" {
			read[f] = true
		}
	}
	names := slices.Sorted(maps.Keys(read))
	var out []loader.Record
	seen := map[string]bool{}
	for chunk := range slices.Chunk(ids, loader.MaxBatch) {
		sel := t.db.NewSelect().TableExpr("?", bun.Ident(table)).ColumnExpr("?", bun.Ident("sys_id"))
		for _, n := range names {
			sel = sel.ColumnExpr("?", bun.Ident(n))
		}
		rows, err := sel.Where("? IN (?)", bun.Ident("sys_id"), bun.In(chunk)).OrderExpr("? ASC", bun.Ident("sys_id")).Rows(ctx)
		if err != nil {
			return nil, fmt.Errorf("sqltarget: reading %s by sys_id: %w", table, err)
		}
		for rows.Next() {
			vals := make([]sql.NullString, len(names)+1)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqltarget: reading %s by sys_id: %w", table, err)
			}
			if seen[vals[0].String] {
				continue
			}
			seen[vals[0].String] = true
			rec := loader.Record{ID: vals[0].String, Fields: map[string]string{}}
			for i, n := range names {
				rec.Fields[n] = vals[i+1].String
			}
			out = append(out, rec)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqltarget: reading %s by sys_id: %w", table, err)
		}
	}
	return out, nil
}

func (t *Target) attachmentsOf(ctx context.Context, table string, ids []string) (map[string][]loader.AttachmentInfo, error) {
	out := map[string][]loader.AttachmentInfo{}
	if len(ids) == 0 {
		return out, nil
	}
	defer t.lock()()
	for chunk := range slices.Chunk(ids, loader.MaxBatch) {
		var rows []struct {
			ID          string `bun:"sys_id"`
			Record      string `bun:"table_sys_id"`
			Name        string `bun:"file_name"`
			ContentType string `bun:"content_type"`
			Size        int64  `bun:"size_bytes"`
			SHA256      string `bun:"hash"`
		}
		err := t.db.NewSelect().TableExpr("?", bun.Ident(AttachmentsTable)).
			Column("sys_id", "table_sys_id", "file_name", "content_type", "size_bytes", "hash").
			Where("table_name = ? AND table_sys_id IN (?)", table, bun.In(chunk)).
			OrderExpr("sys_created_on ASC, sys_id ASC").Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("sqltarget: listing the files of %d %s records: %w", len(chunk), table, err)
		}
		for _, r := range rows {
			out[r.Record] = append(out[r.Record], loader.AttachmentInfo{ID: r.ID, Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.SHA256})
		}
	}
	return out, nil
}
