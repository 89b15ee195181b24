package staging

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Concurrent new deals on Postgres are staged together: the first deal is
// sent at once, and deals that arrive while a batch is being written wait
// for the next one, which takes all of them in one transaction. Each
// caller returns only after its own deal is committed. A lone deal is
// never delayed.
//
// A batch is one transaction of two round trips on a pooled connection,
// through pgx's pipeline mode:
//
//  1. It sets the transaction's planner settings (see stepSettings),
//     tries the ECC lock of each deal (pg_try_advisory_xact_lock: a lock
//     someone holds is never waited for), draws record ids from the
//     sequence, and then reads, for each deal, whether its Salesforce id is
//     staged and whether PH emails wait for its ECC id.
//  2. Go decides from those facts (intakeNewFast's rules), numbers the
//     deals it stages and inserts them with their history events in one
//     statement, and commits.
//
// A deal the batch does not stage takes the general path (intakeTx), which
// waits for locks on its own connection and decides everything the batch
// stood back from: so one customer's held lock never stalls another's
// deals. Up to batchWriters writers write batches at once, each on its
// own connection.
const (
	// fastBatchMax caps the deals of one batch.
	fastBatchMax = 64
	// fastBatchMaxBytes caps the payload bytes of one batch, so that a
	// burst of large deals (up to 6 MiB each) is not sent as one message;
	// a batch always takes at least one deal.
	fastBatchMaxBytes = 8 << 20
	// batchWriters is how many writers write batches at once, each on a
	// connection of its own. A further one starts while every writer is
	// busy once as many deals wait as the last batch took. One writer
	// keeps batches larger, each deal costing Postgres and this process
	// less, and its next batch goes to Postgres with its commit (see
	// flights).
	batchWriters = 1
	// spareIDsMax caps the record ids kept drawn for later batches.
	spareIDsMax = fastBatchMax
	// spareIDsMaxAge is how long a drawn record id is kept for a later
	// batch: ids follow the order deals arrive in to within this, and
	// one kept longer is given up, leaving a gap in the numbers.
	spareIDsMaxAge = 2 * time.Second
)

// fastDeal is one new deal waiting for its batch.
type fastDeal struct {
	rec  *Record    // the record to stage; the writer numbers and stamps it
	row  *recordRow // rec as a row, made by the caller; the writer completes it
	ev   *eventRow  // the history event, made by the caller
	done chan fastAnswer
}

// fastAnswer is the batch's answer for one deal.
type fastAnswer struct {
	// ok: the deal is staged and committed as rec (numbered and stamped).
	ok bool
	// unknown: the commit was sent but its outcome was never read, so the
	// caller finds it out from transaction txid (see settle). Otherwise a
	// deal neither ok nor unknown takes the general path.
	unknown bool
	txid    int64
}

// intakeBatcher queues new deals for the batch writers. Its zero value is
// ready; no goroutine runs while nothing is queued.
type intakeBatcher struct {
	mu      sync.Mutex
	wake    sync.Cond // on mu: a deal queued or a batch answered
	queue   []*fastDeal
	writers int       // writers running (see runWriter)
	busy    int       // writers writing a batch
	last    int       // deals of the batch taken last
	spare   []int64   // record ids drawn from the sequence and not used yet
	spareAt time.Time // when the oldest of spare was drawn
}

// add queues d and reports whether a writer must be started to write it:
// when none runs, or when every writer is busy and as many deals wait as
// the last batch took. b.mu is held.
func (b *intakeBatcher) add(d *fastDeal) (start bool) {
	if b.wake.L == nil {
		b.wake.L = &b.mu
	}
	b.queue = append(b.queue, d)
	if b.writers == 0 || (b.writers < batchWriters && b.busy == b.writers && len(b.queue) >= b.last) {
		b.writers++
		return true
	}
	b.wake.Signal()
	return false
}

// next waits until a batch is due and takes it for a writer, or returns
// nil when nothing is queued (the writer then ends). A batch is due when
// no other batch is on its way, or when as many deals wait as the batch
// on its way took. b.mu is held.
func (b *intakeBatcher) next() []*fastDeal {
	if b.wake.L == nil {
		b.wake.L = &b.mu
	}
	for {
		switch {
		case len(b.queue) > 0 && (b.busy == 0 || len(b.queue) >= b.last):
			batch := b.take()
			b.busy++
			b.last = len(batch)
			return batch
		case len(b.queue) == 0:
			b.writers--
			return nil
		}
		b.wake.Wait()
	}
}

