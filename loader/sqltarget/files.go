package sqltarget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/loader"
)

// attach stores the file in sys_attachment.
func (t *Target) attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	defer t.lock()()
	if _, err := t.columns(ctx, table); err != nil {
		return loader.AttachmentInfo{}, err
	}
	n, err := t.db.NewSelect().TableExpr("?", bun.Ident(table)).Where("? = ?", bun.Ident("sys_id"), id).Count(ctx)
	if err != nil {
		return loader.AttachmentInfo{}, fmt.Errorf("sqltarget: reading %s: %w", table, err)
	}
	if n == 0 {
		return loader.AttachmentInfo{}, fmt.Errorf("sqltarget: attaching %s to %s %s: %w", f.Name, table, id, loader.ErrNotFound)
	}
	sum := sha256.Sum256(f.Content)
	content := f.Content
	if content == nil {
		content = []byte{}
	}
	info := loader.AttachmentInfo{ID: newID(), Name: f.Name, ContentType: f.ContentType, Size: int64(len(f.Content)), SHA256: hex.EncodeToString(sum[:])}
	_, err = t.db.NewRaw("INSERT INTO ? (sys_id, sys_created_on, table_name, table_sys_id, file_name, content_type, size_bytes, hash, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		bun.Ident(AttachmentsTable), info.ID, t.stamp(), table, id, info.Name, info.ContentType, info.Size, info.SHA256, content).Exec(ctx)
	if err != nil {
		return loader.AttachmentInfo{}, fmt.Errorf("sqltarget: storing %s on %s %s: %w", f.Name, table, id, err)
	}
	return info, nil
}

// attachments lists the files of a record.
func (t *Target) attachments(ctx context.Context, table, id string) ([]loader.AttachmentInfo, error) {
	defer t.lock()()
	var rows []struct {
		ID          string `bun:"sys_id"`
		Name        string `bun:"file_name"`
		ContentType string `bun:"content_type"`
		Size        int64  `bun:"size_bytes"`
		SHA256      string `bun:"hash"`
	}
	err := t.db.NewSelect().TableExpr("?", bun.Ident(AttachmentsTable)).
		Column("sys_id", "file_name", "content_type", "size_bytes", "hash").
		Where("table_name = ? AND table_sys_id = ?", table, id).
		OrderExpr("sys_created_on ASC, sys_id ASC").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: listing the files of %s %s: %w", table, id, err)
	}
	out := make([]loader.AttachmentInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, loader.AttachmentInfo{ID: r.ID, Name: r.Name, ContentType: r.ContentType, Size: r.Size, SHA256: r.SHA256})
	}
	return out, nil
}

// FileContent returns the bytes of the attachment with that id.
func (t *Target) FileContent(ctx context.Context, id string) ([]byte, error) {
	defer t.lock()()
	var content []byte
	err := t.db.NewSelect().TableExpr("?", bun.Ident(AttachmentsTable)).Column("content").Where("sys_id = ?", id).Scan(ctx, &content)
	if err != nil {
		return nil, fmt.Errorf("sqltarget: reading attachment %s: %w", id, err)
	}
	return content, nil
}
