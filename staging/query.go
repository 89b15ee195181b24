package staging

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Get returns record id with its payload, PH data and attachments.
func (s *Store) Get(ctx context.Context, id int64) (*Record, error) {
	return s.recordByID(ctx, s.db, id, false)
}

// GetByNumber returns the record with the human number (BB0001001).
func (s *Store) GetByNumber(ctx context.Context, number string) (*Record, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	id, ok := ParseNumber(number)
	if !ok {
		return nil, &InputError{What: "record number", Problems: []string{
			fmt.Sprintf("%q is not a record number: want %s followed by 7 digits, such as %s", number, NumberPrefix, FormatNumber(1))}}
	}
	return s.Get(ctx, id)
}

// GetBySalesforceID returns the record of the deal with that Salesforce id.
func (s *Store) GetBySalesforceID(ctx context.Context, sfID string) (*Record, error) {
	return s.recordBySFID(ctx, s.db, strings.TrimSpace(sfID), false)
}

// Filter selects records for List.
type Filter struct {
	// States keeps records in any of these states; empty: all.
	States []State
	// Text keeps records whose number, company name (Salesforce's or the
	// email's), ECC id, DR number, sales order number, Salesforce id or
	// opportunity name contain every word of Text, ignoring case and
	// accents: "muller", "MULLER", "Müller" and "mueller" find "Müller",
	// "grosse" and "groesse" find "Größe", "son" finds "Søn". A NUL byte or
	// text that is not UTF-8 is an *InputError.
	Text string
	// Limit is the page size: default 50, at most 500.
	Limit int
	// After is the cursor of the next page (Page.Next); empty: first page.
	After string
}

