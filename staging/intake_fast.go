package staging

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Concurrent new deals on Postgres are staged together: the first deal is
// sent at once, and deals that arrive while a batch is being written wait
// for the next batch, which takes all of them in one round trip and one
// commit (staging_intake_new_batch: migration 20261127000003, replaced by
// 20261127000005). Each caller still returns only after its own deal is
// committed. The batch size follows the load: a lone deal is never
// delayed. See batchPipeDepth for how batches follow each other.
const (
	// fastBatchMax caps the deals of one batch.
	fastBatchMax = 64
	// fastBatchMaxBytes caps the payload bytes of one batch, so that a
	// burst of large deals (up to 6 MiB each) is not sent as one message;
	// a batch always takes at least one deal.
	fastBatchMaxBytes = 8 << 20
)

// fastDeal is one new deal waiting for its batch.
type fastDeal struct {
	row     *recordRow
	now     time.Time
	ev      event
	channel string
	user    string
	evData  pgtype.Text     // the event's data as JSON, made by the caller
	done    chan fastAnswer // buffered: the batch never waits for the caller
}

// fastAnswer is the batch's answer for one deal: ok=false hands the deal
// to the general path, which decides everything the batch stood back from.
type fastAnswer struct {
	id int64
	ok bool
}

// intakeBatcher queues new deals for staging_intake_new_batch. Its zero
// value is ready; no goroutine runs while nothing is queued.
type intakeBatcher struct {
	mu      sync.Mutex
	wake    sync.Cond // on mu (set by the first deal): a deal queued or a batch answered
	queue   []*fastDeal
	running bool // a run (runBatches) is writing batches
}