// more takes the next batch for a writer that is busy with one once as
// many deals wait as that batch took, or returns nil: the writer then
// takes the next batch once the one on its way is answered, with the deals
// that arrive meanwhile. b.mu is held.
func (b *intakeBatcher) more() []*fastDeal {
	if len(b.queue) == 0 || len(b.queue) < b.last {
		return nil
	}
	batch := b.take()
	b.last = len(batch)
	return batch
}

// answered marks a writer's batch done; b.mu is held.
func (b *intakeBatcher) answered() {
	b.busy--
	b.wake.Broadcast()
}

// take removes the next batch from the queue; b.mu is held.
func (b *intakeBatcher) take() []*fastDeal {
	n, size := 0, 0
	for n < len(b.queue) && n < fastBatchMax {
		size += len(b.queue[n].row.PayloadRaw)
		if n > 0 && size > fastBatchMaxBytes {
			break
		}
		n++
	}
	batch := make([]*fastDeal, n)
	copy(batch, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return batch
}

// takeSpare returns up to n spare record ids, none older than
// spareIDsMaxAge; b.mu is held.
// It returns when they were drawn: now when it returns none.
func (b *intakeBatcher) takeSpare(n int) (ids []int64, drawn time.Time) {
	drawn = time.Now()
	if drawn.Sub(b.spareAt) > spareIDsMaxAge {
		b.spare = b.spare[:0]
	}
	n = min(n, len(b.spare))
	if n == 0 {
		return nil, drawn
	}
	ids = slices.Clone(b.spare[:n])
	b.spare = slices.Delete(b.spare, 0, n)
	return ids, b.spareAt
}

// putSpare keeps ids a batch drew at drawn but did not use, for the next
// batch. Ids drawn at different times are kept in the order drawn, and
// the oldest's time counts for all.
func (b *intakeBatcher) putSpare(ids []int64, drawn time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if len(b.spare) == 0 || drawn.Before(b.spareAt) {
		b.spareAt = drawn
	}
	b.spare = append(b.spare, ids[:min(len(ids), spareIDsMax-len(b.spare))]...)
	slices.Sort(b.spare)
}

// intakeNewFast stages a deal seen for the first time on Postgres in a
// batch with the other new deals arriving at the same moment, writing the
// same record and history event as intakeNew. It reports ok=false,
// changing nothing, whenever the general path must decide: the deal
// exists, a PH email may be waiting for it, its ECC lock is held, the
// caller passed InTx functions, the batch failed, or the database cannot
// batch (SQLite, or Postgres through a driver other than pgx's).
func (s *Store) intakeNewFast(ctx context.Context, o *callOptions, p *Payload) (IntakeResult, bool, error) {
	if !s.batchNew || len(o.inTx) > 0 {
		return IntakeResult{}, false, nil
	}
	now := s.clock()
	r := &Record{Payload: p.data(now), Attachments: []Attachment{}}
	r.State, r.Version = StateReceived, 1
	stampNew(r, now)
	// What can be made before the deal is queued is made here, in the
	// caller, rather than by the goroutine writing batches.
	d := &fastDeal{rec: r, row: rowOf(r), ev: eventRowOf(o, 0, createdEvent(p), now), done: make(chan fastAnswer, 1)}

	b := &s.batcher
	b.mu.Lock()
	if s.closed.Load() { // Close came after Intake's own check
		b.mu.Unlock()
		return IntakeResult{}, false, ErrClosed
	}
	if b.add(d) {
		s.startWriter()
	}
	b.mu.Unlock()
	var a fastAnswer
	select {
	case a = <-d.done:
	case <-ctx.Done():
		// Only a caller's own deadline ends the wait; the write goes on
		// and the redelivered deal will be answered as a duplicate.
		return IntakeResult{}, false, fmt.Errorf("staging: staging deal %s: %w", p.SalesforceID, ctx.Err())
	}
	if a.unknown {
		committed, err := s.settle(ctx, a.txid, r)
		if err != nil {
			return IntakeResult{}, false, fmt.Errorf("staging: staging deal %s: %w", p.SalesforceID, err)
		}
		a.ok = committed
	}
	if !a.ok {
		return IntakeResult{}, false, nil
	}
	return IntakeResult{Outcome: IntakeCreated, Record: r}, true, nil
}

// stampNew sets the times of a record staged now.
func stampNew(r *Record, now time.Time) {
	r.StateSince, r.CreatedAt, r.UpdatedAt = now, now, now
	r.Payload.ReceivedAt = now
}

// settle finds out whether the batch transaction txid, whose commit was
// sent but not answered, staged r: it asks Postgres (txid_status) on a
// connection of its own until the transaction is over or ctx ends. A
// committed transaction staged r when r's row is there with r's
// Salesforce id; an aborted one staged nothing, and the deal takes the
// general path.
func (s *Store) settle(ctx context.Context, txid int64, r *Record) (committed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.txTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		var status *string
		err = s.db.QueryRowContext(ctx, "SELECT txid_status(?)", txid).Scan(&status)
		switch {
		case err == nil && status != nil && *status == "committed":
			var n int
			err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM staging_records WHERE id = ? AND sf_id = ?", r.ID, r.SalesforceID).Scan(&n)
			if err == nil {
				return n == 1, nil
			}
		case err == nil && status != nil && *status == "aborted":
			return false, nil
		case err == nil && status == nil:
			return false, fmt.Errorf("the outcome of its batch (transaction %d) is no longer known to Postgres; send it again", txid)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("still in progress")
			}
			return false, fmt.Errorf("the connection was lost while its batch (transaction %d) committed, and its outcome could not be learnt (%w): %w", txid, err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// batchesNewDeals reports whether new deals on db can be batched: the
// batch uses pgx's pipeline mode, so db must be Postgres through pgx's
// database/sql driver. On another driver (a team's own *bun.DB over lib/pq,
// say) each new deal takes the general path.
func batchesNewDeals(db *bun.DB) bool {
	if bundb.KindOf(db) != bundb.Postgres {
		return false
	}
	_, ok := db.DB.Driver().(*stdlib.Driver)
	return ok
}

// startWriter starts a writer in a goroutine of its own, counted for
// Close; b.mu is held and b.writers already counts it. A writer starts
// only for deals queued before Close (which sets s.closed under b.mu), so
// that Close's wait never misses one.
func (s *Store) startWriter() {
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		s.runWriter()
	}()
}

// batchWriter writes batches on one connection until nothing is queued.
type batchWriter struct {
	s       *Store
	stmts   *batchStatements
	pc      *pgconn.PgConn
	tm      *pgtype.Map
	prep    [batchSteps]*pgconn.StatementDescription // nil: sent unnamed
	bufs    *batchBufs                               // the batch's buffers, from batchPool
	batches int                                      // batches written
	idle    bool                                     // ended with nothing queued
	failed  bool                                     // a batch failed on Postgres
}

// runWriter takes a connection and writes batches on it. A writer that
// cannot start (no connection, the statements cannot be prepared) while no
// other writer runs sends every queued deal to the general path, which
// reports the problem.
func (s *Store) runWriter() {
	w := &batchWriter{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
	conn, err := s.db.DB.Conn(ctx)
	cancel()
	if err == nil {
		err = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok { // batchesNewDeals checked the driver
				return fmt.Errorf("staging: a connection of pgx's driver is a %T", dc)
			}
			return w.run(sc.Conn())
		})
		conn.Close()
	}
	b := &s.batcher
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.idle {
		return // next counted the writer out
	}
	b.writers--
	if err != nil && w.batches == 0 && b.writers == 0 {
		s.log.Warn("staging: new deals could not be batched; each takes the general path", "deals", len(b.queue), "err", err)
		for _, d := range b.queue {
			d.done <- fastAnswer{}
		}
		clear(b.queue)
		b.queue = b.queue[:0]
	}
	if len(b.queue) > 0 && b.writers == 0 {
		b.writers++
		s.startWriter() // the writer broke off with deals queued: a new one takes them
	}
}

// run writes batches on c until nothing is queued or the connection
// breaks. The connection is left as it was found, or reported bad.
func (w *batchWriter) run(c *pgx.Conn) error {
	s := w.s
	stmts, err := s.batchStatements()
	if err != nil {
		return err
	}
	w.stmts, w.pc, w.tm = stmts, c.PgConn(), c.TypeMap()
	if s.batchNamed(c) {
		// Prepared once per connection (pgx keeps them by name), so that
		// Postgres does not parse and plan the statements for every batch.
		ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
		defer cancel()
		for i, st := range stmts.steps {
			sd, err := c.Prepare(ctx, st.name, st.sql)
			if err != nil {
				s.unnameBatchesAfter(err)
				return err
			}
			w.prep[i] = sd
		}
	}
	broken := w.flights()
	if broken {
		return driver.ErrBadConn // database/sql closes the connection
	}
	if w.failed && w.prep[0] != nil {
		// A batch failed on Postgres, perhaps for a statement that no
		// longer fits the schema: the next writer prepares them afresh.
		ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
		defer cancel()
		for i, st := range w.stmts.steps {
			if w.prep[i] != nil {
				_ = c.Deallocate(ctx, st.name)
			}
		}
	}
	return nil
}

// The steps of a batch, in the order they are sent.
const (
	stepSettings = iota // the planner settings of the batch's transaction
	stepLock            // try the ECC locks, draw record ids
	stepFacts           // what is staged already
	stepInsert          // the records and their events
	batchSteps
)

// batchStatements are the statements of a batch, built once per store
// from the row models.
type batchStatements struct {
	steps [batchSteps]struct {
		name, sql string
		oids      []uint32
	}
	records, events *arrayInsert
}

var (
	batchStatementsOnce sync.Once
	batchStatementsAll  *batchStatements
	batchStatementsErr  error
)

// batchStatements returns the batch's statements.
func (s *Store) batchStatements() (*batchStatements, error) {
	batchStatementsOnce.Do(func() { batchStatementsAll, batchStatementsErr = buildBatchStatements(s.db) })
	return batchStatementsAll, batchStatementsErr
}

func buildBatchStatements(db *bun.DB) (*batchStatements, error) {
	records, err := newArrayInsert[recordRow](db)
	if err != nil {
		return nil, err
	}
	events, err := newArrayInsert[eventRow](db, "id")
	if err != nil {
		return nil, err
	}
	st := &batchStatements{records: records, events: events}
	set := func(step int, name, sql string, oids ...uint32) {
		st.steps[step].name, st.steps[step].sql, st.steps[step].oids = "bookbridge_staging_intake_"+name, sql, oids
	}
	// For the batch's transaction only, and before its other statements
	// are bound: a prepared statement runs with the plan Postgres made for
	// it once (generic), not one planned again for each batch's arrays
	// (custom), which Postgres otherwise picks whenever the arrays' sizes
	// make it look cheaper; and with no sequential scan, so that the facts
	// stay index lookups under a plan made while the table was small.
	set(stepSettings, "settings", `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
		set_config('enable_seqscan', 'off', true)`)
	set(stepLock, "lock", `SELECT txid_current(),
		ARRAY(SELECT pg_try_advisory_xact_lock(`+eccLock("k.key")+`) FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n) ORDER BY k.n),
		ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('`+records.table+`', 'id'))::regclass) FROM generate_series(1, $2::integer))`,
		pgtype.TextArrayOID, pgtype.Int4OID)
	set(stepFacts, "facts", `SELECT (SELECT 1 FROM `+records.table+` r WHERE r.sf_id = d.sf_id LIMIT 1) IS NOT NULL,
		(SELECT 1 FROM `+records.table+` r WHERE `+waitingWhere("d.ecc_key")+` LIMIT 1) IS NOT NULL
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS d(sf_id, ecc_key, n) ORDER BY d.n`,
		pgtype.TextArrayOID, pgtype.TextArrayOID)
	set(stepInsert, "insert", `WITH staged AS (
		INSERT INTO `+records.table+` (`+records.names()+`) `+records.rows(1)+`
		ON CONFLICT (sf_id) DO NOTHING RETURNING id)
		INSERT INTO `+events.table+` (`+events.names()+`) SELECT * FROM (`+events.rows(records.params()+1)+`) AS e
		WHERE e.record_id IN (SELECT id FROM staged) RETURNING record_id`,
		append(records.oids(), events.oids()...)...)
	return st, nil
}

// batchFormat asks for every parameter and result in binary.
var batchFormat = []int16{pgtype.BinaryFormatCode}

// send queues step with its parameters on p, as the prepared statement or
// unnamed. The parameters are encoded into the writer's buffer, which the
// next step reuses: the pipeline copies each request as it is queued.
func (w *batchWriter) send(p *pgconn.Pipeline, step int, args ...any) error {
	st := w.stmts.steps[step]
	var ends [64]int
	if len(args) > len(ends) {
		return fmt.Errorf("staging: %s has %d parameters, more than a batch sends", st.name, len(args))
	}
	buf := w.bufs.params[:0]
	for i, a := range args {
		nb, err := w.tm.Encode(st.oids[i], pgtype.BinaryFormatCode, a, buf)
		if err != nil {
			return fmt.Errorf("staging: encoding parameter $%d of %s: %w", i+1, st.name, err)
		}
		if nb == nil { // NULL
			ends[i] = -1
		} else {
			buf = nb
			ends[i] = len(buf)
		}
	}
	w.bufs.params = buf
	values := make([][]byte, len(args))
	start := 0
	for i := range args {
		if ends[i] >= 0 {
			values[i] = buf[start:ends[i]:ends[i]]
			start = ends[i]
		}
	}
	if sd := w.prep[step]; sd != nil {
		p.SendQueryStatement(sd, values, batchFormat, batchFormat)
	} else {
		p.SendQueryParams(st.sql, values, st.oids, batchFormat, batchFormat)
	}
	return nil
}

// read reads the next result of p, scanning each row into the pointers
// scan returns for it.
func (w *batchWriter) read(p *pgconn.Pipeline, scan func(row int) []any) error {
	res, err := p.GetResults()
	if err != nil {
		return err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return fmt.Errorf("staging: a batch read %T where it expected rows", res)
	}
	fields := rr.FieldDescriptions()
	row := 0
	for rr.NextRow() {
		dst := scan(row)
		for i, v := range rr.Values() {
			if i < len(dst) {
				if err := w.tm.Scan(fields[i].DataTypeOID, fields[i].Format, v, dst[i]); err != nil {
					rr.Close()
					return fmt.Errorf("staging: reading a batch's answer: %w", err)
				}
			}
		}
		row++
	}
	_, err = rr.Close()
	return err
}

// batchFacts are what the first round trip of a batch learns.
type batchFacts struct {
	txid    int64
	locked  map[string]bool // by ECC key
	ids     []int64         // drawn for this batch
	staged  []bool          // by deal: its Salesforce id is staged
	waiting []bool          // by deal: PH emails wait for its ECC key
}

// sendLearn queues the first round trip of f: the batch's transaction
// id, its deals' ECC locks, the record ids it needs beyond spare ones, and
// for each deal whether it is staged and whether emails wait for it.
func (w *batchWriter) sendLearn(p *pgconn.Pipeline, f *flight) error {
	f.keys = nil
	sfIDs, eccKeys := make([]string, len(f.batch)), make([]string, len(f.batch))
	for i, d := range f.batch {
		sfIDs[i], eccKeys[i] = d.row.SalesforceID, d.row.ECCKey
		if k := d.row.ECCKey; k != "" && !slices.Contains(f.keys, k) {
			f.keys = append(f.keys, k)
		}
	}
	if err := w.send(p, stepSettings); err != nil {
		return err
	}
	if err := w.send(p, stepLock, f.keys, int32(f.need)); err != nil {
		return err
	}
	if err := w.send(p, stepFacts, sfIDs, eccKeys); err != nil {
		return err
	}
	p.SendFlushRequest()
	return nil
}

// readLearn reads the answer of f's first round trip.
func (w *batchWriter) readLearn(p *pgconn.Pipeline, f *flight) error {
	facts := &batchFacts{locked: make(map[string]bool, len(f.keys))}
	if err := w.read(p, func(int) []any { return nil }); err != nil { // the settings
		return err
	}
	var locked []bool
	if err := w.read(p, func(int) []any { return []any{&facts.txid, &locked, &facts.ids} }); err != nil {
		return err
	}
	if len(locked) != len(f.keys) || len(facts.ids) != f.need {
		return fmt.Errorf("staging: a batch got %d locks and %d ids, asked %d and %d", len(locked), len(facts.ids), len(f.keys), f.need)
	}
	for i, k := range f.keys {
		facts.locked[k] = locked[i]
	}
	facts.staged, facts.waiting = make([]bool, len(f.batch)), make([]bool, len(f.batch))
	if err := w.read(p, func(row int) []any {
		if row >= len(f.batch) {
			return nil
		}
		return []any{&facts.staged[row], &facts.waiting[row]}
	}); err != nil {
		return err
	}
	f.facts = facts
	return nil
}

// stages reports whether the batch stages deal i itself: it is the first
// of its Salesforce id in the batch, not staged yet, no PH email waits for
// its ECC id, and the batch holds its ECC lock. Every other deal takes the
// general path, which decides as intakeTx does.
func (w *batchWriter) stages(batch []*fastDeal, i int, f *batchFacts) bool {
	row := batch[i].row
	for _, d := range batch[:i] {
		if d.row.SalesforceID == row.SalesforceID {
			return false
		}
	}
	if f.staged[i] {
		return false
	}
	if row.ECCKey == "" {
		return true // no ECC id: nothing to lock, no email can be matched to it
	}
	return f.locked[row.ECCKey] && !f.waiting[i]
}

// sendInsert queues the insert of the staged deals and their events.
func (w *batchWriter) sendInsert(p *pgconn.Pipeline, staged []*fastDeal) error {
	rows, events := make([]reflect.Value, len(staged)), make([]reflect.Value, len(staged))
	for i, d := range staged {
		rows[i], events[i] = reflect.ValueOf(d.row), reflect.ValueOf(d.ev)
	}
	args, scratch := w.stmts.records.values(rows, w.bufs.joined[:0])
	w.bufs.joined = scratch
	more, _ := w.stmts.events.values(events, nil)
	return w.send(p, stepInsert, append(args, more...)...)
}

// batchBufs are the buffers of one batch: the bytea values joined and the
// parameters encoded. They are as large as a batch, so they are kept for
// the next one (see batchPool).
type batchBufs struct {
	joined []byte
	params []byte
}

// batchPool keeps batchBufs between batches and writers; one outsized
// batch's buffers are dropped rather than kept.
var batchPool = sync.Pool{New: func() any { return new(batchBufs) }}

// A flight is a batch on its way through a writer.
type flight struct {
	batch   []*fastDeal
	answers []fastAnswer // the zero answer: the general path
	spare   []int64      // spare ids it took
	drawn   time.Time    // when they were drawn
	need    int          // fresh ids it asks for
	keys    []string     // the ECC keys it tries to lock
	facts   *batchFacts
	ids     []int64     // spare then fresh
	staged  []*fastDeal // the deals its insert writes
	used    int         // ids given to staged deals
}

func (w *batchWriter) newFlight(batch []*fastDeal) *flight {
	b := &w.s.batcher
	b.mu.Lock()
	spare, drawn := b.takeSpare(len(batch))
	b.mu.Unlock()
	return &flight{batch: batch, answers: make([]fastAnswer, len(batch)), spare: spare, drawn: drawn, need: len(batch) - len(spare)}
}

// decide picks, numbers and stamps the deals f stages itself.
func (w *batchWriter) decide(f *flight) {
	f.ids = append(f.spare, f.facts.ids...)
	now := w.s.clock()
	for i, d := range f.batch {
		if !w.stages(f.batch, i, f.facts) {
			continue
		}
		r := d.rec
		r.ID, r.Number = f.ids[f.used], FormatNumber(f.ids[f.used])
		f.used++
		stampNew(r, now)
		d.row.ID, d.row.Number, d.row.SearchText = r.ID, r.Number, numberedSearchText(d.row.SearchText, r.Number)
		d.row.StateSince, d.row.CreatedAt, d.row.UpdatedAt, d.row.PayloadReceivedAt = now, now, now, now
		d.ev.RecordID, d.ev.At = r.ID, now
		f.staged = append(f.staged, d)
	}
}

// land answers f's deals and gives its batch back to the batcher.
func (w *batchWriter) land(f *flight) {
	for i, d := range f.batch {
		d.done <- f.answers[i]
	}
	w.batches++
}

// flights writes batches on the writer's connection in one pipeline until
// nothing is queued, and reports whether the connection broke. Each batch
// is one transaction of two round trips; while the commit of one goes to
// Postgres, the first round trip of the next goes with it once as many
// deals wait as the one committing took (see more), so that Postgres
// starts on the next batch the moment it commits the one before.
func (w *batchWriter) flights() (broken bool) {
	s, b := w.s, &w.s.batcher
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A batch that takes longer than the store's transaction timeout
	// ends the pipeline: pgx then closes the connection.
	watchdog := time.AfterFunc(time.Hour, cancel)
	defer watchdog.Stop()
	w.bufs = batchPool.Get().(*batchBufs)
	defer func() {
		if cap(w.bufs.joined) <= 2*fastBatchMaxBytes && cap(w.bufs.params) <= 3*fastBatchMaxBytes {
			batchPool.Put(w.bufs)
		}
		w.bufs = nil
	}()
	p := w.pc.StartPipeline(ctx)
	var cur *flight
	defer func() {
		if r := recover(); r != nil {
			// A panic would leave callers waiting: their batch takes the
			// general path and the writer ends.
			s.log.Error("staging: writing a batch of new deals panicked; each takes the general path", "panic", r)
			if cur != nil {
				clear(cur.answers)
				w.land(cur)
				b.mu.Lock()
				b.answered()
				b.mu.Unlock()
			}
			broken = true
		}
		if broken {
			_ = p.Close()
		} else if err := p.Close(); err != nil {
			broken = true
		}
	}()
	// start takes the next batch, waiting for one, and sends its first
	// round trip; nil: nothing is queued.
	start := func() *flight {
		watchdog.Stop() // waiting for deals is not a batch taking long
		b.mu.Lock()
		batch := b.next()
		if batch == nil {
			w.idle = true
		}
		b.mu.Unlock()
		if batch == nil {
			return nil
		}
		f := w.newFlight(batch)
		if err := w.sendLearn(p, f); err == nil {
			err = p.Flush()
			if err == nil {
				return f
			}
		} else {
			s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(batch), "err", err)
		}
		broken = true
		return f // its answers say: the general path
	}
	done := func(f *flight) {
		w.land(f)
		b.mu.Lock()
		b.answered()
		b.mu.Unlock()
	}
	cur = start()
	for cur != nil && !broken {
		watchdog.Reset(s.txTimeout)
		if s.batchStmt.Load() == batchStmtUnnamed {
			w.prep = [batchSteps]*pgconn.StatementDescription{} // see unnameBatchesAfter
		}
		var next *flight
		next, broken = w.fly(p, cur)
		if next == nil {
			done(cur)
			cur = nil
			if !broken {
				cur = start()
			}
			continue
		}
		// The next batch was taken while this one was on its way: its
		// writer stays busy.
		w.land(cur)
		b.mu.Lock()
		b.wake.Broadcast()
		b.mu.Unlock()
		cur = next
	}
	if cur != nil { // the connection broke with a batch taken
		done(cur)
	}
	return broken
}