// Page is one page of List, newest record first.
type Page struct {
	Records []Summary `json:"records"`
	// Next is the cursor of the next page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// List returns records matching f, newest first, one page at a time.
func (s *Store) List(ctx context.Context, f Filter) (Page, error) {
	var problems []string
	for _, st := range f.States {
		if !st.Valid() {
			problems = append(problems, fmt.Sprintf("unknown state %q: use one of %s", st, stateList(States())))
		}
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		problems = append(problems, err.Error())
	}
	words, problem := searchWords(f.Text)
	if problem != "" {
		problems = append(problems, problem)
	}
	if len(problems) > 0 {
		return Page{}, &InputError{What: "filter", Problems: problems}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var rows []recordRow
	q := s.db.NewSelect().Model(&rows).Column(summaryColumns...).OrderExpr("r.id DESC").Limit(int64(limit + 1))
	if len(f.States) > 0 {
		q = q.Where("r.state IN (?)", bun.List(f.States))
	}
	for _, word := range words {
		q = q.Where(`r.search_text LIKE ? ESCAPE '\'`, "%"+escapeLike(word)+"%")
	}
	if after > 0 {
		q = q.Where("r.id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return Page{}, fmt.Errorf("staging: listing records: %w", err)
	}
	var page Page
	page.Records = make([]Summary, 0, min(len(rows), limit))
	for i := range rows {
		if i == limit {
			page.Next = encodeCursor(rows[i-1].ID)
			break
		}
		sum, err := rows[i].summary()
		if err != nil {
			return Page{}, err
		}
		page.Records = append(page.Records, sum)
	}
	return page, nil
}

// escapeLike makes s match literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("r" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 'r' {
		if id, err := strconv.ParseInt(string(b[1:]), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, fmt.Errorf("cursor %q was not made by List: pass Page.Next unchanged", c)
}

// Counts returns the number of records in each state (every state is
// present, zero included).
func (s *Store) Counts(ctx context.Context) (map[State]int, error) {
	var rows []struct {
		State string `bun:"state"`
		N     int    `bun:"n"`
	}
	err := s.db.NewSelect().TableExpr("staging_records").ColumnExpr("state, count(*) AS n").Group("state").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("staging: counting records: %w", err)
	}
	out := make(map[State]int, len(States()))
	for _, st := range States() {
		out[st] = 0
	}
	for _, r := range rows {
		out[State(r.State)] = r.N
	}
	return out, nil
}

// Waiting returns the records that have waited at least olderThan (by the
// store's clock) for their other half: received ones for their PH email,
// waiting_for_payload ones for their payload. Longest waiting first.
func (s *Store) Waiting(ctx context.Context, olderThan time.Duration) ([]Summary, error) {
	cutoff := s.clock().Add(-olderThan)
	var rows []recordRow
	err := s.db.NewSelect().Model(&rows).Column(summaryColumns...).
		Where("r.state IN (?)", bun.List([]State{StateReceived, StateWaitingForPayload})).
		Where("r.state_since <= ?", cutoff).
		Order("r.state_since", "r.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("staging: listing waiting records: %w", err)
	}
	out := make([]Summary, 0, len(rows))
	for i := range rows {
		sum, err := rows[i].summary()
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// PayloadHistory returns the payloads that newer versions replaced on
// record id, oldest first (the current one is Record.Payload).
func (s *Store) PayloadHistory(ctx context.Context, id int64) ([]PayloadData, error) {
	if _, err := s.summaryByID(ctx, s.db, id); err != nil {
		return nil, err
	}
	var rows []payloadHistoryRow
	if err := s.db.NewSelect().Model(&rows).Where("record_id = ?", id).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("staging: reading payload history of record %d: %w", id, err)
	}
	out := make([]PayloadData, 0, len(rows))
	for _, r := range rows {
		p := PayloadData{SalesforceID: r.SalesforceID, Version: r.Version, Hash: r.Hash, Raw: r.Raw,
			ModifiedAt: utc(r.ModifiedAt), ReceivedAt: utc(r.ReceivedAt), SupersededAt: utc(r.SupersededAt)}
		var info payloadInfo
		if err := fromJSON("payload history info", r.Info, &info); err != nil {
			return nil, err
		}
		info.apply(&p)
		out = append(out, p)
	}
	return out, nil
}

// RawEmail returns the PH email emailID (PHData.EmailID) as received.
func (s *Store) RawEmail(ctx context.Context, emailID int64) ([]byte, error) {
	var row emailRow
	err := s.db.NewSelect().Model(&row).Where("e.id = ?", emailID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("email", emailID)
	}
	if err != nil {
		return nil, fmt.Errorf("staging: reading email %d: %w", emailID, err)
	}
	return s.blobs.Get(ctx, s.db, row.RawSHA256)
}

// LoadUnderWay is a record whose load is under way: running, or waiting
// to be tried again after a transient failure.
type LoadUnderWay struct {
	Summary
	Attempts  int       `json:"attempts"`
	StartedAt time.Time `json:"started_at"`
	Retries   int       `json:"retries,omitempty"`
	NextTryAt time.Time `json:"next_try_at,omitzero"`
	// Error is the last transient failure of a retrying load.
	Error string `json:"error,omitempty"`
}

// LoadsUnderWay returns every record in loading, the longest running
// first.
func (s *Store) LoadsUnderWay(ctx context.Context) ([]LoadUnderWay, error) {
	var rows []recordRow
	cols := append(slices.Clone(summaryColumns), "load_attempts", "load_started_at", "load_retries", "load_next_try_at", "load_error")
	err := s.db.NewSelect().Model(&rows).Column(cols...).
		Where("r.state = ?", StateLoading).Order("r.load_started_at", "r.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("staging: listing loads under way: %w", err)
	}
	out := make([]LoadUnderWay, 0, len(rows))
	for i := range rows {
		sum, err := rows[i].summary()
		if err != nil {
			return nil, err
		}
		out = append(out, LoadUnderWay{Summary: sum, Attempts: rows[i].LoadAttempts, StartedAt: utc(rows[i].LoadStartedAt),
			Retries: rows[i].LoadRetries, NextTryAt: utc(rows[i].LoadNextTryAt), Error: rows[i].LoadError})
	}
	return out, nil
}
