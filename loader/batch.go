package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// MaxBatch is the most ids GetRows and ListAttachments send in one call,
// so that one call's query (a ServiceNow URL, an SQL IN list) stays
// short.
const MaxBatch = 100

// BatchGetter is implemented by targets that read many records of one
// table by id in one call (ServiceNow's sys_idIN query, SQL's IN list).
// Every target of this module implements it; GetRows falls back to Find
// for a target that does not.
//
// Get returns the records of table whose ID is one of ids, each once, with
// at least the fields named in fields (an absent field reads as "", as in
// Find). An id no record has is left out of the answer, not an error; an
// id the target cannot hold (not a sys_id, say) is left out too, never
// approximated. An unknown table is an error. With no ids it returns no
// records and makes no call.
type BatchGetter interface {
	Get(ctx context.Context, table string, ids []string, fields []string) ([]Record, error)
}

// BatchAttachmentLister is implemented by targets that list the files of
// many records of one table in one call. AttachmentsOf returns the files
// by record id; records without files (or that do not exist) are absent.
// ListAttachments falls back to one Attachments call per record for a
// target that does not implement it.
type BatchAttachmentLister interface {
	AttachmentsOf(ctx context.Context, table string, ids []string) (map[string][]AttachmentInfo, error)
}

// RowRef names a row to read back: its id and the match values it was
// found or inserted with. The match is used only with a target that is
// not a BatchGetter.
type RowRef struct {
	ID    string
	Match map[string]string
}

// ErrNoMatch: a row to read back from a target that cannot read by id
// has no match values to find it by.
var ErrNoMatch = errors.New("loader: the target cannot read records by id and the row has no match values")

// GetRows reads rows of table back by id, at most MaxBatch per call, and
// returns the records found by id (a row that no longer exists is absent)
// and the number of calls made. fields are the fields the caller reads.
//
// A target that is not a BatchGetter is read with Find on the rows' match
// values (one alternative per row) and the answer kept to the asked ids: a
// row whose match fields were changed is then not found.
func GetRows(ctx context.Context, t Target, table string, rows []RowRef, fields []string) (map[string]Record, int, error) {
	out := make(map[string]Record, len(rows))
	seen := make(map[string]bool, len(rows))
	var uniq []RowRef
	for _, r := range rows {
		if r.ID != "" && !seen[r.ID] {
			seen[r.ID] = true
			uniq = append(uniq, r)
		}
	}
	bg, batched := t.(BatchGetter)
	calls := 0
	for chunk := range slices.Chunk(uniq, MaxBatch) {
		var recs []Record
		var err error
		if batched {
			ids := make([]string, len(chunk))
			for i, r := range chunk {
				ids[i] = r.ID
			}
			recs, err = bg.Get(ctx, table, ids, fields)
		} else {
			q := Query{Table: table, Fields: fields}
			for _, r := range chunk {
				if len(r.Match) == 0 {
					return nil, calls, fmt.Errorf("%w: %s %s", ErrNoMatch, table, r.ID)
				}
				q.Where = append(q.Where, r.Match)
			}
			recs, err = t.Find(ctx, q)
		}
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("reading %d %s records back: %w", len(chunk), table, err)
		}
		for _, rec := range recs {
			if seen[rec.ID] {
				out[rec.ID] = rec
			}
		}
	}
	return out, calls, nil
}

// ListAttachments lists the files of records of table by record id (a
// record without files is absent), at most MaxBatch records per call with
// a BatchAttachmentLister, one call per record otherwise. It returns the
// number of calls made.
func ListAttachments(ctx context.Context, t Target, table string, ids []string) (map[string][]AttachmentInfo, int, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
	out := map[string][]AttachmentInfo{}
	calls := 0
	if bl, ok := t.(BatchAttachmentLister); ok {
		for chunk := range slices.Chunk(ids, MaxBatch) {
			got, err := bl.AttachmentsOf(ctx, table, chunk)
			calls++
			if err != nil {
				return nil, calls, fmt.Errorf("listing the files of %d %s records: %w", len(chunk), table, err)
			}
			for id, files := range got {
				if len(files) > 0 {
					out[id] = files
				}
			}
		}
		return out, calls, nil
	}
	for _, id := range ids {
		files, err := t.Attachments(ctx, table, id)
		calls++
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, calls, fmt.Errorf("listing the files of %s %s: %w", table, id, err)
		}
		if len(files) > 0 {
			out[id] = files
		}
	}
	return out, calls, nil
}
