package staging

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// EventKind names what happened to a record.
type EventKind string

// The kinds of history events.
const (
	EventCreated           EventKind = "created"            // from a payload or a PH email
	EventPayloadUpdated    EventKind = "payload_updated"    // a newer version replaced the payload
	EventPayloadStale      EventKind = "payload_stale"      // an older version was answered stale
	EventPayloadMerged     EventKind = "payload_merged"     // the payload joined a record waiting for it
	EventEmailApplied      EventKind = "email_applied"      // PH fields and files were applied
	EventEmailMerged       EventKind = "email_merged"       // this record's email was copied into another
	EventExceptionOpened   EventKind = "exception_opened"   // an exception was opened
	EventExceptionResolved EventKind = "exception_resolved" // an exception was resolved
	EventNeedsReview       EventKind = "needs_review"       // an operator must decide
	EventReviewResolved    EventKind = "review_resolved"    // the decision was made
	EventLoadStarted       EventKind = "load_started"       // StartLoad
	EventLoadFinished      EventKind = "load_finished"      // FinishLoad
	EventLoadFailed        EventKind = "load_failed"        // FailLoad
	EventLoadRetrying      EventKind = "load_retrying"      // RetryLoad: a transient failure, tried again later
	EventEmailReparsed     EventKind = "email_reparsed"     // ReparseEmail: the kept email parsed again
)

// Event is one entry of a record's history. The history is append-only.
type Event struct {
	ID       int64     `json:"id"`
	RecordID int64     `json:"record_id"`
	At       time.Time `json:"at"`
	Kind     EventKind `json:"kind"`
	// From and To are the states before and after; equal when the state
	// did not change.
	From State `json:"from"`
	To   State `json:"to"`
	// Channel and User say who made the change (Via and By).
	Channel string `json:"channel,omitempty"`
	User    string `json:"user,omitempty"`
	// Message says what changed, for people.
	Message string `json:"message"`
	// Data holds the details (versions, hashes, record numbers, ...).
	Data map[string]string `json:"data,omitempty"`
}

// event is written by the store while a change is made.
type event struct {
	kind     EventKind
	from, to State
	message  string
	data     map[string]string
}

func (s *Store) addEvent(ctx context.Context, tx bun.IDB, o *callOptions, recordID int64, e event) error {
	row := &eventRow{RecordID: recordID, At: s.clock(), Kind: string(e.kind), From: string(e.from),
		To: string(e.to), Channel: o.channel, Actor: o.user, Message: e.message}
	if len(e.data) > 0 {
		row.Data = mustJSON(e.data)
	}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("staging: writing history of record %d: %w", recordID, err)
	}
	return nil
}

// History returns the events of record id, oldest first.
func (s *Store) History(ctx context.Context, id int64) ([]Event, error) {
	if _, err := s.summaryByID(ctx, s.db, id); err != nil {
		return nil, err
	}
	var rows []eventRow
	if err := s.db.NewSelect().Model(&rows).Where("record_id = ?", id).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("staging: reading history of record %d: %w", id, err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		e := Event{ID: r.ID, RecordID: r.RecordID, At: utc(r.At), Kind: EventKind(r.Kind), From: State(r.From),
			To: State(r.To), Channel: r.Channel, User: r.Actor, Message: r.Message}
		if err := fromJSON("event data", r.Data, &e.Data); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
