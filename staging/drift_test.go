package staging_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestAcknowledgeDrift(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		loaded := intake(t, s, deal(t, nil)).Record
		ingest(t, s, phEmail("<drift@ph.example>", "0001234567", "DR00004711", "4500012345", contractPDF()))
		other := intake(t, s, dealFor(t, 2, "0007654321", "DR00004712", "4500012346")).Record
		if _, err := s.StartLoad(ctx, loaded.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishLoad(ctx, loaded.ID, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		before := mustGet(t, s, loaded.ID)

		cases := []struct {
			name        string
			id          int64
			fingerprint string
			wantErr     error
		}{
			{"not loaded", other.ID, "f0", staging.ErrIllegalTransition},
			{"no fingerprint", loaded.ID, "", nil},
			{"unknown record", 999999, "f0", staging.ErrNotFound},
		}
		for _, c := range cases {
			_, err := s.AcknowledgeDrift(ctx, c.id, c.fingerprint, "")
			if err == nil {
				t.Errorf("%s: AcknowledgeDrift succeeded, want an error", c.name)
				continue
			}
			var ie *staging.InputError
			if c.wantErr != nil && !errors.Is(err, c.wantErr) || c.wantErr == nil && !errors.As(err, &ie) {
				t.Errorf("%s: AcknowledgeDrift: %v, want %v", c.name, err, c.wantErr)
			}
		}

		for _, fp := range []string{"first", "second"} {
			e, err := s.AcknowledgeDrift(ctx, loaded.ID, fp, "u_sales_skus u_qty 2 -> 3 acknowledged", staging.By("olga"), staging.Via("console"))
			if err != nil {
				t.Fatalf("AcknowledgeDrift(%s): %v", fp, err)
			}
			if e.Kind != staging.EventDriftAcknowledged || e.User != "olga" || e.Data["fingerprint"] != fp {
				t.Errorf("event = %+v", e)
			}
		}
		acks, err := s.DriftAcks(ctx, []int64{loaded.ID, other.ID, loaded.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(acks) != 1 || acks[loaded.ID].Fingerprint != "second" || acks[loaded.ID].Event.User != "olga" || acks[loaded.ID].Event.Channel != "console" {
			t.Fatalf("DriftAcks = %+v, want the latest acknowledgement of %s only", acks, loaded.Number)
		}
		after := mustGet(t, s, loaded.ID)
		if after.Version != before.Version || after.State != staging.StateLoaded {
			t.Errorf("acknowledging changed the record: version %d -> %d, state %s", before.Version, after.Version, after.State)
		}
		kinds := historyKinds(t, s, loaded.ID)
		if n := len(kinds); n < 2 || kinds[n-1] != staging.EventDriftAcknowledged || kinds[n-2] != staging.EventDriftAcknowledged {
			t.Errorf("history = %v, want two drift acknowledgements at the end", kinds)
		}
	})
}
