package staging_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// pgProxy forwards loopback connections to Postgres and can misbehave:
// cut closes the connections open now, and refuse makes new connections
// fail at once.
type pgProxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []*proxyConn
	refusing bool
}

type proxyConn struct {
	client, server net.Conn
}

func startProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refusing := p.refusing
		p.mu.Unlock()
		if refusing {
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); s.Close() }()
		go pc.answer()
	}
}

// answer copies what Postgres sends to the client.
func (pc *proxyConn) answer() {
	_, _ = io.Copy(pc.client, pc.server)
	pc.client.Close()
}

func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.client.Close()
		c.server.Close()
	}
	p.conns = nil
}

func (p *pgProxy) refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = on
}

// storeThrough opens a migrated store on dsn's schema through the proxy,
// with params added to the URL.
func storeThrough(t *testing.T, dsn string, params map[string]string) (*staging.Store, *pgProxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	s, _ := newStore(t, dbtest.Open(t, u.String()))
	return s, p
}

// blockSalesforceIDs inserts, in a transaction left open, rows with the
// deals' Salesforce ids: a batch's insert of those deals waits for it.
func blockSalesforceIDs(t *testing.T, db *bun.DB, deals ...staging.Payload) (tx *sql.Tx, pid int) {
	t.Helper()
	return holdLock(t, db, func(tx *sql.Tx) error {
		for _, d := range deals {
			if _, err := tx.ExecContext(context.Background(), `INSERT INTO staging_records (state, state_since, version, sf_id, created_at, updated_at)
				VALUES ('received', now(), 1, $1, now(), now())`, d.SalesforceID); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordsOf counts the records of each deal.
func recordsOf(t *testing.T, db *bun.DB, deals []staging.Payload) []int {
	t.Helper()
	out := make([]int, len(deals))
	for i, d := range deals {
		if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM staging_records WHERE sf_id = ?", d.SalesforceID).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type intakeAnswer struct {
	res staging.IntakeResult
	err error
}

// intakeAll sends the deals at once and returns a channel of their
// answers, in the deals' order once all arrived.
func intakeAll(s *staging.Store, deals []staging.Payload) <-chan []intakeAnswer {
	out := make(chan []intakeAnswer, 1)
	go func() {
		answers := make([]intakeAnswer, len(deals))
		var wg sync.WaitGroup
		for i, d := range deals {
			wg.Go(func() {
				res, err := s.Intake(context.Background(), d)
				answers[i] = intakeAnswer{res, err}
			})
		}
		wg.Wait()
		out <- answers
	}()
	return out
}

func faultDeals(base, n int) []staging.Payload {
	out := make([]staging.Payload, n)
	for i := range out {
		out[i] = smallDeal(base+i, fmt.Sprintf("%d", 8800000+base+i), fmt.Sprintf("DR%08d", base+i))
	}
	return out
}

// checkOnce fails unless every deal has exactly one record.
func checkOnce(t *testing.T, db *bun.DB, deals []staging.Payload) {
	t.Helper()
	for i, n := range recordsOf(t, db, deals) {
		if n != 1 {
			t.Fatalf("deal %d has %d records, want 1", i, n)
		}
	}
}

// The batch path's faults, on real Postgres through a proxy. In each,
// every caller gets its own answer (created, or an error when its deal was
// not committed), nothing is committed twice, and the next deals go
// through.
func TestBatchFaults(t *testing.T) {
	t.Run("backend terminated mid-batch", func(t *testing.T) {
		dsn := dbtest.PostgresURL(t)
		s, _ := storeThrough(t, dsn, nil)
		direct := dbtest.Open(t, dsn) // the same schema, directly
		deals := faultDeals(100, 4)
		holder, pid := blockSalesforceIDs(t, direct, deals...)
		answers := intakeAll(s, deals)
		waitBlockedBy(t, direct, pid, 1)
		// Every session waiting for the holder is a batch writer's.
		if _, err := direct.ExecContext(context.Background(),
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ? = ANY (pg_blocking_pids(pid))", pid); err != nil {
			t.Fatal(err)
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		// Its batch was rolled back; the general path staged each deal.
		wantCreated(t, answers, "the deals of the terminated batch")
		checkOnce(t, direct, deals)
		checkNextDeals(t, s, direct, 200)
	})

	t.Run("Postgres refuses connections", func(t *testing.T) {
		dsn := dbtest.PostgresURL(t)
		s, proxy := storeThrough(t, dsn, nil)
		direct := dbtest.Open(t, dsn) // the same schema, directly
		proxy.refuse(true)
		proxy.cut()
		deals := faultDeals(500, 3)
		for i, a := range receive(t, intakeAll(s, deals), "the answers") {
			if a.err == nil {
				t.Fatalf("deal %d was answered %s while Postgres refused connections", i, a.res.Outcome)
			}
		}
		for i, n := range recordsOf(t, direct, deals) {
			if n != 0 {
				t.Fatalf("deal %d has %d records though it was refused", i, n)
			}
		}
		proxy.refuse(false)
		wantCreated(t, intakeAll(s, deals), "the redelivered deals")
		checkOnce(t, direct, deals)
		checkNextDeals(t, s, direct, 600)
	})

	t.Run("statement timeout", func(t *testing.T) {
		dsn := dbtest.PostgresURL(t)
		direct := dbtest.Open(t, dsn) // the same schema, directly
		newStore(t, direct)           // migrated without the timeout
		s, _ := storeThrough(t, dsn, map[string]string{"statement_timeout": "300"})
		stuck := faultDeals(700, 1)
		holder, pid := blockSalesforceIDs(t, direct, stuck...)
		answers := intakeAll(s, stuck)
		waitBlockedBy(t, direct, pid, 1)
		others := faultDeals(710, 6)
		wantCreated(t, intakeAll(s, others), "the other deals")
		a := receive(t, answers, "the stuck deal's answer")[0]
		if a.err == nil {
			t.Fatalf("the deal whose insert timed out was answered %s", a.res.Outcome)
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := recordsOf(t, direct, stuck)[0]; n != 0 {
			t.Fatalf("the timed-out deal has %d records", n)
		}
		if res := intake(t, s, stuck[0]); res.Outcome != staging.IntakeCreated {
			t.Fatalf("the timed-out deal redelivered: %s", res.Outcome)
		}
		checkOnce(t, direct, append(stuck, others...))
	})
}

// checkNextDeals stages a few more deals and checks each is staged once.
func checkNextDeals(t *testing.T, s *staging.Store, db *bun.DB, base int) {
	t.Helper()
	next := faultDeals(base, 5)
	wantCreated(t, intakeAll(s, next), "the next deals")
	checkOnce(t, db, next)
}

// wantCreated waits (bounded) for the answers and fails unless every deal
// was answered created.
func wantCreated(t *testing.T, answers <-chan []intakeAnswer, what string) {
	t.Helper()
	for i, a := range receive(t, answers, what) {
		if a.err != nil || a.res.Outcome != staging.IntakeCreated {
			t.Fatalf("%s: deal %d was answered %v %v, want created", what, i, a.res.Outcome, a.err)
		}
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
