package staging_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// A deal that has to wait for a lock waits alone: while another session
// holds a lock on one customer's staged deal, a newer version of that deal
// waits, and so does its redelivery (as Salesforce's retry would send it),
// but 50 new deals of other customers are all staged meanwhile. Once the
// lock is released, the two deliveries are answered updated and duplicate,
// with one record. Once with a row lock on the staged record, once with the
// customer's ECC lock.
func TestHeldLockStallsOnlyItsCustomer(t *testing.T) {
	holds := []struct {
		name string
		hold func(ctx context.Context, tx *sql.Tx, p staging.Payload) error
	}{
		{"row lock", func(ctx context.Context, tx *sql.Tx, p staging.Payload) error {
			_, err := tx.ExecContext(ctx, "SELECT id FROM staging_records WHERE sf_id = $1 FOR UPDATE", p.SalesforceID)
			return err
		}},
		{"ECC lock", func(ctx context.Context, tx *sql.Tx, p staging.Payload) error {
			_, err := tx.ExecContext(ctx,
				"SELECT pg_advisory_xact_lock(hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || $1, 0))", p.Keys.ECCID)
			return err
		}},
	}
	for _, h := range holds {
		t.Run(h.name, func(t *testing.T) {
			db := dbtest.Postgres(t)
			s, _ := newStore(t, db)
			ctx := context.Background()
			v1 := smallDeal(1, "9990001", "DR99900001") // an ECC id as normalised: no leading zeros
			staged := intake(t, s, v1)
			v2 := v1
			v2.Version, v2.Hash = 2, ""
			v2.Raw = []byte(fmt.Sprintf(`{"Id":%q,"End_User_ECC_ID__c":%q,"Amount":2}`, v1.SalesforceID, v1.Keys.ECCID))

			holder, holderPID := holdLock(t, db, func(tx *sql.Tx) error { return h.hold(ctx, tx, v1) })
			type answer struct {
				res staging.IntakeResult
				err error
			}
			deliveries := make(chan answer, 2)
			deliver := func() {
				res, err := s.Intake(ctx, v2)
				deliveries <- answer{res, err}
			}
			go deliver()
			waitBlockedBy(t, db, holderPID, 1)
			go deliver() // Salesforce's retry of the same version
			waitBlockedBy(t, db, holderPID, 2)

			const others = 50
			created := make([]staging.IntakeResult, others)
			errs := make([]error, others)
			var wg sync.WaitGroup
			for i := range others {
				p := smallDeal(100+i, fmt.Sprintf("00099%05d", 100+i), fmt.Sprintf("DR%08d", 100+i))
				wg.Go(func() { created[i], errs[i] = s.Intake(ctx, p) })
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(waitBound):
				t.Fatalf("the other customers' deals were not all staged within %s while one customer's lock was held", waitBound)
			}
			for i := range others {
				if errs[i] != nil || created[i].Outcome != staging.IntakeCreated {
					t.Fatalf("deal %d of another customer: %v %v", i, created[i].Outcome, errs[i])
				}
			}
			select {
			case a := <-deliveries:
				t.Fatalf("a delivery of the newer version was answered (%v %v) while the lock was held", a.res.Outcome, a.err)
			default:
			}

			if err := holder.Rollback(); err != nil {
				t.Fatal(err)
			}
			var outcomes []staging.IntakeOutcome
			for range 2 {
				a := receive(t, deliveries, "a delivery of the newer version")
				if a.err != nil || a.res.Record.ID != staged.Record.ID {
					t.Fatalf("delivery: %v %+v, want record %d", a.err, a.res, staged.Record.ID)
				}
				outcomes = append(outcomes, a.res.Outcome)
			}
			slices.Sort(outcomes)
			if want := []staging.IntakeOutcome{staging.IntakeDuplicate, staging.IntakeUpdated}; !slices.Equal(outcomes, want) {
				t.Fatalf("the deliveries were answered %v, want %v", outcomes, want)
			}
			if r := mustGet(t, s, staged.Record.ID); r.Payload.Version != 2 {
				t.Fatalf("the record holds version %d, want 2", r.Payload.Version)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM staging_records WHERE sf_id = ?", v1.SalesforceID).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%d records of the deal (%v), want 1", n, err)
			}
		})
	}
}

// holdLock runs hold in a transaction of its own on a connection of its
// own and returns the transaction, still open, and its backend's pid.
func holdLock(t *testing.T, db *bun.DB, hold func(*sql.Tx) error) (*sql.Tx, int) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	var pid int
	if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if err := hold(tx); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// waitBlockedBy waits (bounded) until n sessions wait for the session
// pid, or for a session that waits for it.
func waitBlockedBy(t *testing.T, db *bun.DB, pid, n int) {
	t.Helper()
	waitFor(t, db, n, `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))
		SELECT count(*) FROM pg_stat_activity WHERE pg_blocking_pids(pid) && (ARRAY[$1::integer] || ARRAY(SELECT pid FROM direct))`, pid)
}

func waitFor(t *testing.T, db *bun.DB, n int, query string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(waitBound); ; {
		var got int
		if err := db.DB.QueryRowContext(context.Background(), query, args...).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions waiting, want %d, within %s", got, n, waitBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