// add queues d and reports whether a run must be started to write it; a
// run under way is woken to see whether it is time to send. b.mu is held.
func (b *intakeBatcher) add(d *fastDeal) (start bool) {
	if b.wake.L == nil {
		b.wake.L = &b.mu
	}
	b.queue = append(b.queue, d)
	if b.running {
		b.wake.Signal()
		return false
	}
	b.running = true
	return true
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

// intakeNewFast stages a deal seen for the first time on Postgres in a
// batch with the other new deals arriving at the same moment, writing the
// same record and history event as intakeNew. It reports ok=false,
// changing nothing, whenever the general path must decide: the deal
// exists, a PH email may be waiting for it, the caller passed InTx
// functions, the batch failed, or the database cannot batch (SQLite, or
// Postgres through a driver other than pgx's).
func (s *Store) intakeNewFast(ctx context.Context, o *callOptions, p *Payload) (IntakeResult, bool, error) {
	if !s.batchNew || len(o.inTx) > 0 {
		return IntakeResult{}, false, nil
	}
	now := s.clock()
	r := &Record{Payload: p.data(now), Attachments: []Attachment{}}
	r.State, r.Version, r.StateSince, r.CreatedAt, r.UpdatedAt = StateReceived, 1, now, now, now
	d := &fastDeal{row: rowOf(r), now: now, ev: createdEvent(p), channel: o.channel, user: o.user,
		done: make(chan fastAnswer, 1)}
	// What can be made before the deal is queued is made here, in the
	// caller, rather than by the one goroutine writing batches.
	if len(d.ev.data) > 0 {
		d.evData = pgtype.Text{String: mustJSON(d.ev.data), Valid: true}
	}

	b := &s.batcher
	b.mu.Lock()
	if s.closed.Load() { // Close came after Intake's own check
		b.mu.Unlock()
		return IntakeResult{}, false, ErrClosed
	}
	if b.add(d) {
		s.startRun()
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
	if !a.ok {
		return IntakeResult{}, false, nil
	}
	r.ID, r.Number = a.id, FormatNumber(a.id)
	return IntakeResult{Outcome: IntakeCreated, Record: r}, true, nil
}

// batchBufs are the buffers of one batch write: the payloads joined, the
// other parameters encoded, and the parameter list. They are as large as a
// batch, so they are kept for the next one (see batchPool).
type batchBufs struct {
	joined []byte
	params []byte
	values [][]byte
	msgs   []byte // the protocol messages, as sent
}

// batchPool keeps batchBufs between batches; one outsized batch's buffers
// are dropped rather than kept.
var batchPool = sync.Pool{New: func() any { return new(batchBufs) }}

// batchArgs are the columns of a batch, one array per parameter of
// staging_intake_new_batch.
type batchArgs struct {
	eccKey, state, sfID, hash, info, eccID, dr, so, opp, company []string
	warnings, exceptions, search                                 []string
	evKind, evTo, evChannel, evActor, evMessage                  []string
	raw                                                          []byte  // the payloads, joined
	rawLen                                                       []int32 // the length of each
	version                                                      []int64
	now, modified                                                []pgtype.Timestamptz
	evData                                                       []pgtype.Text
}

func newBatchArgs(n int, raw []byte) batchArgs {
	strs := func() []string { return make([]string, 0, n) }
	return batchArgs{
		eccKey: strs(), state: strs(), sfID: strs(), hash: strs(), info: strs(), eccID: strs(), dr: strs(), so: strs(),
		opp: strs(), company: strs(), warnings: strs(), exceptions: strs(), search: strs(),
		evKind: strs(), evTo: strs(), evChannel: strs(), evActor: strs(), evMessage: strs(),
		raw: raw, rawLen: make([]int32, 0, n), version: make([]int64, 0, n),
		now: make([]pgtype.Timestamptz, 0, n), modified: make([]pgtype.Timestamptz, 0, n), evData: make([]pgtype.Text, 0, n),
	}
}

func (a *batchArgs) add(d *fastDeal) {
	row := d.row
	a.eccKey = append(a.eccKey, row.ECCKey)
	a.state = append(a.state, row.State)
	a.sfID = append(a.sfID, row.SalesforceID)
	a.hash = append(a.hash, row.PayloadHash)
	a.info = append(a.info, row.PayloadInfo)
	a.eccID = append(a.eccID, row.ECCID)
	a.dr = append(a.dr, row.DRNumber)
	a.so = append(a.so, row.SalesOrderNumber)
	a.opp = append(a.opp, row.OpportunityID)
	a.company = append(a.company, row.CompanyName)
	a.warnings = append(a.warnings, row.Warnings)
	a.exceptions = append(a.exceptions, row.Exceptions)
	a.search = append(a.search, row.SearchText) // without the number: the function prefixes it
	a.evKind = append(a.evKind, string(d.ev.kind))
	a.evTo = append(a.evTo, string(d.ev.to))
	a.evChannel = append(a.evChannel, d.channel)
	a.evActor = append(a.evActor, d.user)
	a.evMessage = append(a.evMessage, d.ev.message)
	a.raw = append(a.raw, row.PayloadRaw...)
	a.rawLen = append(a.rawLen, int32(len(row.PayloadRaw)))
	a.version = append(a.version, row.PayloadVersion)
	a.now = append(a.now, pgtype.Timestamptz{Time: d.now, Valid: true})
	a.modified = append(a.modified, pgtype.Timestamptz{Time: row.PayloadModifiedAt, Valid: !row.PayloadModifiedAt.IsZero()})
	a.evData = append(a.evData, d.evData)
}

// batchSQL calls the batch function; batchOIDs are its parameter types.
const batchSQL = `SELECT pos, new_id, outcome FROM staging_intake_new_batch(
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`

var batchOIDs = []uint32{
	pgtype.TextOID, pgtype.Int8OID, // prefix, offset
	pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TimestamptzArrayOID, pgtype.TextArrayOID, // ecc key, state, now, sf id
	pgtype.Int4ArrayOID, pgtype.TextArrayOID, pgtype.Int8ArrayOID, pgtype.TimestamptzArrayOID, // raw len, hash, version, modified
	pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, // info .. opportunity
	pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, // company .. search
	pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, // event
	pgtype.ByteaOID, // the payloads, joined
}

// batchStatement names the batch statement prepared on each connection.
const batchStatement = "bookbridge_staging_intake_new_batch"

// batchFormats sends every parameter in binary.
var batchFormats = []int16{pgtype.BinaryFormatCode}

// batchesNewDeals reports whether new deals on db can be batched: the
// batch talks to pgx's connection, so db must be Postgres through pgx's
// database/sql driver. On another driver (a team's own *bun.DB over lib/pq,
// say) each new deal takes the general path.
func batchesNewDeals(db *bun.DB) bool {
	if bundb.KindOf(db) != bundb.Postgres {
		return false
	}
	_, ok := db.DB.Driver().(*stdlib.Driver)
	return ok
}

// A run writes the queued deals in batches on one connection of the pool,
// from the first deal queued until nothing is queued or waiting for its
// answer. It keeps up to batchPipeDepth batches on their way: the next
// batch is sent while Postgres still runs the one before, once as many
// deals wait as that batch took, so that Postgres starts on it the moment
// it commits the one before rather than when this process gets round to
// reading the answer. Under load, with every CPU busy, that read can come
// a millisecond late, which is as long as the batch itself takes. Each
// batch ends with its own Sync: it commits alone, and one that fails
// (each of its deals then takes the general path) does not touch the next.
//
// Behind a connection pooler (batches unnamed, see batchNamed) one batch
// is sent at a time.
const batchPipeDepth = 2

// batchRun is the state of one run; its counters are guarded by the
// batcher's mu.
type batchRun struct {
	s      *Store
	fe     *pgproto3.Frontend // the connection's protocol, read directly during the run (write sends on nc)
	nc     net.Conn
	tm     *pgtype.Map
	named  bool
	depth  int
	sent   chan []*fastDeal // batches sent, in order, for the receiver
	inPipe int              // batches sent and not answered yet
	last   int              // deals in the batch sent last
	sends  int              // batches sent by the run
	broken bool             // the connection failed: nothing more is sent or read
	failed bool             // a batch failed on Postgres
	idle   bool             // the run ended with nothing left to do
}

// runBatches is a run: it takes a connection and writes batches on it. A
// run that cannot start (no connection, the statement cannot be prepared)
// sends every queued deal to the general path, which reports the problem.
func (s *Store) runBatches() {
	b := &s.batcher
	r := &batchRun{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
	conn, err := s.db.DB.Conn(ctx)
	cancel()
	if err == nil {
		err = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok { // batchesNewDeals checked the driver
				return fmt.Errorf("staging: a connection of pgx's driver is a %T", dc)
			}
			return r.run(sc.Conn())
		})
		conn.Close()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.idle {
		return // b.running was cleared when the run ended: a new run may be under way
	}
	if err != nil && r.sends == 0 {
		s.log.Warn("staging: new deals could not be batched; each takes the general path", "deals", len(b.queue), "err", err)
		for _, d := range b.queue {
			d.done <- fastAnswer{}
		}
		clear(b.queue)
		b.queue = b.queue[:0]
	}
	if len(b.queue) == 0 {
		b.running = false
		return
	}
	s.startRun() // the run broke off with deals queued: a new one takes them
}

// startRun starts a run in a goroutine of its own, counted for Close;
// b.mu is held. A run starts only for deals queued before Close (which
// sets s.closed under b.mu), so that Close's wait never misses one.
func (s *Store) startRun() {
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		s.runBatches()
	}()
}

// run writes batches on c until the run is idle or broken. The connection
// is left in the state it was found in, or reported bad.
func (r *batchRun) run(c *pgx.Conn) error {
	s := r.s
	r.named = s.batchNamed(c)
	if r.named {
		// Prepared once per connection, so that Postgres does not parse and
		// plan the call again for every batch.
		ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
		sd, err := c.Prepare(ctx, batchStatement, batchSQL)
		cancel()
		if err != nil {
			s.unnameBatchesAfter(err)
			return err
		}
		if !slices.Equal(sd.ParamOIDs, batchOIDs) {
			return fmt.Errorf("staging: staging_intake_new_batch takes %v, not the expected %v; run migrate", sd.ParamOIDs, batchOIDs)
		}
	}
	r.depth = batchPipeDepth
	if !r.named {
		r.depth = 1
	}
	pc := c.PgConn()
	r.fe, r.nc, r.tm = pc.Frontend(), pc.Conn(), c.TypeMap()
	r.sent = make(chan []*fastDeal, r.depth)
	received := make(chan struct{})
	go func() {
		defer close(received)
		r.receive()
	}()
	for {
		batch := r.next()
		if batch == nil {
			break
		}
		r.send(batch)
	}
	close(r.sent)
	<-received
	if r.broken {
		return driver.ErrBadConn // database/sql closes the connection
	}
	if err := r.nc.SetDeadline(time.Time{}); err != nil {
		return driver.ErrBadConn
	}
	if r.failed && r.named {
		// Postgres plans a prepared statement again when the function is
		// replaced, but fails it for good when the function's result type
		// changed: the next run prepares it afresh.
		ctx, cancel := context.WithTimeout(context.Background(), s.txTimeout)
		defer cancel()
		_ = c.Deallocate(ctx, batchStatement)
	}
	return nil
}

// next waits until the next batch is due and takes it, or returns nil when
// the run is over: nothing is queued or on its way (the run is idle), the
// connection broke, or batches are to be sent unnamed from now on.
func (r *batchRun) next() []*fastDeal {
	b := &r.s.batcher
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case r.broken || (r.named && r.s.batchStmt.Load() == batchStmtUnnamed):
			return nil
		case len(b.queue) > 0 && (r.inPipe == 0 || (r.inPipe < r.depth && len(b.queue) >= r.last)):
			batch := b.take()
			r.inPipe++
			r.sends++
			r.last = len(batch)
			return batch
		case len(b.queue) == 0 && r.inPipe == 0:
			r.idle = true
			b.running = false
			return nil
		}
		b.wake.Wait()
	}
}

