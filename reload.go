package bookbridge

import (
	"context"
	"fmt"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

// ReloadPreview is the dry run of a reload: the usual preview against the
// live target, and the rows the last load wrote that the rules in use no
// longer plan (a reload keeps them; it never deletes a row).
type ReloadPreview struct {
	*Preview
	Rules           RulesInfo `json:"rules"`
	NoLongerWritten []Row     `json:"no_longer_written"`
}

// PreviewReload plans rec with the rules in use, resolves the plan against
// the live target without writing, and names the rows of the last load
// the plan no longer writes.
func (f *Flow) PreviewReload(ctx context.Context, rec *staging.Record) (*ReloadPreview, error) {
	p, err := f.Preview(ctx, rec)
	if err != nil {
		return nil, err
	}
	if rec.State == staging.StateLoaded {
		p.Loadable, p.Reason = true, "reload with the rules in use"
	}
	return &ReloadPreview{Preview: p, Rules: rulesInfo(f.Rules()), NoLongerWritten: noLongerWritten(rec, p.Plan)}, nil
}

// lastPlan is the plan of rec's last load, from its journal, or nil.
func lastPlan(rec *staging.Record) *loader.Plan {
	saved, _ := savedProgress(rec)
	return saved.Plan
}

// noLongerWritten lists the rows of rec's last plan that plan does not
// write.
func noLongerWritten(rec *staging.Record, plan *loader.Plan) []Row {
	old := lastPlan(rec)
	out := []Row{}
	if old == nil || plan == nil {
		return out
	}
	var imp RecordImpact
	comparePlans(&imp, old, plan)
	return append(out, imp.NoLongerWritten...)
}

// reloadOption is the staging option of a reload of rec with the rules in
// use: it names the rules and the rows the last load wrote that they no
// longer plan.
func (f *Flow) reloadOption(rec *staging.Record, reason string) (staging.Option, error) {
	plan, err := f.Plan(rec)
	if err != nil {
		return nil, err
	}
	rules := f.Rules()
	info := staging.ReloadInfo{Reason: reason, RulesName: rules.Name(), RulesHash: rules.Hash()}
	for _, r := range noLongerWritten(rec, plan) {
		info.NotWritten = append(info.NotWritten, r.Key)
	}
	return staging.Reload(info), nil
}

// Reload loads a loaded record again with the rules in use, at once, in
// the caller's goroutine (see Load): the loader finds each record by its
// match keys and updates it in place, so nothing is inserted twice. Rows
// the rules no longer plan are kept in the target; the history entry
// names them and the rules' hash. A record in another loadable state
// (ready, load_failed, changed since load) is loaded as by Load. The plan
// failing is a *PlanError, and nothing is started.
func (f *Flow) Reload(ctx context.Context, recordID int64, by string, opts ...staging.Option) (*staging.Record, error) {
	opt, err := f.reloadPrep(ctx, recordID)
	if err != nil {
		return nil, err
	}
	return f.Load(ctx, recordID, by, append(opts, opt)...)
}

// EnqueueReload is Reload through the load job (see EnqueueLoad). It
// needs Config.Queue.
func (f *Flow) EnqueueReload(ctx context.Context, recordID int64, by string, opts ...staging.Option) (int64, error) {
	if f.queue() == nil {
		return 0, ErrNoQueue
	}
	opt, err := f.reloadPrep(ctx, recordID)
	if err != nil {
		return 0, err
	}
	return f.EnqueueLoad(ctx, recordID, by, append(opts, opt)...)
}

func (f *Flow) reloadPrep(ctx context.Context, recordID int64) (staging.Option, error) {
	rec, err := f.cfg.Store.Get(ctx, recordID)
	if err != nil {
		return nil, err
	}
	return f.reloadOption(rec, "reload with the rules in use")
}

// ReloadOutcome is what a bulk reload did with one record.
type ReloadOutcome struct {
	ID     int64  `json:"id"`
	Number string `json:"number"`
	// State is the record's state after the reload (loaded, needs_review,
	// load_failed) or loading when its job was enqueued.
	State staging.State `json:"state,omitempty"`
	JobID int64         `json:"job_id,omitempty"`
	// Error says why the record was not reloaded.
	Error string `json:"error,omitempty"`
}

// ReloadRecords reloads each record with the rules in use: through the
// load job when the Flow has a queue and inline is false, else one after
// another at once, in the caller's goroutine. A
// record that cannot be reloaded (it changed state, its plan fails) is
// reported with the reason and the others go on.
func (f *Flow) ReloadRecords(ctx context.Context, ids []int64, by string, inline bool) ([]ReloadOutcome, error) {
	out := make([]ReloadOutcome, 0, len(ids))
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		o := ReloadOutcome{ID: id}
		if rec, err := f.cfg.Store.Get(ctx, id); err == nil {
			o.Number = rec.Number
		}
		if f.queue() != nil && !inline {
			job, err := f.EnqueueReload(ctx, id, by)
			o.JobID, o.State = job, staging.StateLoading
			if err != nil {
				o.State, o.Error = "", err.Error()
			}
		} else {
			rec, err := f.Reload(ctx, id, by)
			switch {
			case err != nil:
				o.Error = err.Error()
			default:
				o.State = rec.State
				if rec.State == staging.StateLoadFailed {
					o.Error = rec.Load.Error
				}
			}
		}
		out = append(out, o)
	}
	f.log.InfoContext(ctx, "reloaded records with the rules in use", "count", len(ids), "by", by, "rules_hash", f.Rules().Hash())
	return out, nil
}

// ReloadImpact reloads every record rep lists as changed whose plan the
// new rules could make. rep must compare with the rules in use now (the
// new rules of rep are put in use first, with SetRules), so that the
// reload writes what the report showed. inline is as for ReloadRecords.
func (f *Flow) ReloadImpact(ctx context.Context, rep *ImpactReport, by string, inline bool) ([]ReloadOutcome, error) {
	if err := f.CheckRulesInUse(rep.New); err != nil {
		return nil, err
	}
	return f.ReloadRecords(ctx, rep.ReloadIDs(), by, inline)
}

// CheckRulesInUse fails with *RulesMismatchError unless rules are the rules
// in use. A reload writes with the rules in use, so a reload of what other
// rules would change waits until those rules are put in use.
func (f *Flow) CheckRulesInUse(rules RulesInfo) error {
	if inUse := rulesInfo(f.Rules()); inUse.Hash != rules.Hash {
		return &RulesMismatchError{InUse: inUse, Report: rules}
	}
	return nil
}

// ToReload lists the records a reload after the rule change would change:
// those whose plan changes and that the new rules can plan.
func (rep *ImpactReport) ToReload() []RecordImpact {
	var out []RecordImpact
	for _, r := range rep.Records {
		if r.Error == "" && r.Changed() {
			out = append(out, r)
		}
	}
	return out
}

// ReloadIDs are the ids of ToReload.
func (rep *ImpactReport) ReloadIDs() []int64 {
	ids := []int64{}
	for _, r := range rep.ToReload() {
		ids = append(ids, r.ID)
	}
	return ids
}

// RulesMismatchError says that a bulk reload was asked for an impact
// report made against other rules than those in use.
type RulesMismatchError struct {
	InUse  RulesInfo
	Report RulesInfo
}

func (e *RulesMismatchError) Error() string {
	return fmt.Sprintf("the rules in use are %s (sha256 %s), not the report's new rules %s (sha256 %s): put the new rules in use first, then reload",
		e.InUse.Name, e.InUse.Hash, e.Report.Name, e.Report.Hash)
}
