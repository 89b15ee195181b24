package bookbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

// ReconcileOptions select the records Reconcile checks.
type ReconcileOptions struct {
	// Records are the ids of the records to check; empty: every loaded
	// record.
	Records []int64 `json:"records,omitempty"`
}

// The statuses of a reconciled record.
const (
	// ReconcileInSync: every row the last load wrote or matched is there
	// and holds what the load set.
	ReconcileInSync = "in_sync"
	// ReconcileDrifted: the target no longer holds what the load set.
	ReconcileDrifted = "drifted"
	// ReconcileAcknowledged: the record has drifted exactly as an operator
	// acknowledged (AcknowledgeDrift); it is not reported as drifted until
	// the rows change again.
	ReconcileAcknowledged = "acknowledged"
	// ReconcileError: the record could not be checked (it is not loaded,
	// or its load left no plan to check against).
	ReconcileError = "error"
)

// The kinds of drift.
const (
	DriftRowMissing        = "row_missing"
	DriftFieldChanged      = "field_changed"
	DriftAttachmentMissing = "attachment_missing"
)

// Drift is one difference between what a record's last load set and the
// target now.
type Drift struct {
	Kind string `json:"kind"`
	// Step is the plan step whose row drifted, Label what the row is.
	Step  string `json:"step"`
	Label string `json:"label,omitempty"`
	Table string `json:"table"`
	// TargetID is the id of the target's row (a sys_id).
	TargetID string `json:"target_id"`
	// Field, Expected and Actual are set for field_changed: the value the
	// load set and the value the row holds now.
	Field    string `json:"field,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// FileName and SHA256 name the file of attachment_missing.
	FileName string `json:"file_name,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
}

// String is the drift for people: "u_sales_skus 5f1c...: u_qty 2 → 3".
func (d Drift) String() string {
	head := d.Table + " " + d.TargetID
	switch d.Kind {
	case DriftRowMissing:
		return head + ": row missing"
	case DriftFieldChanged:
		return fmt.Sprintf("%s: %s %q → %q", head, d.Field, d.Expected, d.Actual)
	case DriftAttachmentMissing:
		return head + ": attachment " + d.FileName + " missing"
	}
	return head + ": " + d.Kind
}

// RecordReconciliation is what Reconcile found for one record.
type RecordReconciliation struct {
	ID      int64  `json:"id"`
	Number  string `json:"number"`
	Company string `json:"company_name,omitempty"`
	// Status is in_sync, drifted, acknowledged or error.
	Status string `json:"status"`
	// Rows is how many target rows were checked.
	Rows   int     `json:"rows"`
	Drifts []Drift `json:"drifts,omitempty"`
	// Fingerprint identifies the drifts (the same drifts, the same
	// fingerprint); empty when in sync.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Acknowledged is the acknowledgement that matches the drifts.
	Acknowledged *DriftAcknowledgement `json:"acknowledged,omitempty"`
	Error        string                `json:"error,omitempty"`
}

// DriftAcknowledgement says who acknowledged a drift, and when.
type DriftAcknowledgement struct {
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"`
}

// ReconcileReport is the answer of Reconcile: every record it checked.
type ReconcileReport struct {
	CheckedAt time.Time              `json:"checked_at"`
	Records   []RecordReconciliation `json:"records"`
	// The number of records per status.
	InSync       int `json:"in_sync"`
	Drifted      int `json:"drifted"`
	Acknowledged int `json:"acknowledged"`
	Errors       int `json:"errors"`
	// Calls counts the target calls: reads of rows by id and listings of
	// attachments. Reconcile never writes.
	Calls ReconcileCalls `json:"calls"`
}

// ReconcileCalls counts the target calls of a reconciliation.
type ReconcileCalls struct {
	Get         int `json:"get"`
	Attachments int `json:"attachments"`
}

// Total is the number of target calls.
func (c ReconcileCalls) Total() int { return c.Get + c.Attachments }

// DriftedRecords returns the records that drifted (not acknowledged).
func (r *ReconcileReport) DriftedRecords() []RecordReconciliation {
	var out []RecordReconciliation
	for _, rec := range r.Records {
		if rec.Status == ReconcileDrifted {
			out = append(out, rec)
		}
	}
	return out
}

