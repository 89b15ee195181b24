package staging_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestIntakeConcurrentSamePayloadGivesOneRecord(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		p := deal(t, nil)
		const n = 20
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			outcomes = map[staging.IntakeOutcome]int{}
			ids      = map[int64]bool{}
			errs     []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				res, err := s.Intake(context.Background(), p, staging.Via("salesforce"))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				outcomes[res.Outcome]++
				ids[res.Record.ID] = true
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d of %d posts failed, first: %v", len(errs), n, errs[0])
		}
		if outcomes[staging.IntakeCreated] != 1 || outcomes[staging.IntakeDuplicate] != n-1 || len(ids) != 1 {
			t.Fatalf("outcomes %v over record ids %v; want 1 created and %d duplicates of one record", outcomes, ids, n-1)
		}
		counts, err := s.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if counts[staging.StateReceived] != 1 {
			t.Fatalf("counts %v, want exactly one received record", counts)
		}
		for id := range ids {
			if got := historyKinds(t, s, id); !slices.Equal(got, []staging.EventKind{staging.EventCreated}) {
				t.Fatalf("history %v, want only the creation", got)
			}
		}
	})
}

func TestIntakeVersions(t *testing.T) {
	v1 := map[string]any{"LastModifiedDate": "2026-11-27T10:00:00.000+0000", "Industry__c": "Media & Entertainment"}
	v2 := map[string]any{"LastModifiedDate": "2026-11-28T10:00:00.000+0000", "Industry__c": "Travel, Leisure & Hospitality"}
	v2b := map[string]any{"LastModifiedDate": "2026-11-28T10:00:00.000+0000", "Industry__c": "Retail"}
	cases := []struct {
		name     string
		sequence []map[string]any
		want     []staging.IntakeOutcome
		kept     int // index into sequence of the payload that must be current
		history  int // previous versions kept
		// says is what the last post's reason (stale) or latest history
		// message tells people: versions as their LastModifiedDate.
		says string
	}{
		{"newer then older", []map[string]any{v2, v1}, []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeStale}, 0, 0,
			"this payload (LastModifiedDate 2026-11-27 10:00 UTC) is older than the staged one (LastModifiedDate 2026-11-28 10:00 UTC)"},
		{"older then newer", []map[string]any{v1, v2}, []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeUpdated}, 1, 1,
			"Salesforce payload updated: newer version (LastModifiedDate 2026-11-28 10:00 UTC, was LastModifiedDate 2026-11-27 10:00 UTC)"},
		{"older, newer, older again", []map[string]any{v1, v2, v1}, []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeUpdated, staging.IntakeStale}, 1, 1,
			"this payload (LastModifiedDate 2026-11-27 10:00 UTC) is older than the staged one (LastModifiedDate 2026-11-28 10:00 UTC)"},
		{"same version, other content", []map[string]any{v2, v2b}, []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeStale}, 0, 0,
			"this payload has the staged LastModifiedDate 2026-11-28 10:00 UTC but other content"},
		{"same payload twice", []map[string]any{v1, v1}, []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeDuplicate}, 0, 0,
			"staged"},
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, _ := newStore(t, db)
				// each case stages a deal of its own
				id := fmt.Sprintf("006Dn00000Vv%06d", i)
				var payloads []staging.Payload
				var last staging.IntakeResult
				for i, ch := range c.sequence {
					ch = map[string]any{"Id": id, "LastModifiedDate": ch["LastModifiedDate"], "Industry__c": ch["Industry__c"]}
					p := deal(t, ch)
					payloads = append(payloads, p)
					last = intake(t, s, p)
					if last.Outcome != c.want[i] {
						t.Fatalf("post %d: outcome %s, want %s (reason %q)", i+1, last.Outcome, c.want[i], last.Reason)
					}
				}
				r := mustGet(t, s, last.Record.ID)
				if want := payloads[c.kept]; r.Payload.Hash != want.Hash || r.Payload.Version != want.Version || string(r.Payload.Raw) != string(want.Raw) {
					t.Fatalf("current payload is version %d (%s), want post %d (version %d)", r.Payload.Version, r.Payload.Hash, c.kept+1, want.Version)
				}
				if last.Outcome == staging.IntakeStale && (last.Previous == nil || last.Previous.Hash != r.Payload.Hash || last.Reason == "") {
					t.Fatalf("stale answer should name the kept payload and a reason: %+v", last)
				}
				says := last.Reason
				if last.Outcome != staging.IntakeStale {
					events, err := s.History(context.Background(), r.ID)
					if err != nil || len(events) == 0 {
						t.Fatalf("history: %v %v", events, err)
					}
					says = events[len(events)-1].Message
				}
				if !strings.Contains(says, c.says) || strings.Contains(says, "version 17") {
					t.Errorf("the record says %q, want %q (versions as LastModifiedDate)", says, c.says)
				}
				hist, err := s.PayloadHistory(context.Background(), r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(hist) != c.history {
					t.Fatalf("%d previous versions kept, want %d", len(hist), c.history)
				}
				if c.history == 1 && (hist[0].Hash != payloads[0].Hash || string(hist[0].Raw) != string(payloads[0].Raw) || hist[0].SupersededAt.IsZero()) {
					t.Fatalf("history keeps %+v, want the first post", hist[0])
				}
			})
		}
	})
}

func TestIntakeRejectsIncompletePayload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		_, err := s.Intake(context.Background(), staging.Payload{Raw: []byte("{not json")})
		var ie *staging.InputError
		if !errors.As(err, &ie) || !errors.Is(err, staging.ErrInvalidInput) || len(ie.Problems) != 3 {
			t.Fatalf("got %v, want an InputError listing the id, version and JSON problems", err)
		}
	})
}

func TestPayloadWithoutLastModifiedDateTakesSequence(t *testing.T) {
	p := deal(t, map[string]any{"LastModifiedDate": nil})
	if p.Version != 0 {
		t.Fatalf("version %d without LastModifiedDate, want 0", p.Version)
	}
	if got := p.WithSequence(7).Version; got != 7 {
		t.Fatalf("WithSequence gave %d", got)
	}
	q := deal(t, nil)
	if got := q.WithSequence(7).Version; got != q.Version || got == 7 {
		t.Fatalf("WithSequence replaced LastModifiedDate's version: %d", got)
	}
}

func TestIntakeInTxRunsOnChangeAndRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		p := deal(t, nil)
		boom := errors.New("queue refused the job")
		_, err := s.Intake(ctx, p, staging.InTx(func(ctx context.Context, tx bun.Tx, rec *staging.Record) error {
			var n int
			if err := tx.NewSelect().TableExpr("staging_records").ColumnExpr("count(*)").Where("id = ?", rec.ID).Scan(ctx, &n); err != nil || n != 1 {
				t.Errorf("inside the transaction the record is not visible: %d %v", n, err)
			}
			return boom
		}))
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want the callback's error", err)
		}
		if _, err := s.GetBySalesforceID(ctx, p.SalesforceID); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("the failed callback left a record behind: %v", err)
		}
		calls := 0
		count := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { calls++; return nil })
		intake(t, s, p, count)
		intake(t, s, p, count)
		if calls != 1 {
			t.Fatalf("InTx ran %d times for a create and a duplicate, want 1", calls)
		}
	})
}
