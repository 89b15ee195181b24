package staging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Store is the staging store over a Bun database (Postgres or SQLite).
// It is safe for concurrent use, also by several processes on one database.
type Store struct {
	db          *bun.DB
	kind        bundb.Kind
	now         func() time.Time
	blobs       BlobStore
	log         *slog.Logger
	maxAttempts int
	txTimeout   time.Duration
	batcher     intakeBatcher // new deals on Postgres, see intake_fast.go
	batchNew    bool          // new deals go through the batcher
	batchStmt   atomic.Int32  // how batches are sent: see batchNamed

	// Close: closed is set under batcher.mu; runs counts the batch runs
	// under way (see startRun); stopped is closed when they are over.
	closed    atomic.Bool
	closeOnce sync.Once
	runs      sync.WaitGroup
	stopped   chan struct{}
}

// New returns a store on db, opened with staging/bundb. Call Migrate before
// the first use, and Close when done (before closing db, which the caller
// owns).
func New(db *bun.DB, opts ...StoreOption) *Store {
	s := &Store{db: db, kind: bundb.KindOf(db), now: time.Now, blobs: DBBlobs{},
		log: slog.Default(), maxAttempts: 12, txTimeout: time.Minute}
	for _, o := range opts {
		o(s)
	}
	s.batchNew = batchesNewDeals(db)
	if s.kind == bundb.Postgres && !s.batchNew {
		s.log.Debug("staging: the database/sql driver is not pgx's; new deals take the general path, one by one",
			"driver", fmt.Sprintf("%T", db.DB.Driver()))
	}
	return s
}

// DB returns the database the store works on.
func (s *Store) DB() *bun.DB { return s.db }

// clock returns the store's time in UTC at the precision both engines keep.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// errRetry makes write start its transaction again: a concurrent change
// won a race that the next attempt will see.
var errRetry = errors.New("staging: concurrent change, retrying")

// write runs fn in a transaction and commits it; then InTx callbacks have
// run inside it when fn reported a changed record. The transaction is not
// cancelled with ctx once it started (a client that goes away must not
// leave a change half-done), but it is bounded in time. Lost races and a
// busy database are retried with backoff, a bounded number of times.
func write[T any](ctx context.Context, s *Store, o *callOptions, fn func(ctx context.Context, tx bun.Tx) (T, *Record, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	attempt := func() (T, error) {
		var out T
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.txTimeout)
		defer cancel()
		err := s.db.RunInTx(tctx, nil, func(ctx context.Context, tx bun.Tx) error {
			res, changed, err := fn(ctx, tx)
			if err != nil {
				return err
			}
			if changed != nil {
				for _, f := range o.inTx {
					if err := f(ctx, tx, changed); err != nil {
						return fmt.Errorf("staging: the InTx function failed, nothing was changed: %w", err)
					}
				}
			}
			out = res
			return nil
		})
		switch {
		case err == nil:
			return out, nil
		case retryable(err):
			return zero, err
		default:
			return zero, backoff.Permanent(err)
		}
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 2 * time.Millisecond
	b.MaxInterval = 200 * time.Millisecond
	out, err := backoff.Retry(ctx, attempt, backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(s.maxAttempts)), backoff.WithMaxElapsedTime(2*time.Minute))
	if err != nil && retryable(err) {
		return zero, fmt.Errorf("%w: gave up after %d attempts (%v); try again later", ErrConflict, s.maxAttempts, err)
	}
	return out, err
}

// retryable reports a lost race (errRetry, a Postgres serialization failure
// or deadlock) or a busy SQLite database.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "database table is locked")
}

// RefusedValue reports whether err is the database refusing a value that
// was written (a Postgres data exception, SQLSTATE class 22, such as text
// holding NUL, or a value over a program limit, class 54), and says what
// it refused. Such a write fails the same way every time: the value must
// change, so it is the caller's input to correct, not a reason to retry.
func RefusedValue(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")) {
		return pe.Message + " (SQLSTATE " + pe.Code + ")", true
	}
	return "", false
}

// uniqueViolation reports a unique constraint that refused a write.
func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// lockECC serialises, on Postgres, the transactions that correlate records
// of one ECC id (payload intake and email intake), so that a payload and an
// email arriving together cannot both miss each other. On SQLite every
// write transaction is immediate and already serialised.
func (s *Store) lockECC(ctx context.Context, tx bun.IDB, eccKey string) error {
	if s.kind != bundb.Postgres || eccKey == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx,
		"SELECT pg_advisory_xact_lock(hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || ?, 0))", eccKey)
	if err != nil {
		return fmt.Errorf("staging: locking ECC id %s: %w", eccKey, err)
	}
	return nil
}

// selectRecords reads full records (with attachments) matching where; with
// lock, the rows are locked for the transaction on Postgres. Rows come in
// id order, so concurrent transactions lock them in the same order.
func (s *Store) selectRecords(ctx context.Context, db bun.IDB, lock bool, where func(*bun.SelectQuery) *bun.SelectQuery) ([]*Record, error) {
	var rows []recordRow
	q := where(db.NewSelect().Model(&rows)).Order("r.id")
	if lock && s.kind == bundb.Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("staging: reading records: %w", err)
	}
	out := make([]*Record, 0, len(rows))
	for i := range rows {
		r, err := rows[i].record()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := s.loadAttachments(ctx, db, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) recordByID(ctx context.Context, db bun.IDB, id int64, lock bool) (*Record, error) {
	rs, err := s.selectRecords(ctx, db, lock, func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("r.id = ?", id) })
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, notFound("record", id)
	}
	return rs[0], nil
}