// send encodes batch and sends it with a Sync of its own; the receiver
// then reads its answer. A batch that cannot be encoded or sent takes the
// general path; a failed write breaks the run.
func (r *batchRun) send(batch []*fastDeal) {
	err := r.write(batch)
	if err == nil {
		r.sent <- batch
		return
	}
	b := &r.s.batcher
	b.mu.Lock()
	r.inPipe--
	var writeErr *batchWriteError
	if errors.As(err, &writeErr) {
		r.broken = true
	}
	b.mu.Unlock()
	r.s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(batch), "err", err)
	for _, d := range batch {
		d.done <- fastAnswer{}
	}
}

// batchWriteError is a failed write to the connection, which ends the run.
type batchWriteError struct{ err error }

func (e *batchWriteError) Error() string { return "staging: sending a batch: " + e.err.Error() }
func (e *batchWriteError) Unwrap() error { return e.err }

// write encodes batch and writes it to the connection.
func (r *batchRun) write(batch []*fastDeal) (err error) {
	defer func() {
		// A panic here would leave every caller of the batch waiting:
		// it fails this batch and ends the run.
		if p := recover(); p != nil {
			err = &batchWriteError{fmt.Errorf("panicked: %v", p)} // part of it may have been written
		}
	}()
	size := 0
	for _, d := range batch {
		size += len(d.row.PayloadRaw)
	}
	bufs := batchPool.Get().(*batchBufs)
	defer func() {
		clear(bufs.values) // keep no payload reachable from the pool
		// The buffers of one outsized deal are not kept.
		if cap(bufs.joined) <= 2*fastBatchMaxBytes && cap(bufs.msgs) <= 3*fastBatchMaxBytes {
			batchPool.Put(bufs)
		}
	}()
	a := newBatchArgs(len(batch), slices.Grow(bufs.joined[:0], size))
	for _, d := range batch {
		a.add(d)
	}
	bufs.joined = a.raw
	values, err := encodeBatch(r.tm, &a, bufs)
	if err != nil {
		return err
	}
	// The messages are encoded into the kept buffer and written to the
	// connection directly: the frontend's own buffer would be dropped and
	// made anew after every message this large.
	bind := &pgproto3.Bind{PreparedStatement: batchStatement, ParameterFormatCodes: batchFormats, Parameters: values}
	msgs := []pgproto3.FrontendMessage{bind, &pgproto3.Execute{}, &pgproto3.Sync{}}
	if !r.named {
		// An unnamed statement, parsed with every batch.
		bind.PreparedStatement = ""
		msgs = slices.Insert(msgs, 0, pgproto3.FrontendMessage(&pgproto3.Parse{Query: batchSQL, ParameterOIDs: batchOIDs}))
	}
	out := bufs.msgs[:0]
	for _, m := range msgs {
		if out, err = m.Encode(out); err != nil {
			return fmt.Errorf("staging: encoding a batch: %w", err) // nothing was sent
		}
	}
	bufs.msgs = out
	if err := r.nc.SetWriteDeadline(time.Now().Add(r.s.txTimeout)); err != nil {
		return &batchWriteError{err}
	}
	if _, err := r.nc.Write(out); err != nil {
		return &batchWriteError{err}
	}
	return nil
}

