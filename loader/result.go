package loader

import (
	"fmt"
	"strings"
)

// Status is the overall state a load ended in. It maps one to one onto the
// staging states loaded, needs_review and load_failed.
type Status string

// The states a load ends in.
const (
	// StatusLoaded: every step reached its record and nothing needs a
	// person's attention.
	StatusLoaded Status = "loaded"
	// StatusNeedsReview: the load raised an exception (and stopped when
	// the exception says so, see Result.StoppedBy), or left steps undone by
	// policy or a failed require condition. Nothing is broken; someone has
	// to look.
	StatusNeedsReview Status = "needs_review"
	// StatusFailed: an error ended the load (the target refused a call, a
	// step's match was ambiguous with policy "fail", the journal could not
	// be saved). Fix the cause and apply again with the journal.
	StatusFailed Status = "failed"
)

// Outcome is what happened to one step.
type Outcome string

// The outcomes of a step.
const (
	Inserted  Outcome = "inserted"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	// Exception: the step raised (or found already raised) its exception
	// record instead of writing its own.
	Exception Outcome = "exception"
	// Skipped: not done, by the "skip" policy, because a step it depends
	// on is not resolved, or because the load stopped before it.
	Skipped Outcome = "skipped"
	// Failed: a require condition failed at planning and the step has no
	// exception to raise, or the step's own call failed.
	Failed Outcome = "failed"
)

// Result reports a load.
type Result struct {
	Record string `json:"record"`
	Status Status `json:"status"`
	// StoppedBy is the ID of the step whose exception stopped the load.
	StoppedBy string `json:"stopped_by,omitempty"`
	// Error is the text of the error that failed the load.
	Error    string       `json:"error,omitempty"`
	Steps    []StepResult `json:"steps"`
	Warnings []string     `json:"warnings,omitempty"`
	Calls    Calls        `json:"calls"`
	// Journal is the journal after the load; persist it (OnWrite has
	// already been given every state of it that followed a write).
	Journal Journal `json:"journal"`
}

// StepResult is what happened to one step.
type StepResult struct {
	ID string `json:"id"`
	// Label is the plan step's Label: what the record is, for people.
	Label   string  `json:"label,omitempty"`
	Table   string  `json:"table"`
	Outcome Outcome `json:"outcome"`
	// TargetID is the id of the step's record.
	TargetID string `json:"target_id,omitempty"`
	// Resumed is set when the outcome was taken from the journal of an
	// earlier run instead of being looked up again.
	Resumed bool `json:"resumed,omitempty"`
	// Changes are the fields written: every field for an insert, the
	// fields that differed for an update.
	Changes     []Change           `json:"changes,omitempty"`
	Attachments []AttachmentResult `json:"attachments,omitempty"`
	Exception   *ExceptionResult   `json:"exception,omitempty"`
	// Reason says why the step raised an exception, was skipped or failed.
	Reason string `json:"reason,omitempty"`
	// SupersededBy names the later item of the same foreach step that
	// matches the same record and writes it instead of this one (the
	// plan warns about such items); such a skip needs no review.
	SupersededBy string `json:"superseded_by,omitempty"`
}

// Change is one field's value before and after.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// AttachAction is what happened to one attachment of a step.
type AttachAction string

// The actions on an attachment.
const (
	// AttachUploaded: the file was uploaded (in a preview: would be).
	AttachUploaded AttachAction = "upload"
	// AttachPresent: a file with the same name and SHA-256 is already on
	// the record.
	AttachPresent AttachAction = "present"
	// AttachResumed: the journal records the upload by an earlier run.
	AttachResumed AttachAction = "resumed"
	// AttachSkipped: the step's record was not resolved.
	AttachSkipped AttachAction = "skipped"
)

// AttachmentResult is what happened to one attachment of a step.
type AttachmentResult struct {
	// ID is the staging attachment id.
	ID       string       `json:"id"`
	FileName string       `json:"file_name"`
	SHA256   string       `json:"sha256"`
	Action   AttachAction `json:"action"`
	// TargetID is the id of the stored file, when known.
	TargetID string `json:"target_id,omitempty"`
}

// ExceptionResult describes the exception record a step raised.
type ExceptionResult struct {
	Table string `json:"table"`
	// ID is the exception record's id (empty in a preview of a new one,
	// or when the step has no exception record to raise).
	ID string `json:"id,omitempty"`
	// AlreadyRaised: an earlier run raised it; nothing was written.
	AlreadyRaised bool `json:"already_raised,omitempty"`
	Stop          bool `json:"stop,omitempty"`
}

// Calls counts the target calls a load made.
type Calls struct {
	// Find counts the lookups of step and exception matches (a foreach
	// step's items share one), Lookup the reads of load-time values.
	Find        int `json:"find"`
	Lookup      int `json:"lookup"`
	Insert      int `json:"insert"`
	Update      int `json:"update"`
	Attach      int `json:"attach"`
	Attachments int `json:"attachments"`
}

// Total is the number of target calls.
func (c Calls) Total() int {
	return c.Find + c.Lookup + c.Insert + c.Update + c.Attach + c.Attachments
}

// Writes is the number of writing calls.
func (c Calls) Writes() int { return c.Insert + c.Update + c.Attach }

func (c Calls) String() string {
	return fmt.Sprintf("%d calls (%d find, %d lookup, %d insert, %d update, %d attach, %d list attachments)",
		c.Total(), c.Find, c.Lookup, c.Insert, c.Update, c.Attach, c.Attachments)
}

// Changed reports whether this run wrote anything to the target.
func (r *Result) Changed() bool { return r.Calls.Writes() > 0 }

// Count returns how many steps ended with outcome o.
func (r *Result) Count(o Outcome) int {
	n := 0
	for _, s := range r.Steps {
		if s.Outcome == o {
			n++
		}
	}
	return n
}

// Summary is a one-line account of the load for logs and the console.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Record, r.Status)
	if r.StoppedBy != "" {
		fmt.Fprintf(&b, " (stopped by %s)", r.StoppedBy)
	}
	parts := []string{}
	for _, o := range []Outcome{Inserted, Updated, Unchanged, Exception, Skipped, Failed} {
		if n := r.Count(o); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	up := 0
	for _, s := range r.Steps {
		for _, a := range s.Attachments {
			if a.Action == AttachUploaded {
				up++
			}
		}
	}
	if up > 0 {
		fmt.Fprintf(&b, ", %d file(s) uploaded", up)
	}
	if r.Status == StatusLoaded && !r.Changed() && r.Count(Inserted)+r.Count(Updated) == 0 {
		b.WriteString("; nothing to change")
	}
	return b.String()
}
