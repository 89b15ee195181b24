package staging_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// On Postgres a new deal takes a one-statement path; it must stage exactly
// what the general path stages. An InTx option forces the general path.
func TestNewDealFastPathMatchesGeneralPath(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	noop := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { return nil })
	fast := intake(t, s, dealFor(t, 1, "0001112223", "DR00000001", "4500000001"), staging.Via("api"), staging.By("salesforce"))
	general := intake(t, s, dealFor(t, 2, "0001112224", "DR00000002", "4500000002"), staging.Via("api"), staging.By("salesforce"), noop)
	if fast.Outcome != staging.IntakeCreated || general.Outcome != staging.IntakeCreated {
		t.Fatalf("outcomes %s %s", fast.Outcome, general.Outcome)
	}
	if fast.Record.Number != staging.FormatNumber(fast.Record.ID) {
		t.Fatalf("number %s for id %d", fast.Record.Number, fast.Record.ID)
	}
	// Normalise what must differ (ids, numbers, keys, Salesforce ids) and
	// compare what was stored and what was answered.
	norm := func(r *staging.Record) string {
		c := *r
		c.ID, c.Number, c.Keys, c.SalesforceID, c.CompanyName = 0, "", staging.Keys{}, "", ""
		p := *c.Payload
		p.Raw, p.Hash, p.Keys, p.SalesforceID = nil, "", staging.Keys{}, ""
		c.Payload = &p
		b, _ := json.Marshal(c)
		return string(b)
	}
	if a, b := norm(mustGet(t, s, fast.Record.ID)), norm(mustGet(t, s, general.Record.ID)); a != b {
		t.Fatalf("stored records differ:\nfast:    %s\ngeneral: %s", a, b)
	}
	if a, b := norm(fast.Record), norm(mustGet(t, s, fast.Record.ID)); a != b {
		t.Fatalf("the fast path's answer differs from what it stored:\nanswer: %s\nstored: %s", a, b)
	}
	for _, id := range []int64{fast.Record.ID, general.Record.ID} {
		h, err := s.History(ctx, id)
		if err != nil || len(h) != 1 || h[0].Kind != staging.EventCreated || h[0].Channel != "api" || h[0].User != "salesforce" || h[0].Data["version"] == "" {
			t.Fatalf("history of %d: %v %+v", id, err, h)
		}
	}
	// Search finds the fast path's record by number and by company.
	page, err := s.List(ctx, staging.Filter{Text: fast.Record.Number})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != fast.Record.ID {
		t.Fatalf("search by number: %v %+v", err, page.Records)
	}
	// The same deal again takes the general path and is a duplicate.
	if again := intake(t, s, dealFor(t, 1, "0001112223", "DR00000001", "4500000001")); again.Outcome != staging.IntakeDuplicate || again.Record.ID != fast.Record.ID {
		t.Fatalf("again: %s %d", again.Outcome, again.Record.ID)
	}
	// A PH email waiting for a deal sends the deal down the general path,
	// which merges them.
	ingest(t, s, phEmail("<w@x>", "0001112225", "DR00000003", ""))
	if merged := intake(t, s, dealFor(t, 3, "0001112225", "DR00000003", "")); merged.Outcome != staging.IntakeMerged {
		t.Fatalf("waiting email: %s", merged.Outcome)
	}
}