// encodeBatch encodes the parameters of a batch in binary into bufs, which
// are kept for the next batch, and returns them; the joined payloads are
// sent as they are, where database/sql and pgx's query builder would copy
// them twice more.
func encodeBatch(tm *pgtype.Map, a *batchArgs, bufs *batchBufs) ([][]byte, error) {
	args := [...]any{NumberPrefix, int64(numberOffset),
		a.eccKey, a.state, a.now, a.sfID, a.rawLen, a.hash, a.version, a.modified, a.info, a.eccID, a.dr, a.so, a.opp,
		a.company, a.warnings, a.exceptions, a.search, a.evKind, a.evTo, a.evChannel, a.evActor, a.evMessage, a.evData}
	var ends [len(args)]int
	var null [len(args)]bool
	buf := bufs.params[:0]
	for i, v := range args {
		nb, err := tm.Encode(batchOIDs[i], pgtype.BinaryFormatCode, v, buf)
		if err != nil {
			return nil, fmt.Errorf("staging: encoding batch parameter $%d: %w", i+1, err)
		}
		if nb == nil { // NULL
			null[i] = true
		} else {
			buf = nb
		}
		ends[i] = len(buf)
	}
	bufs.params = buf
	values := bufs.values[:0]
	start := 0
	for i := range args {
		if null[i] {
			values = append(values, nil)
		} else {
			values = append(values, buf[start:ends[i]:ends[i]])
		}
		start = ends[i]
	}
	values = append(values, a.raw)
	bufs.values = values
	return values, nil
}

