package staging

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// ReviewResult is the answer of the review resolutions.
type ReviewResult struct {
	// Record is the reviewed record after the decision.
	Record *Record
	// Target is the record that received the PH email when the decision
	// moved one (it may be Record itself), nil otherwise.
	Target *Record
}

// ChooseCandidate resolves a needs_review record by the operator's choice
// among its candidates. For an email that matched several records (or
// conflicting keys), the email is applied to the chosen record and the
// review record is closed as merged. For a payload that several waiting
// emails matched, the chosen email joins the payload record, which becomes
// ready, and the email's record is closed as merged. Files are copied.
func (s *Store) ChooseCandidate(ctx context.Context, reviewID, candidateID int64, opts ...Option) (ReviewResult, error) {
	o := newCallOptions(opts)
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (ReviewResult, *Record, error) {
		rs, err := s.selectRecords(ctx, tx, true, func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("r.id IN (?)", bun.List([]int64{reviewID, candidateID}))
		})
		if err != nil {
			return ReviewResult{}, nil, err
		}
		rev, cand := pick(rs, reviewID), pick(rs, candidateID)
		if rev == nil {
			return ReviewResult{}, nil, notFound("record", reviewID)
		}
		if o.ifVersion != 0 && rev.Version != o.ifVersion {
			return ReviewResult{}, nil, &ConflictError{Record: rev.Number, Expected: o.ifVersion, Actual: rev.Version}
		}
		if err := rev.checkAction(ActionChooseCandidate); err != nil {
			return ReviewResult{}, nil, err
		}
		listed := slices.ContainsFunc(rev.Review.Candidates, func(c Candidate) bool { return c.ID == candidateID })
		if cand == nil || !listed || reviewID == candidateID {
			return ReviewResult{}, nil, &InputError{What: "choice", Problems: []string{
				fmt.Sprintf("record %d is not a candidate of %s; choose one of %s", candidateID, rev.Number, candidateNumbers(rev.Review.Candidates))}}
		}
		why := fmt.Sprintf("chosen in the review of %s", rev.Number)
		if rev.Payload == nil {
			if cand.Payload == nil || cand.State == StateMerged {
				return ReviewResult{}, nil, &InputError{What: "choice", Problems: []string{
					fmt.Sprintf("%s (%s) cannot take the PH email: it has no Salesforce payload", cand.Number, cand.State)}}
			}
			if err := s.mergeEmailInto(ctx, tx, &o, rev, cand, why); err != nil {
				return ReviewResult{}, nil, err
			}
			if err := s.saveRecord(ctx, tx, cand); err != nil {
				return ReviewResult{}, nil, err
			}
			if err := s.addEvent(ctx, tx, &o, rev.ID, event{kind: EventReviewResolved, from: StateMerged, to: StateMerged,
				message: fmt.Sprintf("review resolved: the PH email belongs to %s", cand.Number), data: map[string]string{"chosen": cand.Number}}); err != nil {
				return ReviewResult{}, nil, err
			}
			return ReviewResult{Record: rev, Target: cand}, rev, nil
		}
		if cand.Payload != nil || cand.State == StateMerged || cand.PH == nil {
			return ReviewResult{}, nil, &InputError{What: "choice", Problems: []string{
				fmt.Sprintf("%s (%s) holds no PH email waiting for a payload", cand.Number, cand.State)}}
		}
		if err := s.mergeEmailInto(ctx, tx, &o, cand, rev, why); err != nil {
			return ReviewResult{}, nil, err
		}
		if err := s.closeReview(ctx, tx, &o, rev, StateReady, fmt.Sprintf("the PH email of %s belongs to this deal", cand.Number)); err != nil {
			return ReviewResult{}, nil, err
		}
		return ReviewResult{Record: rev, Target: rev}, rev, nil
	})
}

// RetryReview runs the decision that raised the review again, for when the
// cause was fixed (a duplicate company merged in ServiceNow, a payload
// arrived, a record was loaded). A PH email is correlated again: one match
// takes it, no record with its ECC id makes it wait for its payload, still
// ambiguous keeps the review with fresh candidates. A payload looks again
// for the email waiting for it. A load (or operator) review returns the
// record to ready, or received without a PH email.
func (s *Store) RetryReview(ctx context.Context, id int64, opts ...Option) (ReviewResult, error) {
	o := newCallOptions(opts)
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (ReviewResult, *Record, error) {
		sum, err := s.summaryByID(ctx, tx, id)
		if err != nil {
			return ReviewResult{}, nil, err
		}
		norm := normalize(sum.Keys)
		if err := s.lockECC(ctx, tx, norm.ECC); err != nil {
			return ReviewResult{}, nil, err
		}
		rev, err := s.lockForAction(ctx, tx, &o, id, ActionRetryReview)
		if err != nil {
			return ReviewResult{}, nil, err
		}
		norm = normalize(rev.Keys)
		switch {
		case rev.Payload == nil:
			return s.retryEmailReview(ctx, tx, &o, rev, norm)
		case rev.Review != nil && rev.Review.Source == ReviewPayload:
			waiting, err := s.waitingFor(ctx, tx, norm, rev.ID)
			if err != nil {
				return ReviewResult{}, nil, err
			}
			switch len(waiting) {
			case 0:
				err = s.closeReview(ctx, tx, &o, rev, StateReceived, "no PH email waits for this deal any more")
				return ReviewResult{Record: rev}, rev, err
			case 1:
				if err := s.mergeEmailInto(ctx, tx, &o, waiting[0], rev, "the only PH email left waiting for this deal"); err != nil {
					return ReviewResult{}, nil, err
				}
				err = s.closeReview(ctx, tx, &o, rev, StateReady, fmt.Sprintf("the PH email of %s was the only one left", waiting[0].Number))
				return ReviewResult{Record: rev, Target: rev}, rev, err
			}
			reason := fmt.Sprintf("%d PH emails wait for this deal (%s): choose the one that belongs to it", len(waiting), numbersOf(waiting))
			err = s.renewReview(ctx, tx, &o, rev, ReviewPayload, reason, waiting)
			return ReviewResult{Record: rev}, rev, err
		default:
			to := StateReceived
			if rev.PH != nil {
				to = StateReady
			}
			err := s.closeReview(ctx, tx, &o, rev, to, "retry requested")
			return ReviewResult{Record: rev}, rev, err
		}
	})
}

