package loader

import (
	"fmt"
	"strings"
)

// Action is what a load would do with one step.
type Action string

// The actions of a preview.
const (
	ActionInsert    Action = "insert"
	ActionUpdate    Action = "update"
	ActionUnchanged Action = "unchanged"
	ActionException Action = "exception"
	ActionSkip      Action = "skip"
	ActionFail      Action = "fail"
)

// Diff is what a load would change, step by step: the answer of Preview
// for the console and the API. It serializes to JSON as is; String renders
// it for people.
type Diff struct {
	Record string `json:"record"`
	Rules  string `json:"rules,omitempty"`
	// Status is the status the load would end in.
	Status    Status     `json:"status"`
	StoppedBy string     `json:"stopped_by,omitempty"`
	Error     string     `json:"error,omitempty"`
	Steps     []StepDiff `json:"steps"`
	Warnings  []string   `json:"warnings,omitempty"`
	// Calls are the read calls the preview made.
	Calls Calls `json:"calls"`
}

// StepDiff is what a load would do with one step.
type StepDiff struct {
	ID string `json:"id"`
	// Label is the plan step's Label: what the record is, for people.
	Label  string `json:"label,omitempty"`
	Table  string `json:"table"`
	Action Action `json:"action"`
	// TargetID is the id of the existing record (update, unchanged).
	TargetID string `json:"target_id,omitempty"`
	// Match is the resolved match; a record the load would insert first
	// shows as "(new <step>)".
	Match map[string]string `json:"match,omitempty"`
	// Changes: every field of an insert, the differing fields of an
	// update (old -> new).
	Changes     []Change           `json:"changes,omitempty"`
	Attachments []AttachmentResult `json:"attachments,omitempty"`
	Exception   *ExceptionDiff     `json:"exception,omitempty"`
	Reason      string             `json:"reason,omitempty"`
}

// ExceptionDiff is the exception record a step would raise.
type ExceptionDiff struct {
	Table string `json:"table"`
	// AlreadyRaised: an earlier load raised it (ID); nothing would be
	// written.
	AlreadyRaised bool              `json:"already_raised,omitempty"`
	ID            string            `json:"id,omitempty"`
	Stop          bool              `json:"stop,omitempty"`
	Fields        map[string]string `json:"fields,omitempty"`
}

// Changed reports whether applying the plan would write anything.
func (d *Diff) Changed() bool {
	for _, s := range d.Steps {
		switch s.Action {
		case ActionInsert, ActionUpdate:
			return true
		case ActionException:
			if s.Exception != nil && !s.Exception.AlreadyRaised {
				return true
			}
		}
		for _, a := range s.Attachments {
			if a.Action == AttachUploaded {
				return true
			}
		}
	}
	return false
}

func actionOf(o Outcome) Action {
	switch o {
	case Inserted:
		return ActionInsert
	case Updated:
		return ActionUpdate
	case Unchanged:
		return ActionUnchanged
	case Exception:
		return ActionException
	case Failed:
		return ActionFail
	}
	return ActionSkip
}

func (r *run) diff(res *Result) *Diff {
	d := &Diff{Record: res.Record, Rules: r.plan.Rules, Status: res.Status, StoppedBy: res.StoppedBy, Error: res.Error, Warnings: res.Warnings, Calls: res.Calls}
	for i, s := range r.steps {
		sr := res.Steps[i]
		sd := StepDiff{ID: sr.ID, Label: sr.Label, Table: sr.Table, Action: actionOf(sr.Outcome), TargetID: sr.TargetID, Match: s.match,
			Changes: sr.Changes, Attachments: sr.Attachments, Reason: sr.Reason}
		if e := sr.Exception; e != nil {
			sd.Exception = &ExceptionDiff{Table: e.Table, AlreadyRaised: e.AlreadyRaised, ID: e.ID, Stop: e.Stop, Fields: s.excFields}
		}
		d.Steps = append(d.Steps, sd)
	}
	return d
}

// String renders the diff for people: one block per step, fields as
// "+ field: new" (insert) or "~ field: old -> new" (update).
func (d *Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Preview of %s", d.Record)
	if d.Rules != "" {
		fmt.Fprintf(&b, " (rules %s)", d.Rules)
	}
	fmt.Fprintf(&b, ", the load would end %s\n", d.Status)
	// Warnings first: what the plan leaves out is read before the steps.
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	counts := map[Action]int{}
	for _, s := range d.Steps {
		counts[s.Action]++
		name := s.ID
		if s.Label != "" {
			name = s.Label
		}
		fmt.Fprintf(&b, "%-10s %s  %s", s.Action, name, s.Table)
		if s.TargetID != "" {
			fmt.Fprintf(&b, " %s", s.TargetID)
		}
		if len(s.Match) > 0 {
			fmt.Fprintf(&b, "  [%s]", whereString(s.Match))
		}
		b.WriteString("\n")
		for _, c := range s.Changes {
			if s.Action == ActionInsert {
				fmt.Fprintf(&b, "    + %s: %q\n", c.Field, c.New)
			} else {
				fmt.Fprintf(&b, "    ~ %s: %q -> %q\n", c.Field, c.Old, c.New)
			}
		}
		for _, a := range s.Attachments {
			fmt.Fprintf(&b, "    @ %s (sha256 %.12s): %s\n", a.FileName, a.SHA256, a.Action)
		}
		if e := s.Exception; e != nil {
			switch {
			case e.AlreadyRaised:
				fmt.Fprintf(&b, "    ! %s %s already raised", e.Table, e.ID)
			default:
				fmt.Fprintf(&b, "    ! raise %s", e.Table)
			}
			if e.Stop {
				b.WriteString(", load stops")
			}
			b.WriteString("\n")
			for _, k := range sortedKeys(e.Fields) {
				fmt.Fprintf(&b, "      %s: %q\n", k, e.Fields[k])
			}
		}
		if s.Reason != "" {
			fmt.Fprintf(&b, "    reason: %s\n", s.Reason)
		}
	}
	var parts []string
	for _, a := range []Action{ActionInsert, ActionUpdate, ActionUnchanged, ActionException, ActionSkip, ActionFail} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	if !d.Changed() {
		parts = append(parts, "nothing to change")
	}
	fmt.Fprintf(&b, "%s\n", strings.Join(parts, ", "))
	return b.String()
}
