package bookbridge

import (
	"context"
	"maps"
	"slices"

	"github.com/bookbridge/bookbridge/staging"
)

// ReparseResult is what parsing a record's kept email again with the
// parser in use changes.
type ReparseResult struct {
	ID      int64  `json:"id"`
	Number  string `json:"number"`
	EmailID int64  `json:"email_id"`
	// Fields are the PH fields whose value changes, in name order.
	Fields []PHFieldChange `json:"fields"`
	// Attachments are the files that are added, removed or whose
	// usability changes.
	Attachments []AttachmentChange `json:"attachments"`
	// Applied says the record was updated (not a dry run, and something
	// changed).
	Applied bool `json:"applied"`
	// ChangedSinceLoad says the record, loaded before, is now loadable
	// again.
	ChangedSinceLoad bool `json:"changed_since_load,omitempty"`
}

// Changed reports whether the parse gives anything new.
func (r *ReparseResult) Changed() bool { return len(r.Fields) > 0 || len(r.Attachments) > 0 }

// PHFieldChange is a PH field whose value changes.
type PHFieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// AttachmentChange is a file of the email whose staging changes: added,
// removed, usable or unusable.
type AttachmentChange struct {
	FileName string `json:"file_name"`
	SHA256   string `json:"sha256"`
	Change   string `json:"change"`
}

// Reparse parses the raw email kept on a record (its PH data's email)
// again with the Flow's parser and says which PH fields and files change.
// Unless dryRun, it updates the record (staging.ReparseEmail): a history
// entry, and "changed since load" when it was loaded. A record without an
// email is a *NotLoadableError; an email the parser now rejects is the
// parser's error, and nothing changes.
func (f *Flow) Reparse(ctx context.Context, recordID int64, dryRun bool, opts ...staging.Option) (ReparseResult, error) {
	rec, err := f.cfg.Store.Get(ctx, recordID)
	if err != nil {
		return ReparseResult{}, err
	}
	res := ReparseResult{ID: rec.ID, Number: rec.Number, Fields: []PHFieldChange{}, Attachments: []AttachmentChange{}}
	if rec.PH == nil {
		return res, &NotLoadableError{Record: rec.Number, Reason: "it has no PH email to parse again"}
	}
	res.EmailID = rec.PH.EmailID
	raw, err := f.cfg.Store.RawEmail(ctx, rec.PH.EmailID)
	if err != nil {
		return res, err
	}
	msg, err := f.cfg.Parser.ParseContext(ctx, raw)
	if err != nil {
		return res, err
	}
	e := stagingEmail(msg, raw)
	res.Fields = phFieldChanges(rec.PH.Fields, e.Fields)
	res.Attachments = attachmentChanges(rec, e)
	if dryRun || !res.Changed() {
		return res, nil
	}
	after, changed, err := f.cfg.Store.ReparseEmail(ctx, rec.ID, e, opts...)
	if err != nil {
		return res, err
	}
	res.Applied = changed
	res.ChangedSinceLoad = after != nil && after.State == staging.StateLoaded && after.ChangedSinceLoad
	f.log.InfoContext(ctx, "re-parsed a kept PH email", "record", rec.Number, "fields", len(res.Fields), "files", len(res.Attachments))
	return res, nil
}

func phFieldChanges(old, now map[string]string) []PHFieldChange {
	out := []PHFieldChange{}
	keys := slices.Collect(maps.Keys(old))
	for k := range now {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if old[k] != now[k] {
			out = append(out, PHFieldChange{Field: k, Old: old[k], New: now[k]})
		}
	}
	return out
}

func attachmentChanges(rec *staging.Record, e staging.Email) []AttachmentChange {
	out := []AttachmentChange{}
	old := map[string]staging.Attachment{}
	for _, a := range rec.Attachments {
		if a.EmailID == rec.PH.EmailID {
			old[a.FileName+"\x00"+a.SHA256] = a
		}
	}
	seen := map[string]bool{}
	for _, f := range e.Attachments {
		name := staging.SanitizeFileName(f.FileName)
		key := name + "\x00" + f.SHA256
		a, ok := old[key]
		switch {
		case !ok || seen[key]:
			out = append(out, AttachmentChange{FileName: name, SHA256: f.SHA256, Change: "added"})
		case a.Usable != f.Usable && f.Usable:
			out = append(out, AttachmentChange{FileName: name, SHA256: f.SHA256, Change: "now usable"})
		case a.Usable != f.Usable:
			out = append(out, AttachmentChange{FileName: name, SHA256: f.SHA256, Change: "now kept as evidence only"})
		}
		seen[key] = true
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if !seen[k] {
			a := old[k]
			out = append(out, AttachmentChange{FileName: a.FileName, SHA256: a.SHA256, Change: "removed"})
		}
	}
	return out
}