// fly takes f, whose first round trip was sent, to its commit: it reads
// what the first round trip learnt, sends the insert and the commit (with
// the first round trip of the next batch when deals are queued), and
// reads the outcome into f's answers. It returns the next batch, if it
// sent one, and whether the connection broke.
func (w *batchWriter) fly(p *pgconn.Pipeline, f *flight) (next *flight, broken bool) {
	s, b := w.s, &w.s.batcher
	if err := w.readLearn(p, f); err != nil {
		b.putSpare(f.spare, f.drawn)
		return nil, w.failed0(p, f, err)
	}
	w.decide(f)
	if len(f.staged) > 0 {
		if err := w.sendInsert(p, f.staged); err != nil {
			s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(f.batch), "err", err)
			return nil, true // part of it may be queued: the connection is dropped, which rolls it back
		}
	}
	p.SendPipelineSync()
	b.mu.Lock()
	more := b.more()
	b.mu.Unlock()
	if more != nil {
		next = w.newFlight(more)
		if err := w.sendLearn(p, next); err != nil {
			s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(more), "err", err)
			return next, w.unknown(f, err)
		}
	}
	if err := p.Flush(); err != nil {
		return next, w.unknown(f, err)
	}
	if len(f.staged) == 0 {
		b.putSpare(f.ids, f.drawn)
		if err := w.readSync(p); err != nil {
			var pgErr *pgconn.PgError
			return next, !errors.As(err, &pgErr)
		}
		return next, false
	}
	var got []int64
	if err := w.read(p, func(row int) []any { got = append(got, 0); return []any{&got[row]} }); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			return next, w.unknown(f, err)
		}
		// Postgres rolled the batch back: its deals take the general path.
		w.failed = true
		s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(f.batch), "err", err)
		b.putSpare(f.ids, f.drawn)
		if err := w.readSync(p); err != nil && !errors.As(err, &pgErr) {
			return next, true
		}
		return next, false
	}
	if err := w.readSync(p); err != nil {
		return next, w.unknown(f, err)
	}
	// Committed. A deal whose row is not there lost a race on its
	// Salesforce id (ON CONFLICT) and takes the general path; its id is
	// kept for the next batch.
	var unused []int64
	for _, d := range f.staged {
		if slices.Contains(got, d.rec.ID) {
			f.answers[slices.Index(f.batch, d)] = fastAnswer{ok: true}
		} else {
			unused = append(unused, d.rec.ID)
		}
	}
	b.putSpare(append(unused, f.ids[f.used:]...), f.drawn)
	return next, false
}