// Concurrent new deals on Postgres are written in shared batches. Each deal
// posted twice at once must still give one record, answered once as
// created and once as a duplicate, with one history event; a deal whose PH
// email waits is merged, never batched past it.
func TestConcurrentNewDealsShareBatches(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	ingest(t, s, phEmail("<waiting@x>", "0002220000", "DR00009999", ""))
	const deals = 40
	type answer struct {
		n   int
		res staging.IntakeResult
		err error
	}
	answers := make(chan answer, 2*deals+1)
	var wg sync.WaitGroup
	post := func(n int, p staging.Payload) {
		defer wg.Done()
		res, err := s.Intake(ctx, p, staging.Via("api"))
		answers <- answer{n, res, err}
	}
	for n := 1; n <= deals; n++ {
		p := dealFor(t, n, fmt.Sprintf("00022%05d", n), fmt.Sprintf("DR%08d", n), "")
		wg.Add(2)
		go post(n, p)
		go post(n, p)
	}
	wg.Add(1)
	go post(0, dealFor(t, 999, "0002220000", "DR00009999", ""))
	wg.Wait()
	close(answers)

	ids := map[int]int64{}
	outcomes := map[int][]staging.IntakeOutcome{}
	for a := range answers {
		if a.err != nil {
			t.Fatalf("deal %d: %v", a.n, a.err)
		}
		if prev, ok := ids[a.n]; ok && prev != a.res.Record.ID {
			t.Fatalf("deal %d staged twice: records %d and %d", a.n, prev, a.res.Record.ID)
		}
		ids[a.n] = a.res.Record.ID
		outcomes[a.n] = append(outcomes[a.n], a.res.Outcome)
		if a.res.Record.Number != staging.FormatNumber(a.res.Record.ID) {
			t.Fatalf("deal %d: number %s for id %d", a.n, a.res.Record.Number, a.res.Record.ID)
		}
	}
	if got := outcomes[0]; len(got) != 1 || got[0] != staging.IntakeMerged {
		t.Fatalf("the deal whose email waited: %v, want merged", got)
	}
	for n := 1; n <= deals; n++ {
		got := outcomes[n]
		slices.Sort(got)
		if want := []staging.IntakeOutcome{staging.IntakeCreated, staging.IntakeDuplicate}; !slices.Equal(got, want) {
			t.Fatalf("deal %d: outcomes %v, want %v", n, got, want)
		}
		h, err := s.History(ctx, ids[n])
		if err != nil || len(h) != 1 || h[0].Kind != staging.EventCreated || h[0].Channel != "api" {
			t.Fatalf("history of deal %d: %v %+v", n, err, h)
		}
	}
	page, err := s.List(ctx, staging.Filter{Limit: 500})
	if err != nil || len(page.Records) != deals+1 {
		t.Fatalf("records: %v, %d, want %d", err, len(page.Records), deals+1)
	}
}

// A batch that fails hands each of its deals to the general path, which
// stages them: nothing is lost when the batch function is missing or fails.
func TestFailedBatchFallsBackToGeneralPath(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "DROP FUNCTION staging_intake_new_batch"); err != nil {
		t.Fatal(err)
	}
	res := intake(t, s, dealFor(t, 1, "0003330001", "DR00000001", ""), staging.Via("api"))
	if res.Outcome != staging.IntakeCreated {
		t.Fatalf("outcome %s", res.Outcome)
	}
	h, err := s.History(ctx, res.Record.ID)
	if err != nil || len(h) != 1 || h[0].Kind != staging.EventCreated {
		t.Fatalf("history: %v %+v", err, h)
	}
	if again := intake(t, s, dealFor(t, 1, "0003330001", "DR00000001", "")); again.Outcome != staging.IntakeDuplicate {
		t.Fatalf("again: %s", again.Outcome)
	}
}

