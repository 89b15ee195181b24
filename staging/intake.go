package staging

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// IntakeOutcome says what Intake did with a payload.
type IntakeOutcome string

// The outcomes of Intake.
const (
	// IntakeCreated: a new record (received, or needs_review when several
	// PH emails wait for this deal).
	IntakeCreated IntakeOutcome = "created"
	// IntakeDuplicate: the same payload (Salesforce id and content hash)
	// was staged already; nothing changed.
	IntakeDuplicate IntakeOutcome = "duplicate"
	// IntakeUpdated: a newer version replaced the payload; the previous one
	// is kept in PayloadHistory.
	IntakeUpdated IntakeOutcome = "updated"
	// IntakeStale: the payload is older than (or as old as, with other
	// content) the staged one, which is kept. Answer it with 409.
	IntakeStale IntakeOutcome = "stale"
	// IntakeMerged: the payload joined a record created from its PH email,
	// which is now ready; the "Salesforce data is missing" exception is
	// resolved.
	IntakeMerged IntakeOutcome = "merged"
)

// IntakeResult is Intake's answer.
type IntakeResult struct {
	Outcome IntakeOutcome
	// Record is the staged record after the call (for stale and duplicate:
	// as it is).
	Record *Record
	// Previous is the payload that was replaced (updated) or kept (stale).
	Previous *PayloadData
	// MergedRecord is the id of the record whose PH email joined this
	// payload: Record.ID for IntakeMerged, the id of the now merged record
	// when an update picked up a waiting email, 0 otherwise.
	MergedRecord int64
	// Reason explains a stale answer.
	Reason string
}

// Intake stages a Salesforce payload, idempotently: the same payload again
// is a duplicate, a newer version updates the record (keeping the previous
// one), an older version is stale and changes nothing. Concurrent identical
// posts give one record: a unique constraint on the Salesforce id decides.
// A new deal joins the record of a PH email waiting for it. Intake does
// nothing remote. InTx functions run on created, updated and merged.
//
// On Postgres new deals arriving together are written in one batch (see
// the package documentation). When ctx ends while a deal waits for its
// batch, Intake returns ctx's error although the deal may be staged: a
// redelivery is then answered as a duplicate. Pass a context that outlives
// the request (context.WithoutCancel) where a caller may hang up. After
// Close, Intake returns ErrClosed.
func (s *Store) Intake(ctx context.Context, p Payload, opts ...Option) (IntakeResult, error) {
	if s.closed.Load() {
		return IntakeResult{}, ErrClosed
	}
	if err := p.check(); err != nil {
		return IntakeResult{}, err
	}
	o := newCallOptions(opts)
	// A deal seen for the first time is staged in a batch on Postgres.
	if res, ok, err := s.intakeNewFast(ctx, &o, &p); ok || err != nil {
		return res, err
	}
	// A redelivery is answered without a write.
	cur, err := s.recordBySFID(ctx, s.db, p.SalesforceID, false)
	switch {
	case err == nil && cur.Payload.Hash == p.Hash:
		return IntakeResult{Outcome: IntakeDuplicate, Record: cur}, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return IntakeResult{}, err
	}
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (IntakeResult, *Record, error) {
		return s.intakeTx(ctx, tx, &o, &p)
	})
}

// versionText names a payload version for people the way Salesforce shows
// it: its LastModifiedDate in UTC (to the minute, or to the second or
// millisecond when it has them), or the sender's sequence number when the
// payload has no LastModifiedDate.
func versionText(version int64, modified time.Time) string {
	if modified.IsZero() {
		return fmt.Sprintf("sequence %d", version)
	}
	m := modified.UTC()
	layout := "2006-01-02 15:04"
	switch {
	case m.Nanosecond()/int(time.Millisecond) != 0:
		layout += ":05.000"
	case m.Second() != 0:
		layout += ":05"
	}
	return "LastModifiedDate " + m.Format(layout) + " UTC"
}

// createdEvent is the history event of a deal staged for the first time.
func createdEvent(p *Payload) event {
	return event{kind: EventCreated, to: StateReceived,
		message: fmt.Sprintf("Salesforce payload %s staged", p.SalesforceID),
		data:    map[string]string{"salesforce_id": p.SalesforceID, "version": itoa(p.Version), "hash": p.Hash}}
}

