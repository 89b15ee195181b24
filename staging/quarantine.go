package staging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// QuarantineEntry is a message that could not be staged (no ECC id, or a
// parser error the caller reports), kept with the reason for review.
type QuarantineEntry struct {
	ID         int64     `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
	Channel    string    `json:"channel,omitempty"`
	Reason     string    `json:"reason"`
	MessageID  string    `json:"message_id,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	From       string    `json:"from,omitempty"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
}

type quarantineMeta struct{ messageID, subject, from string }

// Quarantine keeps a message that cannot be staged, with the reason and
// the channel it came through, for review. The same message twice is kept
// once (the first entry is returned). InTx functions run with a nil record
// when an entry is added.
func (s *Store) Quarantine(ctx context.Context, raw []byte, reason, channel string, opts ...Option) (QuarantineEntry, error) {
	o := newCallOptions(opts)
	if channel != "" {
		o.channel = channel
	}
	return s.quarantine(ctx, &o, raw, reason, quarantineMeta{})
}

func (s *Store) quarantine(ctx context.Context, o *callOptions, raw []byte, reason string, meta quarantineMeta) (QuarantineEntry, error) {
	if err := checkReason(reason); err != nil {
		return QuarantineEntry{}, err
	}
	// The InTx functions get a nil record: nothing was staged.
	adapted := *o
	adapted.inTx = nil
	for _, f := range o.inTx {
		adapted.inTx = append(adapted.inTx, func(ctx context.Context, tx bun.Tx, _ *Record) error { return f(ctx, tx, nil) })
	}
	sum := sha256Hex(raw)
	return write(ctx, s, &adapted, func(ctx context.Context, tx bun.Tx) (QuarantineEntry, *Record, error) {
		if err := s.blobs.Put(ctx, tx, sum, raw); err != nil {
			return QuarantineEntry{}, nil, err
		}
		row := &quarantineRow{SHA256: sum, Size: int64(len(raw)), Reason: strings.TrimSpace(reason), Channel: o.channel,
			MessageID: meta.messageID, Subject: meta.subject, From: meta.from, ReceivedAt: s.clock()}
		res, err := tx.NewInsert().Model(row).On("CONFLICT (sha256) DO NOTHING").Returning("id").Exec(ctx)
		if err != nil {
			return QuarantineEntry{}, nil, fmt.Errorf("staging: quarantining a message: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 || row.ID == 0 {
			if err := tx.NewSelect().Model(row).Where("q.sha256 = ?", sum).Scan(ctx); err != nil {
				return QuarantineEntry{}, nil, fmt.Errorf("staging: reading quarantine entry: %w", err)
			}
			return row.entry(), nil, nil
		}
		s.log.Warn("staging: message quarantined", "id", row.ID, "reason", row.Reason, "channel", row.Channel, "message_id", row.MessageID)
		return row.entry(), &Record{}, nil
	})
}

func (q *quarantineRow) entry() QuarantineEntry {
	return QuarantineEntry{ID: q.ID, ReceivedAt: utc(q.ReceivedAt), Channel: q.Channel, Reason: q.Reason,
		MessageID: q.MessageID, Subject: q.Subject, From: q.From, SHA256: q.SHA256, Size: q.Size}
}

// QuarantineFilter pages through the quarantine.
type QuarantineFilter struct {
	Limit int    // default 50, at most 500
	After string // QuarantinePage.Next
}

// QuarantinePage is one page of the quarantine, newest first.
type QuarantinePage struct {
	Entries []QuarantineEntry `json:"entries"`
	Next    string            `json:"next,omitempty"`
}

// ListQuarantine returns the quarantined messages, newest first.
func (s *Store) ListQuarantine(ctx context.Context, f QuarantineFilter) (QuarantinePage, error) {
	after, err := decodeCursor(f.After)
	if err != nil {
		return QuarantinePage{}, &InputError{What: "filter", Problems: []string{err.Error()}}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var rows []quarantineRow
	q := s.db.NewSelect().Model(&rows).OrderExpr("q.id DESC").Limit(int64(limit + 1))
	if after > 0 {
		q = q.Where("q.id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return QuarantinePage{}, fmt.Errorf("staging: listing the quarantine: %w", err)
	}
	page := QuarantinePage{Entries: make([]QuarantineEntry, 0, min(len(rows), limit))}
	for i := range rows {
		if i == limit {
			page.Next = encodeCursor(rows[i-1].ID)
			break
		}
		page.Entries = append(page.Entries, rows[i].entry())
	}
	return page, nil
}

// QuarantinedMessage returns a quarantine entry and the message as received.
func (s *Store) QuarantinedMessage(ctx context.Context, id int64) (QuarantineEntry, []byte, error) {
	var row quarantineRow
	err := s.db.NewSelect().Model(&row).Where("q.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return QuarantineEntry{}, nil, notFound("quarantine entry", id)
	}
	if err != nil {
		return QuarantineEntry{}, nil, fmt.Errorf("staging: reading quarantine entry %d: %w", id, err)
	}
	raw, err := s.blobs.Get(ctx, s.db, row.SHA256)
	if err != nil {
		return QuarantineEntry{}, nil, err
	}
	return row.entry(), raw, nil
}
