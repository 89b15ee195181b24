package staging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// EmailOutcome says what IngestEmail did with a PH email.
type EmailOutcome string

// The outcomes of IngestEmail.
const (
	// EmailApplied: exactly one staged record matched; its PH fields and
	// files were applied (a received record is now ready).
	EmailApplied EmailOutcome = "applied"
	// EmailWaiting: no record has its ECC id yet; the email waits on a
	// record of its own (waiting_for_payload) for its payload, which will
	// join it automatically.
	EmailWaiting EmailOutcome = "waiting"
	// EmailNeedsReview: several records match, or the keys conflict; a
	// needs_review record holds the email and lists the candidates. No
	// candidate was changed.
	EmailNeedsReview EmailOutcome = "needs_review"
	// EmailDuplicate: the same message (Message-ID, else content hash) was
	// ingested before; nothing changed.
	EmailDuplicate EmailOutcome = "duplicate"
	// EmailQuarantined: the email has no ECC id; it is in the quarantine,
	// not staged.
	EmailQuarantined EmailOutcome = "quarantined"
)

// ReasonNoECCID is the quarantine reason of a PH email without an ECC id.
const ReasonNoECCID = "the PH email has no ECC id, so it cannot be matched to a deal; check the email and the parser's labels"

// EmailResult is IngestEmail's answer.
type EmailResult struct {
	Outcome EmailOutcome
	// Record is the record the email went to: the matched record, the
	// waiting record, or the needs_review record (for a duplicate: where it
	// went the first time). Nil when quarantined.
	Record *Record
	// Candidates are the records a needs_review email could belong to.
	Candidates []Candidate
	// Reason explains needs_review and quarantined.
	Reason string
	// Quarantine is the quarantine entry (EmailQuarantined).
	Quarantine *QuarantineEntry
}

// correlatable are the states of records with a payload that a PH email
// may still be applied to.
var correlatable = []State{StateReceived, StateReady, StateLoading, StateLoadFailed, StateNeedsReview}

// IngestEmail stages a parsed PH email and joins it to its deal. It matches
// by ECC id among records that have their payload and are not loaded,
// narrowed by the email's DR number and then its sales order number when
// it has them. Exactly one match: the PH fields and files are applied. No
// record with the ECC id: the email waits on a record of its own for its
// payload. Several, or keys that conflict: a needs_review record lists the
// candidates; no record is guessed, none is changed. The same message twice
// is applied once. An email without an ECC id is quarantined. InTx
// functions run for applied, waiting and needs_review.
func (s *Store) IngestEmail(ctx context.Context, e Email, opts ...Option) (EmailResult, error) {
	if err := e.check(); err != nil {
		return EmailResult{}, err
	}
	o := newCallOptions(opts)
	norm := normalize(e.keys())
	if norm.ECC == "" {
		q, err := s.quarantine(ctx, &o, e.Raw, ReasonNoECCID, quarantineMeta{messageID: e.MessageID, subject: e.Subject, from: e.From})
		if err != nil {
			return EmailResult{}, err
		}
		return EmailResult{Outcome: EmailQuarantined, Reason: ReasonNoECCID, Quarantine: &q}, nil
	}
	if res, ok, err := s.emailDuplicate(ctx, s.db, e.dedupKey()); ok || err != nil {
		return res, err
	}
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (EmailResult, *Record, error) {
		return s.ingestTx(ctx, tx, &o, &e, norm)
	})
}

// emailDuplicate answers a message ingested before.
func (s *Store) emailDuplicate(ctx context.Context, db bun.IDB, key string) (EmailResult, bool, error) {
	var row emailRow
	err := db.NewSelect().Model(&row).Where("e.dedup_key = ?", key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return EmailResult{}, false, nil
	}
	if err != nil {
		return EmailResult{}, false, fmt.Errorf("staging: looking up email %s: %w", key, err)
	}
	res := EmailResult{Outcome: EmailDuplicate}
	if row.RecordID != 0 {
		r, err := s.recordByID(ctx, db, row.RecordID, false)
		if err != nil {
			return EmailResult{}, false, err
		}
		res.Record = r
	}
	return res, true, nil
}