// receive reads the answer of each batch sent, in order, and answers its
// deals. After the connection broke, the batches still on their way take
// the general path unread.
func (r *batchRun) receive() {
	b := &r.s.batcher
	for batch := range r.sent {
		answers := make([]fastAnswer, len(batch))
		b.mu.Lock()
		broken := r.broken
		b.mu.Unlock()
		var err error
		if broken {
			err = errors.New("staging: the connection failed before the batch was answered")
		} else {
			err = r.read(answers)
		}
		if err != nil {
			// Nothing of the batch was committed (or, if the answer was
			// lost after the commit, the general path finds the deals
			// staged and answers them as duplicates).
			clear(answers)
			if !broken {
				r.s.log.Warn("staging: a batch of new deals failed; each takes the general path", "deals", len(batch), "err", err)
			}
		}
		var pgErr *pgconn.PgError
		b.mu.Lock()
		r.inPipe--
		if err != nil && !errors.As(err, &pgErr) {
			r.broken = true
		} else if err != nil {
			r.failed = true
		}
		b.wake.Signal()
		b.mu.Unlock()
		if pgErr != nil {
			r.s.unnameBatchesAfter(pgErr)
		}
		for i, d := range batch {
			d.done <- answers[i]
		}
	}
}

// read reads one batch's answer up to its ReadyForQuery and fills answers
// from the rows. It returns the batch's *pgconn.PgError if Postgres failed
// it, or any other error if the connection did.
func (r *batchRun) read(answers []fastAnswer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("staging: reading a batch's answer panicked: %v", p)
		}
	}()
	if err := r.nc.SetReadDeadline(time.Now().Add(r.s.txTimeout)); err != nil {
		return err
	}
	var pgErr error
	for {
		msg, err := r.fe.Receive()
		if err != nil {
			return fmt.Errorf("staging: reading a batch's answer: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			if len(m.Values) != 3 || m.Values[1] == nil || string(m.Values[2]) != "created" {
				continue
			}
			pos, err1 := strconv.Atoi(string(m.Values[0]))
			id, err2 := strconv.ParseInt(string(m.Values[1]), 10, 64)
			if err1 == nil && err2 == nil && pos >= 1 && pos <= len(answers) {
				answers[pos-1] = fastAnswer{id: id, ok: true}
			}
		case *pgproto3.ErrorResponse:
			pgErr = pgconn.ErrorResponseToPgError(m)
		case *pgproto3.ReadyForQuery:
			return pgErr
		case *pgproto3.ParseComplete, *pgproto3.BindComplete, *pgproto3.CommandComplete, *pgproto3.NoData,
			*pgproto3.RowDescription, *pgproto3.NoticeResponse, *pgproto3.ParameterStatus, *pgproto3.NotificationResponse:
		default:
			return fmt.Errorf("staging: unexpected %T in a batch's answer", msg)
		}
	}
}

// How batches are sent (Store.batchStmt): not decided yet, as a statement
// prepared by name once per connection, or as an unnamed statement.
const (
	batchStmtUndecided int32 = iota
	batchStmtNamed
	batchStmtUnnamed
)

// batchNamed reports whether batches are sent as a prepared statement kept
// on the connection. They are unless the database URL asked pgx for
// statements that are not kept (default_query_exec_mode cache_describe,
// describe_exec or exec, as behind a connection pooler in transaction
// mode), or a batch found that the connections cannot keep them (see
// unnameBatchesAfter). The simple protocol, bundb's default for Bun's own
// statements, says nothing about the connections and keeps the batch named.
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

// unnameBatchesAfter sends every later batch unnamed when err says that the
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
