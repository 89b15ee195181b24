package staging

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// intakeNewFast stages a deal seen for the first time on Postgres with one
// call of staging_intake_new (see migration 20261127000002), which writes
// the same record and history event as intakeNew. It reports ok=false,
// changing nothing, whenever the general path must decide: the deal exists,
// a PH email may be waiting for it, the caller passed InTx functions, or
// the engine is SQLite.
func (s *Store) intakeNewFast(ctx context.Context, o *callOptions, p *Payload) (IntakeResult, bool, error) {
	if s.kind != bundb.Postgres || len(o.inTx) > 0 {
		return IntakeResult{}, false, nil
	}
	now := s.clock()
	r := &Record{Payload: p.data(now), Attachments: []Attachment{}}
	r.State, r.Version, r.StateSince, r.CreatedAt, r.UpdatedAt = StateReceived, 1, now, now, now
	row := rowOf(r) // with no number yet: the function prefixes it to search_text
	ev := createdEvent(p)
	var evData any
	if len(ev.data) > 0 {
		evData = mustJSON(ev.data)
	}
	var modified any
	if !row.PayloadModifiedAt.IsZero() {
		modified = row.PayloadModifiedAt
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.txTimeout)
	defer cancel()
	var id sql.NullInt64
	var outcome string
	// Straight to database/sql (Bun would format the $n placeholders
	// itself): QueryExecModeExec sends the payload as a binary parameter in
	// one round trip, without preparing a statement.
	err := s.db.DB.QueryRowContext(tctx, `SELECT new_id, outcome FROM staging_intake_new(
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		pgx.QueryExecModeExec,
		row.ECCKey, NumberPrefix, int64(numberOffset),
		row.State, now, row.SalesforceID, row.PayloadRaw, row.PayloadHash, row.PayloadVersion,
		modified, row.PayloadInfo, row.ECCID, row.DRNumber, row.SalesOrderNumber,
		row.OpportunityID, row.CompanyName, row.Warnings, row.Exceptions, row.SearchText,
		string(ev.kind), string(ev.to), o.channel, o.user, ev.message, evData,
	).Scan(&id, &outcome)
	if err != nil {
		return IntakeResult{}, false, fmt.Errorf("staging: staging deal %s: %w", p.SalesforceID, err)
	}
	if outcome != "created" || !id.Valid {
		return IntakeResult{}, false, nil
	}
	r.ID, r.Number = id.Int64, FormatNumber(id.Int64)
	return IntakeResult{Outcome: IntakeCreated, Record: r}, true, nil
}