func (s *Store) ingestTx(ctx context.Context, tx bun.Tx, o *callOptions, e *Email, norm normKeys) (EmailResult, *Record, error) {
	if err := s.lockECC(ctx, tx, norm.ECC); err != nil {
		return EmailResult{}, nil, err
	}
	row := &emailRow{DedupKey: e.dedupKey(), MessageID: e.MessageID, ContentHash: e.ContentHash, Channel: o.channel,
		RawSHA256: sha256Hex(e.Raw), RawSize: int64(len(e.Raw)), ReceivedAt: s.clock()}
	res, err := tx.NewInsert().Model(row).On("CONFLICT (dedup_key) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return EmailResult{}, nil, fmt.Errorf("staging: recording email: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 || row.ID == 0 {
		dup, _, err := s.emailDuplicate(ctx, tx, row.DedupKey)
		return dup, nil, err
	}
	if err := s.blobs.Put(ctx, tx, row.RawSHA256, e.Raw); err != nil {
		return EmailResult{}, nil, err
	}

	candidates, err := s.selectRecords(ctx, tx, true, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("r.ecc_key = ? AND r.sf_id IS NOT NULL AND r.state IN (?)", norm.ECC, bun.List(correlatable))
	})
	if err != nil {
		return EmailResult{}, nil, err
	}
	var out EmailResult
	var target *Record
	if len(candidates) == 0 {
		out, target, err = s.emailWithoutPayload(ctx, tx, o, e, row, norm)
	} else {
		out, target, err = s.emailWithCandidates(ctx, tx, o, e, row, norm, candidates)
	}
	if err != nil {
		return EmailResult{}, nil, err
	}
	row.RecordID, row.Outcome = target.ID, string(out.Outcome)
	if _, err := tx.NewUpdate().Model(row).Column("record_id", "outcome").WherePK().Exec(ctx); err != nil {
		return EmailResult{}, nil, fmt.Errorf("staging: recording where email %d went: %w", row.ID, err)
	}
	out.Record = target
	return out, target, nil
}

// emailWithoutPayload handles an email whose ECC id no staged payload has:
// a further email for a deal already waiting (same ECC id and DR number)
// replaces that record's PH data; otherwise a new record waits.
func (s *Store) emailWithoutPayload(ctx context.Context, tx bun.Tx, o *callOptions, e *Email, row *emailRow, norm normKeys) (EmailResult, *Record, error) {
	if norm.DR != "" {
		waiting, err := s.waitingFor(ctx, tx, norm, 0)
		if err != nil {
			return EmailResult{}, nil, err
		}
		waiting = filter(waiting, func(r *Record) bool { return normalize(r.Keys).DR == norm.DR })
		if len(waiting) == 1 {
			w := waiting[0]
			if err := s.applyEmail(ctx, tx, o, w, e, row, "a further PH email for the deal this record waits for"); err != nil {
				return EmailResult{}, nil, err
			}
			if err := s.saveRecord(ctx, tx, w); err != nil {
				return EmailResult{}, nil, err
			}
			return EmailResult{Outcome: EmailWaiting}, w, nil
		}
	}
	r := &Record{PH: phFrom(e, row)}
	r.State = StateWaitingForPayload
	s.openException(r, ExceptionPayloadMissing, "PH data arrived but Salesforce data is missing")
	if err := s.insertEmailRecord(ctx, tx, r, e, row); err != nil {
		return EmailResult{}, nil, err
	}
	if err := s.addEvent(ctx, tx, o, r.ID, event{kind: EventCreated, to: r.State,
		message: fmt.Sprintf("created from a PH email: no staged Salesforce payload has ECC id %s yet", r.Keys.ECCID),
		data:    emailData(r.PH)}); err != nil {
		return EmailResult{}, nil, err
	}
	if err := s.addEvent(ctx, tx, o, r.ID, event{kind: EventExceptionOpened, from: r.State, to: r.State,
		message: "exception opened: PH data arrived but Salesforce data is missing", data: map[string]string{"exception": string(ExceptionPayloadMissing)}}); err != nil {
		return EmailResult{}, nil, err
	}
	return EmailResult{Outcome: EmailWaiting}, r, nil
}

