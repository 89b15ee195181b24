package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

// jobStateWords says a River job state the way an operator reads it: the
// one place where River's states (available, scheduled, pending, running,
// retryable, completed, discarded, cancelled) become queued, running,
// retrying, done and failed. A scheduled job is a load waiting for its
// next try (a snoozed or retried job); bookbridge schedules nothing else.
func jobStateWords(state string) string {
	switch state {
	case "available", "pending":
		return "queued"
	case "running":
		return "running"
	case "scheduled", "retryable":
		return "retrying"
	case "completed":
		return "done"
	case "discarded", "cancelled":
		return "failed"
	}
	return state
}

// jobDone reports whether River will not work the job again.
func jobDone(state string) bool {
	return state == "completed" || state == "discarded" || state == "cancelled"
}

// plural writes n with a noun in the singular or plural form.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// resultWords is a load's result in words: "inserted 9 rows, updated 0,
// uploaded Contract_DR00004711.pdf", with the unchanged, exception,
// skipped and failed steps named only when there are any.
func resultWords(res *loader.Result) string {
	parts := []string{"inserted " + plural(res.Count(loader.Inserted), "row", "rows"),
		fmt.Sprintf("updated %d", res.Count(loader.Updated))}
	if n := res.Count(loader.Unchanged); n > 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", n))
	}
	if n := res.Count(loader.Exception); n > 0 {
		parts = append(parts, "raised "+plural(n, "exception", "exceptions"))
	}
	if n := res.Count(loader.Skipped); n > 0 {
		parts = append(parts, fmt.Sprintf("skipped %d", n))
	}
	if n := res.Count(loader.Failed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", n))
	}
	var up, kept []string
	for _, s := range res.Steps {
		for _, a := range s.Attachments {
			switch a.Action {
			case loader.AttachUploaded, loader.AttachResumed:
				up = append(up, a.FileName)
			case loader.AttachPresent:
				kept = append(kept, a.FileName)
			}
		}
	}
	if len(up) > 0 {
		parts = append(parts, "uploaded "+strings.Join(up, ", "))
	}
	if len(kept) > 0 {
		parts = append(parts, strings.Join(kept, ", ")+" already there")
	}
	return strings.Join(parts, ", ")
}

// attachWords says what happened to a file of a finished load.
func attachWords(a loader.AttachAction) string {
	switch a {
	case loader.AttachUploaded:
		return "uploaded"
	case loader.AttachPresent:
		return "already on the record"
	case loader.AttachResumed:
		return "uploaded by an earlier try"
	case loader.AttachSkipped:
		return "not uploaded: its record was not reached"
	}
	return string(a)
}

// previewAttachWords says what the load would do with a file.
func previewAttachWords(a loader.AttachAction) string {
	switch a {
	case loader.AttachUploaded:
		return "will be uploaded"
	case loader.AttachPresent:
		return "already on the record: not uploaded again"
	case loader.AttachResumed:
		return "uploaded by an earlier try"
	case loader.AttachSkipped:
		return "will not be uploaded: its record is not reached"
	}
	return string(a)
}

// writeWords says what a completed write of a load did.
func writeWords(w loader.Write) string {
	switch w.Op {
	case loader.OpInsert:
		return "inserted"
	case loader.OpUpdate:
		return "updated"
	case loader.OpAttach:
		if w.FileName != "" {
			return "attached " + w.FileName
		}
		return "attached a file"
	case loader.OpException:
		return "raised an exception record"
	}
	return string(w.Op)
}

// until says how far ahead t is, by the app's clock: "in 2m", "in 1h 5m",
// or "due now" once it has passed.
func (c *Console) until(t time.Time) string {
	d := t.Sub(c.app.Now())
	if d < time.Minute {
		if d <= 0 {
			return "due now"
		}
		return "in less than a minute"
	}
	return "in " + formatAge(d)
}