func (s *Store) recordBySFID(ctx context.Context, db bun.IDB, sfID string, lock bool) (*Record, error) {
	rs, err := s.selectRecords(ctx, db, lock, func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("r.sf_id = ?", sfID) })
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, notFound("record with Salesforce id", sfID)
	}
	return rs[0], nil
}

// lockForAction reads record id for a change by action: locked, at the
// expected version (IfVersion), in a state that allows the action.
func (s *Store) lockForAction(ctx context.Context, tx bun.IDB, o *callOptions, id int64, action Action) (*Record, error) {
	r, err := s.recordByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if o.ifVersion != 0 && r.Version != o.ifVersion {
		return nil, &ConflictError{Record: r.Number, Expected: o.ifVersion, Actual: r.Version}
	}
	if action == ActionStartLoad && o.reload != nil && r.State == StateLoaded {
		return r, nil // a reload: loaded records may start again unchanged
	}
	if err := r.checkAction(action); err != nil {
		return nil, err
	}
	return r, nil
}

// insertRecord writes a new record and gives it its id and number. It
// returns false, writing nothing, when a record with the same Salesforce id
// exists (the unique constraint decides, also under concurrency).
//
// afterInsert, when not nil, runs once the record has its id (to add its
// attachments) before the derived columns are written.
func (s *Store) insertRecord(ctx context.Context, tx bun.IDB, r *Record, afterInsert func() error) (bool, error) {
	now := s.clock()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, now, now
	if r.StateSince.IsZero() {
		r.StateSince = now
	}
	row := rowOf(r)
	row.ID, row.Number = 0, ""
	res, err := tx.NewInsert().Model(row).On("CONFLICT (sf_id) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("staging: inserting record: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 || row.ID == 0 {
		return false, nil
	}
	r.ID, r.Number = row.ID, FormatNumber(row.ID)
	if afterInsert != nil {
		if err := afterInsert(); err != nil {
			return false, err
		}
	}
	row = rowOf(r)
	if _, err := tx.NewUpdate().Model(row).Column("number", "search_text", "warnings").WherePK().Exec(ctx); err != nil {
		return false, fmt.Errorf("staging: numbering record %d: %w", r.ID, err)
	}
	return true, nil
}

// saveRecord writes r back if nobody changed it since it was read, and
// moves its version on. A lost race (or a Salesforce id another record
// took meanwhile) makes the transaction start again.
func (s *Store) saveRecord(ctx context.Context, tx bun.IDB, r *Record) error {
	old := r.Version
	r.Version, r.UpdatedAt = old+1, s.clock()
	row := rowOf(r)
	res, err := tx.NewUpdate().Model(row).ExcludeColumn("id", "created_at").WherePK().Where("version = ?", old).Exec(ctx)
	if uniqueViolation(err) {
		return errRetry
	}
	if err != nil {
		return fmt.Errorf("staging: saving record %s: %w", r.Number, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errRetry
	}
	return nil
}

// setState moves r to st, noting when.
func (s *Store) setState(r *Record, st State) {
	if r.State != st {
		r.State, r.StateSince = st, s.clock()
	}
}

// openException adds an open exception of kind unless one is open.
func (s *Store) openException(r *Record, kind ExceptionKind, message string) bool {
	for _, e := range r.Exceptions {
		if e.Kind == kind && e.ResolvedAt.IsZero() {
			return false
		}
	}
	r.Exceptions = append(r.Exceptions, Exception{Kind: kind, Message: message, OpenedAt: s.clock()})
	return true
}

// resolveExceptions resolves r's open exceptions of kind and returns them.
func (s *Store) resolveExceptions(r *Record, kind ExceptionKind, resolution string) []Exception {
	var out []Exception
	for i := range r.Exceptions {
		e := &r.Exceptions[i]
		if e.Kind == kind && e.ResolvedAt.IsZero() {
			e.ResolvedAt, e.Resolution = s.clock(), resolution
			out = append(out, *e)
		}
	}
	return out
}

// summaryByID reads one record's summary.
func (s *Store) summaryByID(ctx context.Context, db bun.IDB, id int64) (Summary, error) {
	var row recordRow
	err := db.NewSelect().Model(&row).Column(summaryColumns...).Where("r.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Summary{}, notFound("record", id)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("staging: reading record %d: %w", id, err)
	}
	return row.summary()
}

func candidatesOf(rs []*Record) []Candidate {
	out := make([]Candidate, len(rs))
	for i, r := range rs {
		out[i] = Candidate{ID: r.ID, Number: r.Number, State: r.State, CompanyName: r.CompanyName, Keys: r.Keys}
	}
	return out
}

func numbersOf(rs []*Record) string {
	ns := make([]string, len(rs))
	for i, r := range rs {
		ns[i] = r.Number
	}
	slices.Sort(ns)
	return strings.Join(ns, ", ")
}
