package staging

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/uptrace/bun"
)

// phFrom is the PH data of an ingested email.
func phFrom(e *Email, row *emailRow) *PHData {
	return &PHData{
		EmailID:     row.ID,
		MessageID:   e.MessageID,
		ContentHash: e.ContentHash,
		From:        e.From,
		Subject:     e.Subject,
		Date:        utc(e.Date).Truncate(0),
		ReceivedAt:  row.ReceivedAt,
		Channel:     row.Channel,
		Fields:      e.Fields,
		Warnings:    slices.Clone(e.Warnings),
		RawSHA256:   row.RawSHA256,
		RawSize:     row.RawSize,
	}
}

// takeEmail moves r on after it received PH data: a received record is
// ready; a loading or loaded one has changed since its load.
func (s *Store) takeEmail(r *Record) {
	switch r.State {
	case StateReceived:
		s.setState(r, StateReady)
	case StateLoading, StateLoaded:
		r.ChangedSinceLoad = true
	}
}

// applyEmail applies an ingested email to r (which is saved by the
// caller): its PH fields replace earlier ones, its files are added.
func (s *Store) applyEmail(ctx context.Context, tx bun.IDB, o *callOptions, r *Record, e *Email, row *emailRow, why string) error {
	from := r.State
	replaced := r.PH != nil
	r.PH = phFrom(e, row)
	if err := s.addAttachments(ctx, tx, r, row.ID, e.Attachments); err != nil {
		return err
	}
	s.takeEmail(r)
	msg := fmt.Sprintf("PH email applied (%s): %d field(s), %d file(s)", why, len(e.Fields), len(e.Attachments))
	if replaced {
		msg += "; it replaces the PH data of an earlier email"
	}
	if r.ChangedSinceLoad && (r.State == StateLoaded || r.State == StateLoading) {
		msg += "; changed since load, it can be loaded again"
	}
	return s.addEvent(ctx, tx, o, r.ID, event{kind: EventEmailApplied, from: from, to: r.State, message: msg,
		data: emailData(r.PH)})
}

// mergeEmailInto copies the PH email of src (a record holding only a PH
// email) into dst (a record with its payload), and closes src as merged.
// Files are copied, never moved: src keeps its evidence. src is saved
// here; dst is saved by the caller.
func (s *Store) mergeEmailInto(ctx context.Context, tx bun.IDB, o *callOptions, src, dst *Record, why string) error {
	if src.PH == nil {
		return fmt.Errorf("staging: %s holds no PH email to merge", src.Number)
	}
	from := dst.State
	ph := *src.PH
	ph.Fields = maps.Clone(src.PH.Fields)
	dst.PH = &ph
	if err := s.copyAttachments(ctx, tx, src, dst, ph.EmailID); err != nil {
		return err
	}
	s.takeEmail(dst)
	if err := s.addEvent(ctx, tx, o, dst.ID, event{kind: EventEmailApplied, from: from, to: dst.State,
		message: fmt.Sprintf("PH email of %s applied (%s); its files were copied", src.Number, why),
		data:    mergeData(emailData(dst.PH), map[string]string{"from_record": src.Number})}); err != nil {
		return err
	}

	srcFrom := src.State
	s.setState(src, StateMerged)
	src.MergedInto = dst.ID
	resolution := fmt.Sprintf("resolved: the PH email was merged into %s", dst.Number)
	resolved := s.resolveExceptions(src, ExceptionPayloadMissing, resolution)
	if src.Review != nil && src.Review.ResolvedAt.IsZero() {
		src.Review.ResolvedAt, src.Review.Resolution = s.clock(), fmt.Sprintf("email applied to %s", dst.Number)
	}
	if err := s.saveRecord(ctx, tx, src); err != nil {
		return err
	}
	if err := s.addEvent(ctx, tx, o, src.ID, event{kind: EventEmailMerged, from: srcFrom, to: StateMerged,
		message: fmt.Sprintf("PH email merged into %s (%s); this record keeps the original and its files", dst.Number, why),
		data:    map[string]string{"into_record": dst.Number}}); err != nil {
		return err
	}
	for _, e := range resolved {
		if err := s.addEvent(ctx, tx, o, src.ID, event{kind: EventExceptionResolved, from: StateMerged, to: StateMerged,
			message: fmt.Sprintf("exception %q %s", e.Message, e.Resolution), data: map[string]string{"exception": string(e.Kind)}}); err != nil {
			return err
		}
	}
	return nil
}

func emailData(ph *PHData) map[string]string {
	d := map[string]string{"email_id": itoa(ph.EmailID), "content_hash": ph.ContentHash}
	if ph.MessageID != "" {
		d["message_id"] = ph.MessageID
	}
	return d
}

func mergeData(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