// ErrNoDrift is returned by AcknowledgeDrift for a record that is in sync.
var ErrNoDrift = errors.New("bookbridge: the record is in sync with the target; there is no drift to acknowledge")

// expectedRow is a row a record's last load wrote or matched, with the
// values it set.
type expectedRow struct {
	rec    int // index in the report
	step   loader.Step
	id     string
	match  map[string]string
	fields map[string]string
}

// Reconcile compares each selected loaded record with the live target:
// for every row its last load wrote or matched (from the load's plan and
// result), is the row still there, do the fields the load set still hold
// the values it set, and are the plan's attachments still on it (by name
// and SHA-256). Only what the last load's plan wrote is checked: a row the
// rules no longer plan, after a rule change and a reload, is not.
//
// The fields checked for a row are its match values and the values the
// load set on it: fields and on_insert for a row it inserted, fields and
// on_update for a row it found, as they were sent (references as the ids
// of the rows they referenced, lookups as the value read at the load).
// Values are compared exactly, as the loader compares them. Exception
// records (problem tickets) are not checked: people work on them.
//
// Reads are batched: per table, one call reads up to loader.MaxBatch rows
// by id (and one lists their files), so N records cost about tables × N /
// 100 calls. Reconcile makes no write. A record whose drift matches its
// latest acknowledgement (AcknowledgeDrift) is reported acknowledged. An
// error of the target fails the whole reconciliation with a *TargetError.
func (f *Flow) Reconcile(ctx context.Context, opts ReconcileOptions) (ReconcileReport, error) {
	report := ReconcileReport{CheckedAt: f.Now(), Records: []RecordReconciliation{}}
	recs, err := f.reconcileRecords(ctx, opts.Records)
	if err != nil {
		return report, err
	}
	var rows []expectedRow
	for _, rec := range recs {
		i := len(report.Records)
		rr := RecordReconciliation{ID: rec.ID, Number: rec.Number, Company: rec.CompanyName}
		expected, err := f.expectedRows(rec)
		if err != nil {
			rr.Status, rr.Error = ReconcileError, err.Error()
		}
		for j := range expected {
			expected[j].rec = i
		}
		rr.Rows = len(expected)
		rows = append(rows, expected...)
		report.Records = append(report.Records, rr)
	}
	if err := f.compareRows(ctx, rows, &report); err != nil {
		return report, err
	}
	ids := make([]int64, 0, len(report.Records))
	for _, rr := range report.Records {
		ids = append(ids, rr.ID)
	}
	acks, err := f.cfg.Store.DriftAcks(ctx, ids)
	if err != nil {
		return report, err
	}
	for i := range report.Records {
		rr := &report.Records[i]
		if rr.Status == ReconcileError {
			report.Errors++
			continue
		}
		if len(rr.Drifts) == 0 {
			rr.Status = ReconcileInSync
			report.InSync++
			continue
		}
		rr.Fingerprint = driftFingerprint(rr.Drifts)
		if ack, ok := acks[rr.ID]; ok && ack.Fingerprint == rr.Fingerprint {
			rr.Status = ReconcileAcknowledged
			rr.Acknowledged = &DriftAcknowledgement{By: ack.Event.User, At: ack.Event.At}
			report.Acknowledged++
			continue
		}
		rr.Status = ReconcileDrifted
		report.Drifted++
	}
	f.log.InfoContext(ctx, "reconciled loaded records with the target", "records", len(report.Records), "in_sync", report.InSync,
		"drifted", report.Drifted, "acknowledged", report.Acknowledged, "errors", report.Errors,
		"get_calls", report.Calls.Get, "attachment_calls", report.Calls.Attachments)
	return report, nil
}