// readSync reads the end of a batch's transaction.
func (w *batchWriter) readSync(p *pgconn.Pipeline) error {
	res, err := p.GetResults()
	if err != nil {
		return err
	}
	if _, ok := res.(*pgconn.PipelineSync); !ok {
		return fmt.Errorf("staging: a batch read %T where it expected its commit", res)
	}
	return nil
}

// failed0 ends f when its first round trip failed: nothing of it is
// committed, and each deal takes the general path. It reports whether the
// connection broke.
func (w *batchWriter) failed0(p *pgconn.Pipeline, f *flight, err error) (broken bool) {
	w.s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(f.batch), "err", err)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	w.failed = true
	w.s.unnameBatchesAfter(err)
	// Postgres skips the rest of the batch up to its Sync: send it and
	// read up to it.
	if err := p.Sync(); err != nil {
		return true
	}
	if err := w.readSync(p); err != nil && !errors.As(err, &pgErr) {
		return true
	}
	return false
}

// unknown answers the staged deals of f, whose commit was sent but whose
// answer was lost (the connection broke): each caller learns its deal's
// fate from the transaction's status (settle). The other deals of the
// batch were not staged by it and take the general path.
func (w *batchWriter) unknown(f *flight, err error) (broken bool) {
	w.s.log.Warn("staging: the connection broke while a batch of new deals committed; each deal learns from Postgres whether it was staged",
		"deals", len(f.staged), "transaction", f.facts.txid, "err", err)
	for _, d := range f.staged {
		f.answers[slices.Index(f.batch, d)] = fastAnswer{unknown: true, txid: f.facts.txid}
	}
	return true // database/sql drops the connection
}

