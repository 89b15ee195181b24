package staging

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// EventDriftAcknowledged: an operator acknowledged that the target no
// longer holds what the record's last load wrote (AcknowledgeDrift).
const EventDriftAcknowledged EventKind = "drift_acknowledged"

// ActionAcknowledgeDrift is the action of AcknowledgeDrift.
const ActionAcknowledgeDrift Action = "acknowledge drift"

// DriftAck is the latest drift acknowledgement of a record.
type DriftAck struct {
	RecordID int64 `json:"record_id"`
	// Fingerprint identifies the drift that was acknowledged; the caller
	// computes it (the flow hashes each drift with the target's values).
	Fingerprint string `json:"fingerprint"`
	// Event is the history event that holds it.
	Event Event `json:"event"`
}

// AcknowledgeDrift records in the history of a loaded record that the
// drift identified by fingerprint (and described by message) was
// acknowledged; the record itself does not change. It fails with a
// *TransitionError when the record is not loaded and with an *InputError
// when fingerprint is empty. By names who acknowledged it.
func (s *Store) AcknowledgeDrift(ctx context.Context, recordID int64, fingerprint, message string, opts ...Option) (Event, error) {
	o := newCallOptions(opts)
	if fingerprint == "" {
		return Event{}, &InputError{What: "drift acknowledgement", Problems: []string{"the drift fingerprint is empty: reconcile the record first"}}
	}
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (Event, *Record, error) {
		sum, err := s.summaryByID(ctx, tx, recordID)
		if err != nil {
			return Event{}, nil, err
		}
		if sum.State != StateLoaded {
			return Event{}, nil, &TransitionError{Record: sum.Number, Action: ActionAcknowledgeDrift, State: sum.State, Allowed: []State{StateLoaded}}
		}
		if o.ifVersion != 0 && sum.Version != o.ifVersion {
			return Event{}, nil, &ConflictError{Record: sum.Number, Expected: o.ifVersion, Actual: sum.Version}
		}
		if message == "" {
			message = "drift acknowledged"
		}
		e := event{kind: EventDriftAcknowledged, from: sum.State, to: sum.State, message: message,
			data: map[string]string{"fingerprint": fingerprint}}
		if err := s.addEvent(ctx, tx, &o, recordID, e); err != nil {
			return Event{}, nil, err
		}
		return Event{RecordID: recordID, At: utc(s.clock()), Kind: e.kind, From: e.from, To: e.to, Channel: o.channel, User: o.user,
			Message: e.message, Data: e.data}, nil, nil
	})
}

// DriftAcks returns the latest drift acknowledgement of each of the
// records ids that has one, by record id.
func (s *Store) DriftAcks(ctx context.Context, ids []int64) (map[int64]DriftAck, error) {
	out := map[int64]DriftAck{}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for chunk := range slices.Chunk(ids, 500) {
		var rows []eventRow
		err := s.db.NewSelect().Model(&rows).
			Where("kind = ?", string(EventDriftAcknowledged)).
			Where("record_id IN (?)", bun.List(chunk)).
			Order("id").Scan(ctx)
		if err != nil {
			return nil, fmt.Errorf("staging: reading drift acknowledgements: %w", err)
		}
		for _, r := range rows {
			e := Event{ID: r.ID, RecordID: r.RecordID, At: utc(r.At), Kind: EventKind(r.Kind), From: State(r.From),
				To: State(r.To), Channel: r.Channel, User: r.Actor, Message: r.Message}
			if err := fromJSON("event data", r.Data, &e.Data); err != nil {
				return nil, err
			}
			out[r.RecordID] = DriftAck{RecordID: r.RecordID, Fingerprint: e.Data["fingerprint"], Event: e}
		}
	}
	return out, nil
}
