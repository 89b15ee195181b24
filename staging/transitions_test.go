package staging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// fixtures builds records in every state through the public API; each call
// uses keys of its own.
type fixtures struct {
	t *testing.T
	s *staging.Store
	n int
}

// make returns a record in state st and, for needs_review, a candidate of
// its review (else another record with a payload).
func (f *fixtures) make(st staging.State) (id, other int64) {
	t, s, ctx := f.t, f.s, context.Background()
	f.n++
	ecc := fmt.Sprintf("61%04d", f.n)
	dr := fmt.Sprintf("DR%08d", f.n)
	payload := func(k int, dr string) *staging.Record {
		return intake(t, s, smallDeal(10000+f.n*10+k, ecc, dr)).Record
	}
	email := func(dr string) staging.EmailResult {
		return ingest(t, s, phEmail(fmt.Sprintf("<fx-%d-%s@ph.example>", f.n, dr), ecc, dr, "", contractPDF()))
	}
	must := func(_ *staging.Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	switch st {
	case staging.StateReceived:
		r := payload(0, dr)
		return r.ID, payload(1, dr+"X").ID
	case staging.StateWaitingForPayload:
		r := email(dr).Record
		return r.ID, 0
	case staging.StateReady, staging.StateLoading, staging.StateLoaded, staging.StateLoadFailed:
		r := payload(0, dr)
		email(dr)
		switch st {
		case staging.StateLoading:
			must(s.StartLoad(ctx, r.ID))
		case staging.StateLoaded:
			must(s.StartLoad(ctx, r.ID))
			must(s.FinishLoad(ctx, r.ID, json.RawMessage(`{}`)))
		case staging.StateLoadFailed:
			must(s.StartLoad(ctx, r.ID))
			must(s.FailLoad(ctx, r.ID, "target down", nil))
		}
		return r.ID, 0
	case staging.StateNeedsReview:
		a := payload(0, "")
		payload(1, "")
		res := email("")
		if res.Outcome != staging.EmailNeedsReview {
			t.Fatalf("fixture: %s, want needs_review", res.Outcome)
		}
		return res.Record.ID, a.ID
	case staging.StateMerged:
		a := payload(0, "")
		payload(1, "")
		res := email("")
		if _, err := s.ChooseCandidate(ctx, res.Record.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		return res.Record.ID, a.ID
	}
	t.Fatalf("no fixture for %s", st)
	return 0, 0
}

func TestEveryIllegalTransitionIsRejected(t *testing.T) {
	// The allowed states, written out here independently of the package.
	allowed := map[staging.Action][]staging.State{
		staging.ActionStartLoad:       {staging.StateReady, staging.StateLoadFailed}, // loaded only when changed since
		staging.ActionSaveJournal:     {staging.StateLoading},
		staging.ActionFinishLoad:      {staging.StateLoading},
		staging.ActionFailLoad:        {staging.StateLoading},
		staging.ActionRetryLoad:       {staging.StateLoading},
		staging.ActionMarkNeedsReview: {staging.StateReceived, staging.StateReady, staging.StateLoading, staging.StateLoadFailed, staging.StateLoaded},
		staging.ActionChooseCandidate: {staging.StateNeedsReview},
		staging.ActionRetryReview:     {staging.StateNeedsReview},
		staging.ActionKeepWaiting:     {staging.StateNeedsReview},
	}
	call := map[staging.Action]func(s *staging.Store, id, other int64) error{
		staging.ActionStartLoad: func(s *staging.Store, id, _ int64) error {
			_, err := s.StartLoad(context.Background(), id)
			return err
		},
		staging.ActionSaveJournal: func(s *staging.Store, id, _ int64) error {
			return s.SaveJournal(context.Background(), id, json.RawMessage(`{"done":["company"]}`))
		},
		staging.ActionFinishLoad: func(s *staging.Store, id, _ int64) error {
			_, err := s.FinishLoad(context.Background(), id, json.RawMessage(`{"core_company":"abc"}`))
			return err
		},
		staging.ActionFailLoad: func(s *staging.Store, id, _ int64) error {
			_, err := s.FailLoad(context.Background(), id, "ServiceNow answered 503", nil)
			return err
		},
		staging.ActionRetryLoad: func(s *staging.Store, id, _ int64) error {
			_, err := s.RetryLoad(context.Background(), id, "ServiceNow answered 503", time.Now().Add(time.Minute), nil)
			return err
		},
		staging.ActionMarkNeedsReview: func(s *staging.Store, id, _ int64) error {
			_, err := s.MarkNeedsReview(context.Background(), id, "two companies have this ECC id", nil)
			return err
		},
		staging.ActionChooseCandidate: func(s *staging.Store, id, other int64) error {
			_, err := s.ChooseCandidate(context.Background(), id, other)
			return err
		},
		staging.ActionRetryReview: func(s *staging.Store, id, _ int64) error {
			_, err := s.RetryReview(context.Background(), id)
			return err
		},
		staging.ActionKeepWaiting: func(s *staging.Store, id, _ int64) error {
			_, err := s.KeepWaiting(context.Background(), id)
			return err
		},
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		f := &fixtures{t: t, s: s}
		for action, fn := range call {
			for _, st := range staging.States() {
				id, other := f.make(st)
				before := mustGet(t, s, id)
				if before.State != st {
					t.Fatalf("fixture for %s is in %s", st, before.State)
				}
				err := fn(s, id, other)
				if slices.Contains(allowed[action], st) {
					if err != nil {
						t.Errorf("%s in %s: %v, want it allowed", action, st, err)
					}
					continue
				}
				var te *staging.TransitionError
				if !errors.Is(err, staging.ErrIllegalTransition) || !errors.As(err, &te) {
					t.Errorf("%s in %s: got %v, want a TransitionError", action, st, err)
					continue
				}
				if te.State != st || te.Action != action || !slices.Equal(te.Allowed, staging.AllowedFrom(action)) {
					t.Errorf("%s in %s: error %+v is not about this refusal", action, st, te)
				}
				// Refused in a state that allows the action, the error says
				// why; in any other, which states allow it.
				if slices.Contains(te.Allowed, st) {
					if te.Reason == "" || !strings.Contains(err.Error(), te.Reason) {
						t.Errorf("%s in %s: error %q does not say why", action, st, err)
					}
				} else if !strings.Contains(err.Error(), "allowed only in "+string(staging.AllowedFrom(action)[0])) {
					t.Errorf("%s in %s: error %q does not say which states allow it", action, st, err)
				}
				if after := mustGet(t, s, id); after.Version != before.Version || after.State != st {
					t.Errorf("%s in %s changed the record although refused", action, st)
				}
			}
		}
	})
}

func TestLoadableSaysWhy(t *testing.T) {
	cases := []struct {
		state   staging.State
		changed bool
		ok      bool
		reason  string
	}{
		{staging.StateReady, false, true, ""},
		{staging.StateLoadFailed, false, true, "retry of a failed load"},
		{staging.StateLoaded, true, true, "changed since the last load"},
		{staging.StateLoaded, false, false, "already loaded; a newer payload or PH email makes it loadable again"},
		{staging.StateReceived, false, false, "waiting for the Provisioning Hub email"},
		{staging.StateWaitingForPayload, false, false, "waiting for the Salesforce payload"},
		{staging.StateLoading, false, false, "a load is running"},
		{staging.StateNeedsReview, false, false, "needs review: resolve it first"},
		{staging.StateMerged, false, false, "merged into record 0"},
	}
	for _, c := range cases {
		r := &staging.Record{Summary: staging.Summary{State: c.state, ChangedSinceLoad: c.changed}}
		if ok, reason := r.Loadable(); ok != c.ok || reason != c.reason {
			t.Errorf("%s (changed %v): Loadable() = %v, %q; want %v, %q", c.state, c.changed, ok, reason, c.ok, c.reason)
		}
	}
}

// A refusal in a state that allows the action gives only its reason; one
// in a state that does not names the states that do.
func TestTransitionErrorMessage(t *testing.T) {
	allowed := staging.AllowedFrom(staging.ActionStartLoad)
	cases := []struct {
		err  *staging.TransitionError
		want string
	}{
		{&staging.TransitionError{Record: "BB0001002", Action: staging.ActionStartLoad, State: staging.StateLoaded, Allowed: allowed,
			Reason: "already loaded; a newer payload or PH email makes it loadable again"},
			"staging: cannot start load on BB0001002 in state loaded: already loaded; a newer payload or PH email makes it loadable again"},
		{&staging.TransitionError{Record: "BB0001001", Action: staging.ActionStartLoad, State: staging.StateReceived, Allowed: allowed},
			"staging: cannot start load on BB0001001 in state received; allowed only in ready, load_failed, loaded"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}