// How batches are sent (Store.batchStmt): not decided yet, as statements
// prepared by name once per connection, or as unnamed statements.
const (
	batchStmtUndecided int32 = iota
	batchStmtNamed
	batchStmtUnnamed
)

// batchNamed reports whether batches are sent as statements prepared by
// name and kept on the connection. They are unless the database URL asked
// pgx for statements that are not kept (default_query_exec_mode
// cache_describe, describe_exec or exec, as behind a connection pooler in
// transaction mode), or a batch found that the connections cannot keep
// them (see unnameBatchesAfter). The simple protocol, bundb's default for
// Bun's own statements, says nothing about the connections and keeps the
// batch named.
func (s *Store) batchNamed(c *pgx.Conn) bool {
	switch s.batchStmt.Load() {
	case batchStmtNamed:
		return true
	case batchStmtUnnamed:
		return false
	}
	mode := batchStmtNamed
	switch c.Config().DefaultQueryExecMode {
	case pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec:
		mode = batchStmtUnnamed
	}
	s.batchStmt.CompareAndSwap(batchStmtUndecided, mode)
	return s.batchStmt.Load() == batchStmtNamed
}

// unnameBatchesAfter sends every later batch unnamed when err says that a
// batch statement went missing from the connection or was already there
// though the connection had not prepared it: the signs of a connection
// pooler in transaction mode, which hands each transaction whichever
// server connection is free. The batch that failed takes the general path
// like any failed batch.
func (s *Store) unnameBatchesAfter(err error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.Code != "26000" && pgErr.Code != "42P05") {
		return
	}
	if s.batchStmt.Swap(batchStmtUnnamed) != batchStmtUnnamed {
		s.log.Warn("staging: the database connections do not keep prepared statements (a pooler in transaction mode?); batches of new deals are sent unnamed from now on",
			"err", err)
	}
}
