package staging_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestInTxOnEmailsAndQuarantine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		rec := intake(t, s, deal(t, nil)).Record
		e := phEmail("<intx@ph.example>", "0001234567", "DR00004711", "", contractPDF())

		// a failing callback rolls the whole email back: the next delivery is not a duplicate
		boom := errors.New("job queue unavailable")
		fail := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { return boom })
		if _, err := s.IngestEmail(ctx, e, fail); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the callback's error", err)
		}
		if r := mustGet(t, s, rec.ID); r.PH != nil || len(r.Attachments) != 0 || r.State != staging.StateReceived {
			t.Fatalf("the rolled-back email left traces: %+v", r.Summary)
		}
		var seen []int64
		record := staging.InTx(func(_ context.Context, _ bun.Tx, r *staging.Record) error {
			seen = append(seen, r.ID)
			return nil
		})
		if res := ingest(t, s, e, record); res.Outcome != staging.EmailApplied {
			t.Fatalf("redelivery after the rollback: %s", res.Outcome)
		}
		ingest(t, s, e, record) // duplicate: no callback
		if len(seen) != 1 || seen[0] != rec.ID {
			t.Fatalf("callback saw %v, want once the record %d", seen, rec.ID)
		}

		calls, nilRecord := 0, true
		q := staging.InTx(func(_ context.Context, _ bun.Tx, r *staging.Record) error {
			calls++
			nilRecord = nilRecord && r == nil
			return nil
		})
		for range 2 {
			if _, err := s.Quarantine(ctx, []byte("not a message"), "unreadable MIME", "imap", q); err != nil {
				t.Fatal(err)
			}
		}
		if calls != 1 || !nilRecord {
			t.Fatalf("quarantine callback ran %d times (nil record %v), want once with nil", calls, nilRecord)
		}
	})
}

func TestHistoryNamesChannelAndUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		rec := intake(t, s, deal(t, nil), staging.Via("salesforce")).Record
		ingest(t, s, phEmail("<who@ph.example>", "0001234567", "DR00004711", ""), staging.Via("imap"))
		if _, err := s.StartLoad(ctx, rec.ID, staging.Via("console"), staging.By("erin")); err != nil {
			t.Fatal(err)
		}
		evs, err := s.History(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ channel, user string }{{"salesforce", ""}, {"imap", ""}, {"console", "erin"}}
		if len(evs) != len(want) {
			t.Fatalf("%d events, want %d", len(evs), len(want))
		}
		for i, w := range want {
			if evs[i].Channel != w.channel || evs[i].User != w.user || evs[i].At.IsZero() || evs[i].Message == "" {
				t.Fatalf("event %d: %+v, want channel %q user %q", i, evs[i], w.channel, w.user)
			}
		}
	})
}