func (s *Store) intakeTx(ctx context.Context, tx bun.Tx, o *callOptions, p *Payload) (IntakeResult, *Record, error) {
	norm := normalize(p.Keys)
	if err := s.lockECC(ctx, tx, norm.ECC); err != nil {
		return IntakeResult{}, nil, err
	}
	cur, err := s.recordBySFID(ctx, tx, p.SalesforceID, true)
	if errors.Is(err, ErrNotFound) {
		return s.intakeNew(ctx, tx, o, p, norm)
	}
	if err != nil {
		return IntakeResult{}, nil, err
	}
	prev := cur.Payload
	switch {
	case prev.Hash == p.Hash:
		return IntakeResult{Outcome: IntakeDuplicate, Record: cur}, nil, nil
	case p.Version < prev.Version, p.Version == prev.Version:
		reason := fmt.Sprintf("this payload (%s) is older than the staged one (%s)", versionText(p.Version, p.ModifiedAt), versionText(prev.Version, prev.ModifiedAt))
		if p.Version == prev.Version {
			reason = fmt.Sprintf("this payload has the staged %s but other content; send changes with a newer LastModifiedDate or sequence", versionText(p.Version, p.ModifiedAt))
		}
		err := s.addEvent(ctx, tx, o, cur.ID, event{kind: EventPayloadStale, from: cur.State, to: cur.State,
			message: "Salesforce payload not applied: " + reason,
			data:    map[string]string{"version": itoa(p.Version), "hash": p.Hash, "staged_version": itoa(prev.Version)}})
		if err != nil {
			return IntakeResult{}, nil, err
		}
		return IntakeResult{Outcome: IntakeStale, Record: cur, Previous: prev, Reason: reason}, nil, nil
	}
	return s.intakeUpdate(ctx, tx, o, p, norm, cur)
}

// intakeNew stages the first payload of a deal.
func (s *Store) intakeNew(ctx context.Context, tx bun.Tx, o *callOptions, p *Payload, norm normKeys) (IntakeResult, *Record, error) {
	waiting, err := s.waitingFor(ctx, tx, norm, 0)
	if err != nil {
		return IntakeResult{}, nil, err
	}
	data := p.data(s.clock())
	if len(waiting) == 1 {
		w := waiting[0]
		from := w.State
		w.Payload = data
		s.setState(w, StateReady)
		resolved := s.resolveExceptions(w, ExceptionPayloadMissing,
			fmt.Sprintf("resolved automatically: Salesforce payload %s (%s) arrived", p.SalesforceID, versionText(p.Version, p.ModifiedAt)))
		if err := s.saveRecord(ctx, tx, w); err != nil {
			return IntakeResult{}, nil, err
		}
		if err := s.addEvent(ctx, tx, o, w.ID, event{kind: EventPayloadMerged, from: from, to: w.State,
			message: fmt.Sprintf("Salesforce payload %s arrived and joined the PH email waiting on this record", p.SalesforceID),
			data:    map[string]string{"salesforce_id": p.SalesforceID, "version": itoa(p.Version), "hash": p.Hash}}); err != nil {
			return IntakeResult{}, nil, err
		}
		for _, e := range resolved {
			if err := s.addEvent(ctx, tx, o, w.ID, event{kind: EventExceptionResolved, from: w.State, to: w.State,
				message: fmt.Sprintf("exception %q %s", e.Message, e.Resolution), data: map[string]string{"exception": string(e.Kind)}}); err != nil {
				return IntakeResult{}, nil, err
			}
		}
		return IntakeResult{Outcome: IntakeMerged, Record: w, MergedRecord: w.ID}, w, nil
	}

	r := &Record{Payload: data, Attachments: []Attachment{}}
	r.State = StateReceived
	if len(waiting) > 1 {
		r.State = StateNeedsReview
		r.Review = &Review{Source: ReviewPayload, RaisedAt: s.clock(), Candidates: candidatesOf(waiting),
			Reason: fmt.Sprintf("%d PH emails wait for this deal (%s): choose the one that belongs to it", len(waiting), numbersOf(waiting))}
	}
	ok, err := s.insertRecord(ctx, tx, r, nil)
	if err != nil {
		return IntakeResult{}, nil, err
	}
	if !ok {
		return IntakeResult{}, nil, errRetry // another delivery of this deal was first
	}
	if err := s.addEvent(ctx, tx, o, r.ID, createdEvent(p)); err != nil {
		return IntakeResult{}, nil, err
	}
	if r.Review != nil {
		if err := s.addEvent(ctx, tx, o, r.ID, event{kind: EventNeedsReview, from: StateReceived, to: r.State,
			message: r.Review.Reason, data: map[string]string{"candidates": numbersOf(waiting)}}); err != nil {
			return IntakeResult{}, nil, err
		}
	}
	return IntakeResult{Outcome: IntakeCreated, Record: r}, r, nil
}