func (s *Store) retryEmailReview(ctx context.Context, tx bun.Tx, o *callOptions, rev *Record, norm normKeys) (ReviewResult, *Record, error) {
	candidates, err := s.selectRecords(ctx, tx, true, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("r.ecc_key = ? AND r.sf_id IS NOT NULL AND r.state IN (?)", norm.ECC, bun.List(correlatable))
	})
	if err != nil {
		return ReviewResult{}, nil, err
	}
	if len(candidates) == 0 {
		err := s.keepWaiting(ctx, tx, o, rev, fmt.Sprintf("no staged Salesforce payload has ECC id %s: waiting for it", rev.Keys.ECCID))
		return ReviewResult{Record: rev}, rev, err
	}
	narrowed := narrow(norm, candidates)
	if len(narrowed) == 1 {
		c := narrowed[0]
		if err := s.mergeEmailInto(ctx, tx, o, rev, c, "matched on retry by "+matchedBy(norm)); err != nil {
			return ReviewResult{}, nil, err
		}
		if err := s.saveRecord(ctx, tx, c); err != nil {
			return ReviewResult{}, nil, err
		}
		if err := s.addEvent(ctx, tx, o, rev.ID, event{kind: EventReviewResolved, from: StateMerged, to: StateMerged,
			message: fmt.Sprintf("review resolved on retry: the PH email belongs to %s", c.Number), data: map[string]string{"chosen": c.Number}}); err != nil {
			return ReviewResult{}, nil, err
		}
		return ReviewResult{Record: rev, Target: c}, rev, nil
	}
	reason, listed := reviewReason(norm, candidates, narrowed)
	err = s.renewReview(ctx, tx, o, rev, ReviewEmail, reason, listed)
	return ReviewResult{Record: rev}, rev, err
}

// KeepWaiting resolves the review of a record holding only a PH email by
// letting it wait for its own payload (state waiting_for_payload, with the
// "Salesforce data is missing" exception); the payload joins it when it
// arrives. Use it when the candidates are other deals of the same customer.
func (s *Store) KeepWaiting(ctx context.Context, id int64, opts ...Option) (*Record, error) {
	o := newCallOptions(opts)
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (*Record, *Record, error) {
		r, err := s.lockForAction(ctx, tx, &o, id, ActionKeepWaiting)
		if err != nil {
			return nil, nil, err
		}
		if err := s.keepWaiting(ctx, tx, &o, r, "kept waiting for its own Salesforce payload"); err != nil {
			return nil, nil, err
		}
		return r, r, nil
	})
}

func (s *Store) keepWaiting(ctx context.Context, tx bun.IDB, o *callOptions, r *Record, resolution string) error {
	opened := s.openException(r, ExceptionPayloadMissing, "PH data arrived but Salesforce data is missing")
	if err := s.closeReview(ctx, tx, o, r, StateWaitingForPayload, resolution); err != nil {
		return err
	}
	if !opened {
		return nil
	}
	return s.addEvent(ctx, tx, o, r.ID, event{kind: EventExceptionOpened, from: r.State, to: r.State,
		message: "exception opened: PH data arrived but Salesforce data is missing", data: map[string]string{"exception": string(ExceptionPayloadMissing)}})
}

// closeReview resolves r's review, moves it to state to and saves it.
func (s *Store) closeReview(ctx context.Context, tx bun.IDB, o *callOptions, r *Record, to State, resolution string) error {
	from := r.State
	if r.Review != nil {
		r.Review.ResolvedAt, r.Review.Resolution = s.clock(), resolution
	}
	s.setState(r, to)
	if err := s.saveRecord(ctx, tx, r); err != nil {
		return err
	}
	return s.addEvent(ctx, tx, o, r.ID, event{kind: EventReviewResolved, from: from, to: to, message: "review resolved: " + resolution})
}

// renewReview keeps r in review with a new reason and candidates.
func (s *Store) renewReview(ctx context.Context, tx bun.IDB, o *callOptions, r *Record, src ReviewSource, reason string, listed []*Record) error {
	r.Review = &Review{Source: src, Reason: reason, RaisedAt: s.clock(), Candidates: candidatesOf(listed)}
	if err := s.saveRecord(ctx, tx, r); err != nil {
		return err
	}
	return s.addEvent(ctx, tx, o, r.ID, event{kind: EventNeedsReview, from: r.State, to: r.State, message: "still needs review: " + reason,
		data: map[string]string{"candidates": numbersOf(listed)}})
}

func pick(rs []*Record, id int64) *Record {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func candidateNumbers(cs []Candidate) string {
	out := ""
	for i, c := range cs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s (id %d)", c.Number, c.ID)
	}
	return out
}
