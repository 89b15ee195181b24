package staging_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestLoadLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		rec := intake(t, s, deal(t, nil)).Record
		ingest(t, s, phEmail("<load@ph.example>", "0001234567", "DR00004711", "4500012345", contractPDF()))

		r, err := s.StartLoad(ctx, rec.ID, staging.By("alice"))
		if err != nil || r.State != staging.StateLoading || r.Load.Attempts != 1 {
			t.Fatalf("StartLoad: %v, %+v", err, r)
		}
		if _, err := s.StartLoad(ctx, rec.ID, staging.By("alice")); !errors.Is(err, staging.ErrIllegalTransition) {
			t.Fatalf("a second press while loading: %v, want refused", err)
		}
		journal := json.RawMessage(`{"steps":{"company":{"sys_id":"0123456789abcdef0123456789abcdef","action":"insert"}}}`)
		if err := s.SaveJournal(ctx, rec.ID, journal); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FailLoad(ctx, rec.ID, "ServiceNow answered 503 after 5 tries", nil); err != nil {
			t.Fatal(err)
		}
		r = mustGet(t, s, rec.ID)
		if r.State != staging.StateLoadFailed || string(r.Load.Journal) != string(journal) || r.Load.Error == "" {
			t.Fatalf("after the failure: %s, journal %s, error %q", r.State, r.Load.Journal, r.Load.Error)
		}
		// the retry resumes from the kept journal
		r, err = s.StartLoad(ctx, rec.ID)
		if err != nil || r.Load.Attempts != 2 || string(r.Load.Journal) != string(journal) || r.Load.Error != "" {
			t.Fatalf("retry: %v, attempts %d, journal %s", err, r.Load.Attempts, r.Load.Journal)
		}
		result := json.RawMessage(`{"core_company":"0123456789abcdef0123456789abcdef","u_managed_services_sales_order":"fedcba9876543210fedcba9876543210"}`)
		r, err = s.FinishLoad(ctx, rec.ID, result)
		if err != nil || r.State != staging.StateLoaded || string(r.Load.Result) != string(result) || r.Load.LoadedAt.IsZero() {
			t.Fatalf("FinishLoad: %v %+v", err, r.Load)
		}
		if ok, _ := r.Loadable(); ok {
			t.Fatal("a loaded record is loadable without a change")
		}

		// a newer payload after the load makes it loadable again
		newer := intake(t, s, deal(t, map[string]any{"LastModifiedDate": "2026-12-01T08:00:00.000+0000", "Total_Extended_Price__c": 500000}))
		if newer.Outcome != staging.IntakeUpdated || !newer.Record.ChangedSinceLoad || newer.Record.State != staging.StateLoaded {
			t.Fatalf("newer payload: %s, changed %v, state %s", newer.Outcome, newer.Record.ChangedSinceLoad, newer.Record.State)
		}
		if ok, why := newer.Record.Loadable(); !ok || why != "changed since the last load" {
			t.Fatalf("Loadable after change: %v %q", ok, why)
		}
		r, err = s.StartLoad(ctx, rec.ID)
		if err != nil || r.ChangedSinceLoad || r.Load.Attempts != 3 {
			t.Fatalf("reload: %v, changed %v", err, r.ChangedSinceLoad)
		}
		// a newer payload during the load keeps it loadable afterwards
		intake(t, s, deal(t, map[string]any{"LastModifiedDate": "2026-12-02T08:00:00.000+0000"}))
		r, err = s.FinishLoad(ctx, rec.ID, result)
		if err != nil || !r.ChangedSinceLoad {
			t.Fatalf("finish after a change during the load: %v, changed %v", err, r.ChangedSinceLoad)
		}
		want := []staging.EventKind{staging.EventCreated, staging.EventEmailApplied, staging.EventLoadStarted, staging.EventLoadFailed,
			staging.EventLoadStarted, staging.EventLoadFinished, staging.EventPayloadUpdated, staging.EventLoadStarted,
			staging.EventPayloadUpdated, staging.EventLoadFinished}
		if got := historyKinds(t, s, rec.ID); !slices.Equal(got, want) {
			t.Fatalf("history\n%v\nwant\n%v", got, want)
		}
		evs, _ := s.History(ctx, rec.ID)
		if evs[2].User != "alice" || evs[2].From != staging.StateReady || evs[2].To != staging.StateLoading {
			t.Fatalf("load_started event %+v should name alice and ready->loading", evs[2])
		}
	})
}

func TestLoadReviewAndRetry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		rec := intake(t, s, deal(t, nil)).Record
		ingest(t, s, phEmail("<review@ph.example>", "0001234567", "DR00004711", "", contractPDF()))
		if _, err := s.StartLoad(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		r, err := s.MarkNeedsReview(ctx, rec.ID, "2 companies have ECC id 0001234567 and product AEM", json.RawMessage(`{"stopped_at":"company"}`))
		if err != nil || r.State != staging.StateNeedsReview || r.Review.Source != staging.ReviewLoad || string(r.Load.Journal) != `{"stopped_at":"company"}` {
			t.Fatalf("MarkNeedsReview: %v %+v", err, r)
		}
		res, err := s.RetryReview(ctx, rec.ID, staging.By("bob"))
		if err != nil || res.Record.State != staging.StateReady || res.Record.Review.ResolvedAt.IsZero() || res.Target != nil {
			t.Fatalf("RetryReview: %v %+v", err, res.Record)
		}
	})
}

func TestIfVersionDetectsAConcurrentChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		rec := intake(t, s, deal(t, nil)).Record
		seen := ingest(t, s, phEmail("<v@ph.example>", "0001234567", "DR00004711", "")).Record
		// someone else changes the record after the console showed it
		intake(t, s, deal(t, map[string]any{"LastModifiedDate": "2026-12-01T08:00:00.000+0000"}))
		_, err := s.StartLoad(ctx, rec.ID, staging.IfVersion(seen.Version))
		var ce *staging.ConflictError
		if !errors.Is(err, staging.ErrConflict) || !errors.As(err, &ce) || ce.Expected != seen.Version || ce.Actual != seen.Version+1 {
			t.Fatalf("got %v, want a conflict from version %d", err, seen.Version)
		}
		cur := mustGet(t, s, rec.ID)
		if _, err := s.StartLoad(ctx, rec.ID, staging.IfVersion(cur.Version)); err != nil {
			t.Fatalf("with the current version: %v", err)
		}
	})
}

func TestLoadArgumentsAreChecked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		if err := s.SaveJournal(ctx, 1, json.RawMessage(`{`)); !errors.Is(err, staging.ErrInvalidInput) {
			t.Fatalf("bad journal: %v", err)
		}
		if _, err := s.FailLoad(ctx, 1, " ", nil); !errors.Is(err, staging.ErrInvalidInput) {
			t.Fatalf("empty reason: %v", err)
		}
		if _, err := s.StartLoad(ctx, 4242); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("unknown record: %v", err)
		}
	})
}