// intakeUpdate replaces the payload of cur with a newer version.
func (s *Store) intakeUpdate(ctx context.Context, tx bun.Tx, o *callOptions, p *Payload, norm normKeys, cur *Record) (IntakeResult, *Record, error) {
	prev := cur.Payload
	now := s.clock()
	hist := &payloadHistoryRow{RecordID: cur.ID, SalesforceID: prev.SalesforceID, Version: prev.Version, Hash: prev.Hash,
		Raw: []byte(prev.Raw), Info: mustJSON(infoOf(prev)), ModifiedAt: prev.ModifiedAt, ReceivedAt: prev.ReceivedAt, SupersededAt: now}
	if _, err := tx.NewInsert().Model(hist).Exec(ctx); err != nil {
		return IntakeResult{}, nil, fmt.Errorf("staging: keeping payload version %d of %s: %w", prev.Version, cur.Number, err)
	}
	cur.Payload = p.data(now)
	msg := fmt.Sprintf("Salesforce payload updated: newer version (%s, was %s)", versionText(p.Version, p.ModifiedAt), versionText(prev.Version, prev.ModifiedAt))
	if cur.State == StateLoaded || cur.State == StateLoading {
		cur.ChangedSinceLoad = true
		msg += "; changed since load, it can be loaded again"
	}
	if err := s.addEvent(ctx, tx, o, cur.ID, event{kind: EventPayloadUpdated, from: cur.State, to: cur.State, message: msg,
		data: map[string]string{"from_version": itoa(prev.Version), "to_version": itoa(p.Version), "from_hash": prev.Hash, "to_hash": p.Hash}}); err != nil {
		return IntakeResult{}, nil, err
	}
	res := IntakeResult{Outcome: IntakeUpdated, Record: cur, Previous: prev}
	// A deal still without its email may now find one that waits (its keys
	// may have been corrected by this version).
	if cur.State == StateReceived && cur.PH == nil {
		waiting, err := s.waitingFor(ctx, tx, norm, cur.ID)
		if err != nil {
			return IntakeResult{}, nil, err
		}
		if len(waiting) == 1 {
			if err := s.mergeEmailInto(ctx, tx, o, waiting[0], cur, "the Salesforce payload arrived in a newer version"); err != nil {
				return IntakeResult{}, nil, err
			}
			res.MergedRecord = waiting[0].ID
		}
	}
	if err := s.saveRecord(ctx, tx, cur); err != nil {
		return IntakeResult{}, nil, err
	}
	return res, cur, nil
}

// waitingFor returns, locked, the records created from a PH email alone
// that wait for a payload with these keys (same ECC id; DR number and sales
// order number equal where both have one).
func (s *Store) waitingFor(ctx context.Context, tx bun.IDB, norm normKeys, exclude int64) ([]*Record, error) {
	if norm.ECC == "" {
		return nil, nil
	}
	rs, err := s.selectRecords(ctx, tx, true, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("r.ecc_key = ? AND r.state = ? AND r.sf_id IS NULL AND r.id <> ?", norm.ECC, StateWaitingForPayload, exclude)
	})
	if err != nil {
		return nil, err
	}
	return filter(rs, func(r *Record) bool { return agree(norm, normalize(r.Keys)) }), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
