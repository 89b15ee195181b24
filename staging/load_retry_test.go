package staging_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// A retrying load stays loading with its reason and next try; every way
// out of loading clears the next try, and a new load counts from zero.
func TestRetryLoadKeepsTheRecordLoading(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, clock := newStore(t, db)
		f := &fixtures{t: t, s: s}
		id, _ := f.make(staging.StateLoading)
		next := clock.Now().Add(90 * time.Second)
		journal := json.RawMessage(`{"attempt":1,"journal":{"done":["company"]}}`)
		rec, err := s.RetryLoad(ctx, id, "ServiceNow answered 503", next, journal)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RetryLoad(ctx, id, "ServiceNow answered 429", next.Add(time.Minute), nil); err != nil {
			t.Fatal(err)
		}
		rec = mustGet(t, s, id)
		if rec.State != staging.StateLoading || !rec.Load.Retrying() || rec.Load.Retries != 2 ||
			rec.Load.Error != "ServiceNow answered 429" || !rec.Load.NextTryAt.Equal(next.Add(time.Minute).UTC().Truncate(time.Second)) ||
			string(rec.Load.Journal) != string(journal) {
			t.Fatalf("after two retries: state %s, load %+v", rec.State, rec.Load)
		}
		if kinds := historyKinds(t, s, id); slices.Index(kinds, staging.EventLoadRetrying) < 0 {
			t.Errorf("history %v has no %s", kinds, staging.EventLoadRetrying)
		}
		if _, err := s.RetryLoad(ctx, id, " ", next, nil); err == nil {
			t.Error("a retry without a reason was accepted")
		}

		if _, err := s.FailLoad(ctx, id, "gave up: ServiceNow answered 429 for 24h", nil); err != nil {
			t.Fatal(err)
		}
		rec = mustGet(t, s, id)
		if rec.Load.Retrying() || rec.Load.Retries != 2 {
			t.Errorf("after FailLoad: %+v", rec.Load)
		}
		if _, err := s.StartLoad(ctx, id); err != nil {
			t.Fatal(err)
		}
		if rec = mustGet(t, s, id); rec.Load.Retries != 0 || rec.Load.Retrying() || rec.Load.Error != "" {
			t.Errorf("a new load kept the last one's retries: %+v", rec.Load)
		}
		if _, err := s.RetryLoad(ctx, id, "timeout", next, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishLoad(ctx, id, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		if rec = mustGet(t, s, id); rec.Load.Retrying() || rec.Load.Error != "" {
			t.Errorf("after FinishLoad: %+v", rec.Load)
		}
	})
}

// LoadsUnderWay lists loading records with their retry state, longest
// running first, and nothing else.
func TestLoadsUnderWay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, clock := newStore(t, db)
		f := &fixtures{t: t, s: s}
		first, _ := f.make(staging.StateLoading)
		clock.Advance(time.Minute)
		second, _ := f.make(staging.StateLoading)
		f.make(staging.StateLoadFailed)
		f.make(staging.StateReady)
		next := clock.Now().Add(time.Hour)
		if _, err := s.RetryLoad(ctx, second, "ServiceNow answered 503", next, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadsUnderWay(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != first || got[1].ID != second {
			t.Fatalf("loads under way: %+v", got)
		}
		if got[0].Retries != 0 || !got[0].NextTryAt.IsZero() || got[0].Attempts != 1 || got[0].StartedAt.IsZero() {
			t.Errorf("running load: %+v", got[0])
		}
		if got[1].Retries != 1 || !got[1].NextTryAt.Equal(next.UTC().Truncate(time.Second)) || got[1].Error != "ServiceNow answered 503" {
			t.Errorf("retrying load: %+v", got[1])
		}
	})
}