// A run sends the first batch at once and keeps at most two on their way
// (one behind a pooler): the second goes once as many deals wait as the
// one on its way took, or once that one is answered. The arrivals come
// 20 ms after next starts waiting, so that a batch sent too early would
// be smaller, or more batches on their way, than the case wants.
func TestBatchesFollowEachOther(t *testing.T) {
	later := func(f func(queue, answer func())) func(queue, answer func()) {
		return func(queue, answer func()) {
			time.Sleep(20 * time.Millisecond)
			f(queue, answer)
		}
	}
	nothing := func(queue, answer func()) {}
	cases := []struct {
		name                 string
		queued, inPipe, last int
		depth                int
		arrive               func(queue, answer func())
		taken, onTheirWay    int
	}{
		{"the first batch goes at once", 1, 0, 0, 2, nothing, 1, 1},
		{"nothing to do ends the run", 0, 0, 5, 2, nothing, 0, 0},
		{"a second batch goes as soon as it is as large as the first", 3, 1, 3, 2, nothing, 3, 2},
		{"a second batch waits to be as large as the first", 2, 1, 3, 2,
			later(func(queue, answer func()) { queue() }), 3, 2},
		{"a second batch goes once the first is answered", 1, 1, 3, 2,
			later(func(queue, answer func()) { answer() }), 1, 1},
		{"no third batch while two are on their way", 5, 2, 3, 2,
			later(func(queue, answer func()) { answer() }), 5, 2},
		{"one at a time behind a pooler", 5, 1, 3, 1,
			later(func(queue, answer func()) { answer() }), 5, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			taken, onTheirWay := staging.PipeNext(tc.queued, tc.inPipe, tc.last, tc.depth, tc.arrive)
			if taken != tc.taken || onTheirWay != tc.onTheirWay {
				t.Errorf("took %d deals with %d batches then on their way, want %d and %d", taken, onTheirWay, tc.taken, tc.onTheirWay)
			}
		})
	}
}

// A batch holds at most 64 deals and 8 MiB of payloads, and always at
// least one deal, however large.
func TestBatchLimits(t *testing.T) {
	repeat := func(n, size int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = size
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		sizes []int
		want  []int
	}{
		{"small deals", repeat(130, 10<<10), []int{64, 64, 2}},
		{"large deals", repeat(5, 3<<20), []int{2, 2, 1}},
		{"one over the cap", []int{20 << 20, 1 << 10, 1 << 10}, []int{1, 2}},
		{"exactly the cap", []int{4 << 20, 4 << 20, 1}, []int{2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := staging.TakeBatchSizes(tc.sizes); !slices.Equal(got, tc.want) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
		})
	}
}