// emailWithCandidates handles an email whose ECC id staged payloads have.
func (s *Store) emailWithCandidates(ctx context.Context, tx bun.Tx, o *callOptions, e *Email, row *emailRow, norm normKeys, candidates []*Record) (EmailResult, *Record, error) {
	narrowed := narrow(norm, candidates)
	if len(narrowed) == 1 {
		r := narrowed[0]
		if err := s.applyEmail(ctx, tx, o, r, e, row, "matched by "+matchedBy(norm)); err != nil {
			return EmailResult{}, nil, err
		}
		if err := s.saveRecord(ctx, tx, r); err != nil {
			return EmailResult{}, nil, err
		}
		return EmailResult{Outcome: EmailApplied}, r, nil
	}
	reason, listed := reviewReason(norm, candidates, narrowed)
	r := &Record{PH: phFrom(e, row)}
	r.State = StateNeedsReview
	r.Review = &Review{Source: ReviewEmail, Reason: reason, RaisedAt: s.clock(), Candidates: candidatesOf(listed)}
	if err := s.insertEmailRecord(ctx, tx, r, e, row); err != nil {
		return EmailResult{}, nil, err
	}
	if err := s.addEvent(ctx, tx, o, r.ID, event{kind: EventCreated, to: r.State,
		message: "created from a PH email that needs review", data: emailData(r.PH)}); err != nil {
		return EmailResult{}, nil, err
	}
	if err := s.addEvent(ctx, tx, o, r.ID, event{kind: EventNeedsReview, from: r.State, to: r.State, message: reason,
		data: map[string]string{"candidates": numbersOf(listed)}}); err != nil {
		return EmailResult{}, nil, err
	}
	return EmailResult{Outcome: EmailNeedsReview, Candidates: r.Review.Candidates, Reason: reason}, r, nil
}

// insertEmailRecord inserts a record created from an email, with its files.
func (s *Store) insertEmailRecord(ctx context.Context, tx bun.Tx, r *Record, e *Email, row *emailRow) error {
	ok, err := s.insertRecord(ctx, tx, r, func() error { return s.addAttachments(ctx, tx, r, row.ID, e.Attachments) })
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("staging: a record from an email collided on its Salesforce id, which it does not have")
	}
	return nil
}

// reviewReason explains why an email needs review and which records the
// operator chooses from.
func reviewReason(norm normKeys, all, narrowed []*Record) (string, []*Record) {
	if len(narrowed) > 1 {
		return fmt.Sprintf("the PH email matches %d records (%s) by %s: choose the record it belongs to",
			len(narrowed), numbersOf(narrowed), matchedBy(norm)), narrowed
	}
	var differ []string
	if norm.DR != "" && len(narrow(normKeys{DR: norm.DR}, all)) == 0 {
		differ = append(differ, "DR number "+norm.DR)
	}
	if norm.SO != "" && len(narrow(normKeys{SO: norm.SO}, all)) == 0 {
		differ = append(differ, "sales order number "+norm.SO)
	}
	if len(differ) == 0 {
		differ = append(differ, "DR number and sales order number together")
	}
	return fmt.Sprintf("the PH email's ECC id %s matches %s, but its %s does not: choose the record it belongs to, or keep it waiting for its own payload",
		norm.ECC, numbersOf(all), strings.Join(differ, " and ")), all
}

func matchedBy(norm normKeys) string {
	parts := []string{"ECC id " + norm.ECC}
	if norm.DR != "" {
		parts = append(parts, "DR number "+norm.DR)
	}
	if norm.SO != "" {
		parts = append(parts, "sales order number "+norm.SO)
	}
	return strings.Join(parts, ", ")
}
