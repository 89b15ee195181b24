package staging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// MaxFileNameBytes is the longest file name staging keeps; longer names are
// shortened, keeping the extension.
const MaxFileNameBytes = 180

// SanitizeFileName returns a file name that is safe to store and to offer
// for download: no directories, no control or bidirectional-override
// characters, none of <>:"/\|?*, no leading or trailing dots and spaces, no
// Windows device name, at most MaxFileNameBytes bytes. An empty result
// becomes "attachment".
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, c := range name {
		switch {
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c):
			continue
		case strings.ContainsRune(`<>:"|?*`, c):
			c = '_'
		case unicode.IsSpace(c):
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(c)
	}
	name = strings.Trim(b.String(), " .")
	base, ext := splitExt(name)
	if isDeviceName(base) {
		base = "_" + base
	}
	if len(ext) > 16 {
		base, ext = base+ext, ""
	}
	if max := MaxFileNameBytes - len(ext); len(base) > max {
		base = base[:max]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		base = strings.TrimRight(base, " .")
	}
	name = base + ext
	if base == "" {
		return "attachment" + ext
	}
	return name
}

func splitExt(name string) (string, string) {
	ext := path.Ext(name)
	if ext == name {
		return name, ""
	}
	return strings.TrimSuffix(name, ext), ext
}

func isDeviceName(base string) bool {
	u := strings.ToUpper(base)
	switch u {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(u) == 4 && (strings.HasPrefix(u, "COM") || strings.HasPrefix(u, "LPT")) && u[3] >= '1' && u[3] <= '9'
}

// cleanContentType returns the media type without parameters, lower case,
// or application/octet-stream when it cannot be read.
func cleanContentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return mt
}

// addAttachments stores the email's files on r: bytes into the blob store,
// a row each into staging_attachments.
func (s *Store) addAttachments(ctx context.Context, tx bun.IDB, r *Record, emailID int64, files []EmailAttachment) error {
	now := s.clock()
	for _, f := range files {
		if err := s.blobs.Put(ctx, tx, f.SHA256, f.Data); err != nil {
			return err
		}
		row := &attachmentRow{RecordID: r.ID, EmailID: emailID, FileName: SanitizeFileName(f.FileName),
			ContentType: cleanContentType(f.ContentType), Size: int64(len(f.Data)), SHA256: f.SHA256,
			Usable: f.Usable, Warnings: jsonList(f.Warnings), CreatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("staging: storing attachment %q: %w", row.FileName, err)
		}
		a, err := row.attachment()
		if err != nil {
			return err
		}
		r.Attachments = append(r.Attachments, a)
	}
	return nil
}

// copyAttachments copies the attachments of email emailID from src onto
// dst: new rows that point at the same bytes. The originals stay on src.
func (s *Store) copyAttachments(ctx context.Context, tx bun.IDB, src, dst *Record, emailID int64) error {
	now := s.clock()
	for _, a := range src.Attachments {
		if a.EmailID != emailID {
			continue
		}
		row := &attachmentRow{RecordID: dst.ID, EmailID: a.EmailID, FileName: a.FileName, ContentType: a.ContentType,
			Size: a.Size, SHA256: a.SHA256, Usable: a.Usable, Warnings: jsonList(a.Warnings),
			CopiedFrom: a.ID, CreatedAt: now}
		if _, err := tx.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("staging: copying attachment %q to %s: %w", a.FileName, dst.Number, err)
		}
		c, err := row.attachment()
		if err != nil {
			return err
		}
		dst.Attachments = append(dst.Attachments, c)
	}
	return nil
}

// loadAttachments fills the attachments of rs.
func (s *Store) loadAttachments(ctx context.Context, db bun.IDB, rs []*Record) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[int64]*Record, len(rs))
	ids := make([]int64, 0, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	var rows []attachmentRow
	if err := db.NewSelect().Model(&rows).Where("a.record_id IN (?)", bun.List(ids)).Order("a.id").Scan(ctx); err != nil {
		return fmt.Errorf("staging: reading attachments: %w", err)
	}
	for i := range rows {
		a, err := rows[i].attachment()
		if err != nil {
			return err
		}
		byID[a.RecordID].Attachments = append(byID[a.RecordID].Attachments, a)
	}
	return nil
}

// Attachment returns an attachment of record recordID with its bytes.
func (s *Store) Attachment(ctx context.Context, recordID, attachmentID int64) (Attachment, []byte, error) {
	var row attachmentRow
	err := s.db.NewSelect().Model(&row).Where("a.id = ? AND a.record_id = ?", attachmentID, recordID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, nil, notFound(fmt.Sprintf("attachment of record %d", recordID), attachmentID)
	}
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("staging: reading attachment %d: %w", attachmentID, err)
	}
	a, err := row.attachment()
	if err != nil {
		return Attachment{}, nil, err
	}
	data, err := s.blobs.Get(ctx, s.db, a.SHA256)
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("staging: bytes of attachment %d (%s): %w", a.ID, a.FileName, err)
	}
	return a, data, nil
}