// Large deals arriving together are split into batches by size, and each
// payload is stored byte for byte.
func TestConcurrentLargeDeals(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	const deals = 6
	payloads := make([]staging.Payload, deals)
	for i := range payloads {
		payloads[i] = deal(t, map[string]any{
			"Id":                 fmt.Sprintf("006Dn00000Lg%06d", i),
			"End_User_ECC_ID__c": fmt.Sprintf("00044%05d", i),
			"Description":        strings.Repeat(string(rune('a'+i)), 3<<20), // 3 MiB each: 8 MiB batches take 2
		})
	}
	ids := make([]int64, deals)
	var wg sync.WaitGroup
	for i := range payloads {
		wg.Go(func() {
			res, err := s.Intake(ctx, payloads[i], staging.Via("api"))
			if err != nil || res.Outcome != staging.IntakeCreated {
				t.Errorf("deal %d: %v %v", i, res.Outcome, err)
				return
			}
			ids[i] = res.Record.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id == 0 {
			continue
		}
		if got := mustGet(t, s, id); !bytes.Equal(got.Payload.Raw, payloads[i].Raw) || got.Payload.Hash != payloads[i].Hash {
			t.Fatalf("deal %d: stored %d bytes, want %d, hash %s want %s", i, len(got.Payload.Raw), len(payloads[i].Raw), got.Payload.Hash, payloads[i].Hash)
		}
	}
}

// On Postgres a typical deal's payload is kept compressed in its row
// (migration 20261127000004), not moved out to the TOAST table, whichever
// path staged it; the store reads it back byte for byte.
func TestPayloadStaysInRow(t *testing.T) {
	db := dbtest.Postgres(t)
	s, _ := newStore(t, db)
	ctx := context.Background()
	noop := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { return nil })
	// The example deal as Salesforce sends it (10.6 KB, indented), under
	// two Salesforce ids.
	asSent := func(id string) staging.Payload {
		d, err := sfdc.Decode[sfdc.Opportunity](bytes.ReplaceAll(fullDeal(t), []byte("006Dn00000AbCdEIAV"), []byte(id)))
		if err != nil {
			t.Fatal(err)
		}
		return staging.PayloadFromOpportunity(d)
	}
	p1, p2 := asSent("006Dn00000InRow1AA"), asSent("006Dn00000InRow2AA")
	fast, general := intake(t, s, p1), intake(t, s, p2, noop)
	for i, res := range []staging.IntakeResult{fast, general} {
		var stored, raw int
		var compression sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT pg_column_size(payload_raw), length(payload_raw), pg_column_compression(payload_raw)
			FROM staging_records WHERE id = ?`, res.Record.ID).Scan(&stored, &raw, &compression); err != nil {
			t.Fatal(err)
		}
		// A row under 8160 bytes is kept as it is; a larger one compressed.
		if raw > 8160 && (!compression.Valid || stored*2 > raw) {
			t.Errorf("record %d: payload of %d bytes stored in %d, compression %q", res.Record.ID, raw, stored, compression.String)
		}
		if got := mustGet(t, s, res.Record.ID); !bytes.Equal(got.Payload.Raw, []staging.Payload{p1, p2}[i].Raw) {
			t.Errorf("record %d: payload read back differs: %d bytes, want %d", res.Record.ID, len(got.Payload.Raw), len([]staging.Payload{p1, p2}[i].Raw))
		}
	}
	var toast int64
	if err := db.QueryRowContext(ctx, `SELECT pg_relation_size(reltoastrelid) FROM pg_class
		WHERE oid = 'staging_records'::regclass`).Scan(&toast); err != nil {
		t.Fatal(err)
	}
	if toast != 0 {
		t.Errorf("the TOAST table of staging_records holds %d bytes; the payloads should be in their rows", toast)
	}
}

// The batch statement is prepared once per connection. When the batch
// function is dropped under it, a batch fails and its deal takes the
// general path; once the function is back, batches work again.
func TestBatchStatementOutlivesFunctionChange(t *testing.T) {
	db := dbtest.Postgres(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	s, _ := newStore(t, db, staging.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
	ctx := context.Background()
	db.DB.SetMaxOpenConns(1) // every batch on the connection that prepared it
	if res := intake(t, s, dealFor(t, 1, "0005550001", "DR00000001", "")); res.Outcome != staging.IntakeCreated {
		t.Fatalf("first deal: %s", res.Outcome)
	}
	var def string
	if err := db.QueryRowContext(ctx, `SELECT pg_get_functiondef('staging_intake_new_batch'::regproc)`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "DROP FUNCTION staging_intake_new_batch"); err != nil {
		t.Fatal(err)
	}
	if res := intake(t, s, dealFor(t, 2, "0005550002", "DR00000002", "")); res.Outcome != staging.IntakeCreated {
		t.Fatalf("deal while the function is missing: %s", res.Outcome)
	}
	if _, err := db.ExecContext(ctx, def); err != nil {
		t.Fatal(err)
	}
	if res := intake(t, s, dealFor(t, 3, "0005550003", "DR00000003", "")); res.Outcome != staging.IntakeCreated {
		t.Fatalf("deal after the function is back: %s", res.Outcome)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "a batch of new deals failed"); n != 1 {
		t.Fatalf("%d failed batches, want 1 (the deal while the function was missing):\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A store on a database/sql driver other than pgx's (here lib/pq, as a
// team's own service might use) cannot batch: each new deal is staged on
// the general path, and the log says so at debug level, not as a failure.
func TestOtherDriverTakesGeneralPath(t *testing.T) {
	sqldb, err := sql.Open("postgres", dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	var logs bytes.Buffer
	var mu sync.Mutex
	s, _ := newStore(t, db, staging.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs},
		&slog.HandlerOptions{Level: slog.LevelDebug}))))
	p := dealFor(t, 1, "0006660001", "DR00000001", "")
	if res := intake(t, s, p); res.Outcome != staging.IntakeCreated || !bytes.Equal(mustGet(t, s, res.Record.ID).Payload.Raw, p.Raw) {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if again := intake(t, s, p); again.Outcome != staging.IntakeDuplicate {
		t.Fatalf("again: %s", again.Outcome)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "new deals take the general path") || strings.Contains(logs.String(), "failed") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// A database URL with default_query_exec_mode (as behind a connection
// pooler in transaction mode, which cannot keep prepared statements) still
// batches new deals, sending the call as an unnamed statement: no batch
// fails and no named statement is left on the connection.
func TestBatchWithoutPreparedStatements(t *testing.T) {
	for _, mode := range []string{"cache_describe", "exec"} {
		t.Run(mode, func(t *testing.T) {
			u, err := url.Parse(dbtest.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("default_query_exec_mode", mode)
			u.RawQuery = q.Encode()
			db, s, logs := storeOnOneSession(t, u.String())
			const deals = 24
			var wg sync.WaitGroup
			outcomes := make([]staging.IntakeOutcome, deals)
			for i := range deals {
				p := dealFor(t, 700+i, fmt.Sprintf("00077%05d", i), fmt.Sprintf("DR%08d", 700+i), "")
				wg.Go(func() {
					r, err := s.Intake(context.Background(), p)
					if err != nil {
						t.Error(err)
						return
					}
					outcomes[i] = r.Outcome
				})
			}
			wg.Wait()
			for i, o := range outcomes {
				if o != staging.IntakeCreated {
					t.Fatalf("deal %d: %q", i, o)
				}
			}
			if l := logs(); strings.Contains(l, "failed") {
				t.Fatalf("a batch failed:\n%s", l)
			}
			if namedBatchStatements(t, db) != 0 {
				t.Fatal("the batch statement was prepared by name")
			}
		})
	}
}

// By default (bundb's simple protocol for Bun's statements) the batch is a
// statement prepared by name. When it goes missing from the connection, as
// behind a pooler in transaction mode (simulated here with DEALLOCATE
// ALL), the failed batch's deal takes the general path, the log says once
// that batches are sent unnamed from now on, and they are.
func TestBatchesGoUnnamedWhenStatementsVanish(t *testing.T) {
	db, s, logs := storeOnOneSession(t, dbtest.PostgresURL(t))
	ctx := context.Background()
	for i := range 3 {
		if i == 1 {
			if got := namedBatchStatements(t, db); got != 1 {
				t.Fatalf("after the first batch, %d named batch statements, want 1", got)
			}
			if _, err := db.ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
		}
		p := dealFor(t, 800+i, fmt.Sprintf("00088%05d", i), fmt.Sprintf("DR%08d", 800+i), "")
		if res := intake(t, s, p); res.Outcome != staging.IntakeCreated {
			t.Fatalf("deal %d: %s", i, res.Outcome)
		}
	}
	if got := namedBatchStatements(t, db); got != 0 {
		t.Fatalf("%d named batch statements after the switch, want 0", got)
	}
	l := logs()
	if n := strings.Count(l, "batches of new deals are sent unnamed from now on"); n != 1 {
		t.Fatalf("%d switch messages, want 1:\n%s", n, l)
	}
	if n := strings.Count(l, "a batch of new deals failed"); n != 1 {
		t.Fatalf("%d failed batches, want 1 (the one that found its statement gone):\n%s", n, l)
	}
}

// storeOnOneSession opens a migrated store at dsn through bundb, as serve
// does, and then keeps its pool to one connection, so that the test's own
// statements see the batches' session. logs returns what the store logged.
func storeOnOneSession(t *testing.T, dsn string) (db *bun.DB, s *staging.Store, logs func() string) {
	t.Helper()
	db, err := bundb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var buf bytes.Buffer
	var mu sync.Mutex
	s, _ = newStore(t, db, staging.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))))
	db.DB.SetMaxOpenConns(1) // after Migrate, which needs more than one
	return db, s, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// namedBatchStatements counts the batch statements prepared by name on the
// session of db's one connection.
func namedBatchStatements(t *testing.T, db *bun.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT count(*) FROM pg_prepared_statements WHERE name = 'bookbridge_staging_intake_new_batch'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
