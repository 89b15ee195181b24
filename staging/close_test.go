package staging_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// waitBound bounds every wait of these tests: reaching it is a failure
// (something hangs), never a measurement.
const waitBound = 30 * time.Second

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitBound):
		t.Fatalf("%s did not happen within %s", what, waitBound)
		panic("unreachable")
	}
}

// On Postgres, Close waits for the deal the batch writer is writing: the
// batch is held on the deal's ECC lock by another session, and Close
// returns only after the lock is released and the deal committed.
func TestCloseWaitsForTheBatchInFlight(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	p := dealFor(t, 1, "4713001", "DR47130001", "")

	// Another session holds the lock the batch function takes for the
	// deal's ECC id.
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	var holderPID int
	if err := holder.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx,
		"SELECT pg_advisory_xact_lock(hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || ?, 0))", p.Keys.ECCID); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		res staging.IntakeResult
		err error
	}
	intakeDone := make(chan answer, 1)
	go func() {
		res, err := s.Intake(ctx, p)
		intakeDone <- answer{res, err}
	}()
	// Wait (bounded) until the batch waits for the holder's lock.
	for deadline := time.Now().Add(waitBound); ; {
		var blocked int
		err := db.NewSelect().TableExpr("pg_stat_activity").ColumnExpr("count(*)").
			Where("? = ANY (pg_blocking_pids(pid))", holderPID).Scan(ctx, &blocked)
		if err != nil {
			t.Fatal(err)
		}
		if blocked > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the batch did not wait for the ECC lock within %s", waitBound)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A context that has ended: Close says what still runs.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = s.Close(cancelled)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "batch writer") {
		t.Fatalf("Close with an ended context while a batch waits: %v; want context.Canceled naming the batch writer", err)
	}
	// Closed: no new deal is accepted, while the one in flight still waits.
	if _, err := s.Intake(ctx, dealFor(t, 2, "4713002", "DR47130002", "")); !errors.Is(err, staging.ErrClosed) {
		t.Fatalf("Intake after Close: %v, want ErrClosed", err)
	}

	closeCtx, cancelClose := context.WithTimeout(ctx, waitBound)
	defer cancelClose()
	closeDone := make(chan error, 1)
	go func() { closeDone <- s.Close(closeCtx) }()
	// The deal is not committed and Close has not returned while the lock
	// is held.
	if _, err := s.GetBySalesforceID(ctx, p.SalesforceID); !errors.Is(err, staging.ErrNotFound) {
		t.Fatalf("the deal in flight is visible before the lock is released: %v", err)
	}
	select {
	case err := <-closeDone:
		t.Fatalf("Close returned (%v) while the batch waited for the lock", err)
	default:
	}

	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, closeDone, "Close after the lock was released"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close returned after the batch was answered: the deal is committed
	// and the batch's connection is back in the pool.
	staged, err := s.GetBySalesforceID(ctx, p.SalesforceID)
	if err != nil {
		t.Fatalf("the deal in flight when Close was called: %v", err)
	}
	if n := db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections in use after Close, want the batch's back in the pool", n)
	}
	a := receive(t, intakeDone, "the answer of the deal in flight")
	if a.err != nil || a.res.Outcome != staging.IntakeCreated || a.res.Record.ID != staged.ID {
		t.Fatalf("the deal in flight was answered %v %+v, want created as record %d", a.err, a.res, staged.ID)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close again: %v", err)
	}
}

// Close is safe to call twice, refuses Intake afterwards on both engines
// and leaves the database, which the caller owns, open for the rest.
func TestCloseTwiceThenIntakeIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		before := intake(t, s, dealFor(t, 1, "4714001", "DR47140001", "")).Record

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		cases := []struct {
			name string
			ctx  context.Context
		}{
			{"first", ctx},
			{"second", ctx},
			{"ended context, nothing running", cancelled},
		}
		for _, c := range cases {
			if err := s.Close(c.ctx); err != nil {
				t.Fatalf("Close (%s): %v", c.name, err)
			}
		}
		for _, p := range []staging.Payload{dealFor(t, 2, "4714002", "DR47140002", ""), dealFor(t, 1, "4714001", "DR47140001", "")} {
			res, err := s.Intake(ctx, p)
			if !errors.Is(err, staging.ErrClosed) || res.Record != nil {
				t.Fatalf("Intake of %s after Close: %+v %v, want ErrClosed", p.SalesforceID, res, err)
			}
			if !strings.Contains(err.Error(), "the store is closed") {
				t.Fatalf("error %q does not say the store is closed", err)
			}
		}
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("Close closed the caller's database: %v", err)
		}
		if got := mustGet(t, s, before.ID); got.Number != before.Number {
			t.Fatalf("Get after Close: %s, want %s", got.Number, before.Number)
		}
		if _, err := s.GetBySalesforceID(ctx, dealFor(t, 2, "4714002", "DR47140002", "").SalesforceID); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("a deal refused after Close was staged: %v", err)
		}
	})
}
