package staging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestChooseCandidateAppliesTheEmailAndClosesTheReview(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		a := intake(t, s, dealFor(t, 1, "0001234567", "DR0000000A", "")).Record
		b := intake(t, s, dealFor(t, 2, "0001234567", "DR0000000B", "")).Record
		rev := ingest(t, s, phEmail("<ambiguous@ph.example>", "0001234567", "", "", contractPDF())).Record

		if _, err := s.ChooseCandidate(ctx, rev.ID, rev.ID); !errors.Is(err, staging.ErrInvalidInput) {
			t.Fatalf("choosing the review itself: %v", err)
		}
		res, err := s.ChooseCandidate(ctx, rev.ID, b.ID, staging.By("carol"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Record.State != staging.StateMerged || res.Record.MergedInto != b.ID || res.Target.ID != b.ID || res.Target.State != staging.StateReady {
			t.Fatalf("after the choice: review %s into %d, target %d %s", res.Record.State, res.Record.MergedInto, res.Target.ID, res.Target.State)
		}
		closed := mustGet(t, s, rev.ID)
		if len(closed.Attachments) != 1 || closed.PH == nil || closed.Review.ResolvedAt.IsZero() {
			t.Fatal("the review record must keep its email and files as evidence and show the resolution")
		}
		got := mustGet(t, s, b.ID)
		if len(got.Attachments) != 1 || got.Attachments[0].CopiedFrom != closed.Attachments[0].ID || got.PH.EmailID != closed.PH.EmailID {
			t.Fatalf("target attachments %+v, want a copy of %+v", got.Attachments, closed.Attachments)
		}
		if _, data, err := s.Attachment(ctx, b.ID, got.Attachments[0].ID); err != nil || !bytes.Equal(data, contractPDF().Data) {
			t.Fatalf("the copy's bytes: %v", err)
		}
		if other := mustGet(t, s, a.ID); other.Version != a.Version {
			t.Fatal("the record not chosen was changed")
		}
		if _, err := s.ChooseCandidate(ctx, rev.ID, a.ID); !errors.Is(err, staging.ErrIllegalTransition) {
			t.Fatalf("choosing twice: %v", err)
		}
	})
}

func TestTwoWaitingEmailsForOnePayload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		// two emails without a DR number cannot be told apart by the payload
		w1 := ingest(t, s, phEmail("<w1@ph.example>", "0001234567", "", "", contractPDF())).Record
		w2 := ingest(t, s, phEmail("<w2@ph.example>", "0001234567", "", "")).Record
		if w1.ID == w2.ID || w1.State != staging.StateWaitingForPayload || w2.State != staging.StateWaitingForPayload {
			t.Fatalf("two waiting records expected: %d %s, %d %s", w1.ID, w1.State, w2.ID, w2.State)
		}
		ir := intake(t, s, deal(t, nil))
		if ir.Outcome != staging.IntakeCreated || ir.Record.State != staging.StateNeedsReview || ir.Record.Review.Source != staging.ReviewPayload ||
			len(ir.Record.Review.Candidates) != 2 {
			t.Fatalf("payload: %s %s %+v", ir.Outcome, ir.Record.State, ir.Record.Review)
		}
		if _, err := s.KeepWaiting(ctx, ir.Record.ID); !errors.Is(err, staging.ErrIllegalTransition) {
			t.Fatalf("KeepWaiting on a payload record: %v", err)
		}
		res, err := s.ChooseCandidate(ctx, ir.Record.ID, w1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Record.State != staging.StateReady || res.Target.ID != ir.Record.ID || len(res.Record.Attachments) != 1 {
			t.Fatalf("after the choice: %s, %d files", res.Record.State, len(res.Record.Attachments))
		}
		if r := mustGet(t, s, w1.ID); r.State != staging.StateMerged || len(r.OpenExceptions()) != 0 {
			t.Fatalf("chosen email record: %s, open %v", r.State, r.OpenExceptions())
		}
		if r := mustGet(t, s, w2.ID); r.State != staging.StateWaitingForPayload {
			t.Fatalf("the other email record is %s, want still waiting", r.State)
		}
	})
}

func TestRetryReviewOfAnEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		a := intake(t, s, dealFor(t, 1, "0001234567", "DR0000000A", "")).Record
		b := intake(t, s, dealFor(t, 2, "0001234567", "DR0000000B", "")).Record
		rev := ingest(t, s, phEmail("<retry@ph.example>", "0001234567", "", "")).Record

		// still ambiguous: the review stays, with fresh candidates
		res, err := s.RetryReview(ctx, rev.ID)
		if err != nil || res.Record.State != staging.StateNeedsReview || len(res.Record.Review.Candidates) != 2 {
			t.Fatalf("retry while ambiguous: %v %+v", err, res.Record)
		}
		// A gets its own email and is loaded meanwhile, so only B can take this one
		ingest(t, s, phEmail("<for-a@ph.example>", "0001234567", "DR0000000A", ""))
		if _, err := s.StartLoad(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishLoad(ctx, a.ID, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		res, err = s.RetryReview(ctx, rev.ID)
		if err != nil || res.Record.State != staging.StateMerged || res.Target == nil || res.Target.ID != b.ID {
			t.Fatalf("retry with one candidate left: %v %+v", err, res)
		}
	})
}

func TestKeepWaitingThenPayloadJoins(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		intake(t, s, dealFor(t, 1, "0001234567", "DR0000000A", ""))
		// the email is for another deal of the customer, not staged yet
		rev := ingest(t, s, phEmail("<other-deal@ph.example>", "0001234567", "DR0000000C", "")).Record
		if rev.State != staging.StateNeedsReview {
			t.Fatalf("conflicting DR number: %s", rev.State)
		}
		r, err := s.KeepWaiting(ctx, rev.ID, staging.By("dana"))
		if err != nil || r.State != staging.StateWaitingForPayload || len(r.OpenExceptions()) != 1 {
			t.Fatalf("KeepWaiting: %v %+v", err, r)
		}
		ir := intake(t, s, dealFor(t, 3, "0001234567", "DR0000000C", ""))
		if ir.Outcome != staging.IntakeMerged || ir.Record.ID != rev.ID || ir.Record.State != staging.StateReady {
			t.Fatalf("payload of the other deal: %s on %d (%s)", ir.Outcome, ir.Record.ID, ir.Record.State)
		}
	})
}

func TestUpdatedPayloadPicksUpAWaitingEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		// the first version has a typo in the ECC id
		first := intake(t, s, deal(t, map[string]any{"End_User_ECC_ID__c": "0001234576"})).Record
		w := ingest(t, s, phEmail("<typo@ph.example>", "0001234567", "DR00004711", "", contractPDF())).Record
		if w.State != staging.StateWaitingForPayload {
			t.Fatalf("email: %s", w.State)
		}
		ir := intake(t, s, deal(t, map[string]any{"LastModifiedDate": "2026-11-28T10:00:00.000+0000"}))
		if ir.Outcome != staging.IntakeUpdated || ir.Record.ID != first.ID || ir.MergedRecord != w.ID || ir.Record.State != staging.StateReady {
			t.Fatalf("corrected payload: %s on %d, merged %d, %s", ir.Outcome, ir.Record.ID, ir.MergedRecord, ir.Record.State)
		}
		if r := mustGet(t, s, w.ID); r.State != staging.StateMerged || r.MergedInto != first.ID || len(r.OpenExceptions()) != 0 {
			t.Fatalf("waiting record: %s into %d, open %v", r.State, r.MergedInto, r.OpenExceptions())
		}
	})
}
