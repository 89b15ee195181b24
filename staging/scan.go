package staging

import (
	"context"

	"github.com/uptrace/bun"
)

// ScanFilter selects records for Scan.
type ScanFilter struct {
	// States keeps records in any of these states; empty: all.
	States []State
	// OrLoaded also keeps records that have been loaded once (LoadedAt
	// set), whatever their state now.
	OrLoaded bool
	// IDs keeps only these records; empty: all.
	IDs []int64
	// AfterID starts the page after this record id (the last id of the
	// previous page); 0: from the first record.
	AfterID int64
	// Limit is the page size: default 500, at most 2000.
	Limit int
	// WithJournal also reads the load journal (the plan of the last load).
	WithJournal bool
}

// Scan reads a page of records for planning in bulk: each with its
// payload, PH data, attachments and load times, but without the load's
// result document, and without its journal unless WithJournal. Records come in id order; the next page
// starts after the last id of this one, and a page shorter than the limit
// is the last.
func (s *Store) Scan(ctx context.Context, f ScanFilter) ([]*Record, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 500
	case limit > 2000:
		limit = 2000
	}
	// The page's ids are picked first, from the id alone (an index on the
	// state holds it), and only their rows are read whole, by primary key:
	// a database that filters on the state index would otherwise sort
	// every remaining row, documents included, for each page.
	ids := s.db.NewSelect().Model((*recordRow)(nil)).Column("r.id").
		Where("r.id > ?", f.AfterID).Order("r.id").Limit(int64(limit))
	if len(f.IDs) > 0 {
		ids = ids.Where("r.id IN (?)", bun.List(f.IDs))
	}
	if len(f.States) > 0 || f.OrLoaded {
		ids = ids.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			if len(f.States) > 0 {
				q = q.WhereOr("r.state IN (?)", bun.List(f.States))
			}
			if f.OrLoaded {
				q = q.WhereOr("r.loaded_at IS NOT NULL")
			}
			return q
		})
	}
	return s.selectRecords(ctx, s.db, false, func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.WithJournal {
			q = q.ExcludeColumn("load_result", "search_text")
		} else {
			q = q.ExcludeColumn("load_journal", "load_result", "search_text")
		}
		return q.Where("r.id IN (?)", ids)
	})
}
