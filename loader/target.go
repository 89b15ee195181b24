package loader

import (
	"context"
	"errors"
)

// Target is a system of record that a plan is applied to: ServiceNow, SQL
// tables, or memory. Every method takes a context and must return promptly
// when it is cancelled. A Target must be safe for concurrent use: the
// executor calls it from several goroutines at once (bounded by
// [Options.Concurrency]).
//
// The semantics every target meets (the conformance suite in
// loader/loadertest checks each of them):
//
//   - Values are strings. An absent field and an empty string are the same
//     value: "".
//   - Find returns the records of q.Table that match q: a record matches
//     when, for at least one element of q.Where, every field of the element
//     equals the record's field exactly (byte for byte: case-sensitive, no
//     wildcards, no trimming, no Unicode folding). Each record is returned
//     once, with its ID and at least the fields named in q.Fields.
//   - With q.Limit > 0, Find returns exactly min(q.Limit, number of matches)
//     records; with q.Limit == 0 it returns all of them. The order is
//     unspecified. A caller that gets q.Limit records back must assume there
//     may be more.
//   - A value the target cannot express exactly in its query language is
//     rejected with an error wrapping [ErrUnsupportedValue]; a target never
//     approximates a condition (an approximation could match the wrong
//     record and update it).
//   - Insert creates one record and returns it with its new ID and the
//     stored value of every field it was given. A field the table does not
//     have is either rejected with an error or ignored; when ignored it is
//     absent from the returned record, so the caller can tell.
//   - Update sets only the given fields of the record with that ID and
//     returns the stored values like Insert; other fields keep their
//     values. An unknown ID is an error wrapping [ErrNotFound].
//   - Attach stores one file on the record with that ID and returns its
//     metadata; a record may carry several files with the same name.
//     Attachments lists them with the SHA-256 (lowercase hex) of each
//     file's content. Attach to an unknown ID is an error wrapping
//     [ErrNotFound]; Attachments of an unknown ID returns no files or that
//     error.
//   - When a write may or may not have happened (a timeout after the request
//     was sent, a gateway error), the error wraps [ErrOutcomeUnknown]. The
//     executor then looks for the record (or file) before it writes again,
//     so such a write is never duplicated. Targets must not retry writes
//     whose outcome is unknown on their own.
//
// A Target that also implements [Transactional] is written inside one
// transaction per load.
type Target interface {
	Find(ctx context.Context, q Query) ([]Record, error)
	Insert(ctx context.Context, table string, fields map[string]string) (Record, error)
	Update(ctx context.Context, table, id string, fields map[string]string) (Record, error)
	Attach(ctx context.Context, table, id string, file File) (AttachmentInfo, error)
	Attachments(ctx context.Context, table, id string) ([]AttachmentInfo, error)
}

// Transactional is implemented by targets that can group the writes of one
// load into a transaction (the SQL target). The executor begins one before
// the first call, commits it when the load ends without error (also when
// it stops at an exception) and rolls it back on error. Journal writes are
// then reported to [Options.OnWrite] once, after the commit, because
// nothing before it is durable.
type Transactional interface {
	Begin(ctx context.Context) (Tx, error)
}

// Tx is a Target bound to an open transaction.
type Tx interface {
	Target
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Query selects records of one table. See [Target] for the matching rules.
type Query struct {
	Table string
	// Where holds alternatives: a record matches when it equals every
	// field of at least one element. One element is the usual match; the
	// executor sends several to find all items of a foreach step at once.
	// Every element has at least one field.
	Where []map[string]string
	// Fields are the fields the caller reads from the records; the target
	// returns at least these (a target may return more).
	Fields []string
	// Limit caps the number of records returned; 0 means all.
	Limit int
}

// Record is one record of a target table.
type Record struct {
	// ID is the target's identifier: a ServiceNow sys_id, or the sys_id
	// column of the SQL target.
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields"`
}

// File is an attachment to store on a record.
type File struct {
	Name        string
	ContentType string
	Content     []byte
}

// AttachmentInfo describes a file attached to a record.
type AttachmentInfo struct {
	ID          string `json:"id"`
	Name        string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// SHA256 is the lowercase hex SHA-256 of the file's content.
	SHA256 string `json:"sha256"`
}

// Conditions for which callers test with errors.Is.
var (
	// ErrNotFound: the record named by an ID does not exist.
	ErrNotFound = errors.New("loader: record not found")
	// ErrUnsupportedValue: a match value cannot be expressed exactly in
	// the target's query language; change the mapping rule's match field.
	ErrUnsupportedValue = errors.New("loader: value cannot be used in a query")
	// ErrOutcomeUnknown: a write was sent but its result never arrived; it
	// may or may not have taken effect.
	ErrOutcomeUnknown = errors.New("loader: outcome of the write is unknown")
	// ErrMultipleMatches: a step's match found several records and its
	// policy is "fail".
	ErrMultipleMatches = errors.New("loader: several records match")
	// ErrInvalidPlan: the plan breaks a rule of Plan; the error
	// lists every problem.
	ErrInvalidPlan = errors.New("loader: invalid plan")
	// ErrJournalMismatch: the journal passed to Apply was written for
	// another plan.
	ErrJournalMismatch = errors.New("loader: the journal belongs to another plan")
	// ErrAttachmentChanged: the bytes of a staging attachment do not have
	// the SHA-256 the plan recorded.
	ErrAttachmentChanged = errors.New("loader: attachment content does not match its sha256")
)