// reconcileRecords reads the records named by ids, or every loaded record.
// A named record that is not loaded is kept, to be reported as an error.
func (f *Flow) reconcileRecords(ctx context.Context, ids []int64) ([]*staging.Record, error) {
	if len(ids) == 0 {
		cursor := ""
		for {
			page, err := f.cfg.Store.List(ctx, staging.Filter{States: []staging.State{staging.StateLoaded}, Limit: 500, After: cursor})
			if err != nil {
				return nil, err
			}
			for _, s := range page.Records {
				ids = append(ids, s.ID)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		slices.Sort(ids)
	}
	out := make([]*staging.Record, 0, len(ids))
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		rec, err := f.cfg.Store.Get(ctx, id)
		if errors.Is(err, staging.ErrNotFound) {
			return nil, &NotFoundError{What: "record", Ref: fmt.Sprint(id)}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// expectedRows reads from a loaded record's last load which rows it wrote
// or matched and the values it set on them.
func (f *Flow) expectedRows(rec *staging.Record) ([]expectedRow, error) {
	if rec.State != staging.StateLoaded {
		return nil, fmt.Errorf("%s is %s, not loaded: only loaded records are reconciled", rec.Number, rec.State)
	}
	progress, ok := savedProgress(rec)
	if !ok {
		return nil, fmt.Errorf("%s keeps no plan of its last load: load it again to reconcile it", rec.Number)
	}
	var result loader.Result
	if len(rec.Load.Result) > 0 {
		if err := json.Unmarshal(rec.Load.Result, &result); err != nil {
			return nil, fmt.Errorf("%s: reading the result of its last load: %w", rec.Number, err)
		}
	}
	// The row of each step, from the result and the journal.
	written := map[string]loader.StepResult{}
	resolved := func(o loader.Outcome) bool {
		return o == loader.Inserted || o == loader.Updated || o == loader.Unchanged
	}
	journals := []*loader.Journal{&result.Journal, progress.Journal}
	for _, j := range journals {
		if j == nil {
			continue
		}
		for id, js := range j.Steps {
			if _, ok := written[id]; !ok && resolved(js.Outcome) && js.TargetID != "" {
				written[id] = loader.StepResult{ID: id, Outcome: js.Outcome, TargetID: js.TargetID}
			}
		}
	}
	for _, s := range result.Steps {
		if resolved(s.Outcome) && s.TargetID != "" {
			written[s.ID] = s
		}
	}
	var rows []expectedRow
	for _, step := range progress.Plan.Steps {
		res, ok := written[step.ID]
		if !ok {
			continue
		}
		known := map[string]string{} // values the result shows as sent
		for _, c := range res.Changes {
			known[c.Field] = c.New
		}
		resolve := func(vals map[string]loader.Value, into map[string]string) {
			for k, v := range vals {
				switch {
				case v.Lookup != nil:
					if val, ok := known[k]; ok {
						into[k] = val
					} else {
						delete(into, k) // read at the load and not recorded: not checked
					}
				case v.Ref != "":
					if dep, ok := written[v.Ref]; ok {
						into[k] = dep.TargetID
					} else {
						delete(into, k)
					}
				default:
					into[k] = v.Literal
				}
			}
		}
		match := map[string]string{}
		resolve(step.Match, match)
		fields := map[string]string{}
		resolve(step.Fields, fields)
		if res.Outcome == loader.Inserted {
			resolve(step.OnInsert, fields)
		} else {
			resolve(step.OnUpdate, fields)
		}
		maps.Copy(fields, match)
		rows = append(rows, expectedRow{step: step, id: res.TargetID, match: match, fields: fields})
	}
	return rows, nil
}

// compareRows reads the rows back, table by table, and adds each drift to
// its record in report.
func (f *Flow) compareRows(ctx context.Context, rows []expectedRow, report *ReconcileReport) error {
	byTable := map[string][]int{}
	for i, r := range rows {
		byTable[r.step.Table] = append(byTable[r.step.Table], i)
	}
	tables := slices.Sorted(maps.Keys(byTable))
	type tableRead struct {
		got      map[string]loader.Record
		files    map[string][]loader.AttachmentInfo
		getCalls int
		attCalls int
		err      error
	}
	reads := make([]tableRead, len(tables))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for ti, table := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			idx := byTable[table]
			fieldSet := map[string]bool{}
			refs := make([]loader.RowRef, 0, len(idx))
			var withFiles []string
			for _, i := range idx {
				refs = append(refs, loader.RowRef{ID: rows[i].id, Match: rows[i].match})
				for k := range rows[i].fields {
					fieldSet[k] = true
				}
				if len(rows[i].step.Attach) > 0 {
					withFiles = append(withFiles, rows[i].id)
				}
			}
			rd := &reads[ti]
			rd.got, rd.getCalls, rd.err = loader.GetRows(ctx, f.cfg.Target, table, refs, slices.Sorted(maps.Keys(fieldSet)))
			if rd.err != nil || len(withFiles) == 0 {
				return
			}
			rd.files, rd.attCalls, rd.err = loader.ListAttachments(ctx, f.cfg.Target, table, withFiles)
		}()
	}
	wg.Wait()
	for ti, table := range tables {
		rd := reads[ti]
		report.Calls.Get += rd.getCalls
		report.Calls.Attachments += rd.attCalls
		if rd.err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &TargetError{Err: rd.err}
		}
		for _, i := range byTable[table] {
			r := rows[i]
			rr := &report.Records[r.rec]
			base := Drift{Step: r.step.ID, Label: r.step.Label, Table: table, TargetID: r.id}
			got, ok := rd.got[r.id]
			if !ok {
				d := base
				d.Kind = DriftRowMissing
				rr.Drifts = append(rr.Drifts, d)
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(r.fields)) {
				if have := got.Fields[k]; have != r.fields[k] {
					d := base
					d.Kind, d.Field, d.Expected, d.Actual = DriftFieldChanged, k, r.fields[k], have
					rr.Drifts = append(rr.Drifts, d)
				}
			}
			for _, a := range r.step.Attach {
				if !hasFile(rd.files[r.id], a.FileName, a.SHA256) {
					d := base
					d.Kind, d.FileName, d.SHA256 = DriftAttachmentMissing, a.FileName, strings.ToLower(a.SHA256)
					rr.Drifts = append(rr.Drifts, d)
				}
			}
		}
	}
	for i := range report.Records {
		slices.SortStableFunc(report.Records[i].Drifts, func(a, b Drift) int {
			return strings.Compare(a.Step+"\x00"+a.Kind+"\x00"+a.Field+a.FileName, b.Step+"\x00"+b.Kind+"\x00"+b.Field+b.FileName)
		})
	}
	return nil
}

func hasFile(files []loader.AttachmentInfo, name, sum string) bool {
	return slices.ContainsFunc(files, func(a loader.AttachmentInfo) bool {
		return a.Name == name && strings.EqualFold(a.SHA256, sum)
	})
}

// driftFingerprint identifies a set of drifts with the values the target
// holds: the same rows drifted the same way give the same fingerprint, and
// a row that changes again gives another.
func driftFingerprint(drifts []Drift) string {
	lines := make([]string, 0, len(drifts))
	for _, d := range drifts {
		lines = append(lines, strings.Join([]string{d.Kind, d.Table, d.TargetID, d.Field, d.Expected, d.Actual, d.FileName, d.SHA256}, "\x1f"))
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\x1e")))
	return hex.EncodeToString(sum[:])
}

// AcknowledgeDrift reconciles one loaded record and records in its history
// that its present drift was acknowledged by by: later reconciliations
// report it acknowledged instead of drifted until its rows change again.
// Acknowledging a drift that is acknowledged already records nothing new.
// It fails with ErrNoDrift when the record is in sync, and returns the
// record's reconciliation.
func (f *Flow) AcknowledgeDrift(ctx context.Context, recordID int64, by string) (*RecordReconciliation, error) {
	report, err := f.Reconcile(ctx, ReconcileOptions{Records: []int64{recordID}})
	if err != nil {
		return nil, err
	}
	rr := report.Records[0]
	switch rr.Status {
	case ReconcileError:
		return nil, &NotLoadableError{Record: rr.Number, Reason: rr.Error}
	case ReconcileInSync:
		return nil, fmt.Errorf("%s: %w", rr.Number, ErrNoDrift)
	case ReconcileAcknowledged:
		return &rr, nil
	}
	parts := make([]string, 0, len(rr.Drifts))
	for _, d := range rr.Drifts {
		parts = append(parts, d.String())
	}
	msg := fmt.Sprintf("drift acknowledged (%d): %s", len(rr.Drifts), strings.Join(parts, "; "))
	ev, err := f.cfg.Store.AcknowledgeDrift(context.WithoutCancel(ctx), rr.ID, rr.Fingerprint, msg, staging.By(by))
	if err != nil {
		return nil, err
	}
	rr.Status = ReconcileAcknowledged
	rr.Acknowledged = &DriftAcknowledgement{By: ev.User, At: ev.At}
	f.log.InfoContext(ctx, "drift acknowledged", "record", rr.Number, "by", by, "drifts", len(rr.Drifts))
	return &rr, nil
}
