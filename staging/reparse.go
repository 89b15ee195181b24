package staging

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"
)

// ReparseEmail re-applies the PH email last applied to record id as a
// parser in use now reads it: e is that email's raw message (RawEmail of
// the record's PH.EmailID) parsed again. Its fields replace the record's
// PH fields and warnings; its files replace the record's files of that
// email (a file with the same name and bytes keeps its id, so journals
// still name it; files the parser no longer yields are removed from the
// record, the raw message keeps them). The history says what changed, and
// a loaded record becomes changed since load when anything did. A record
// without an email, merged, or loading is refused with a *TransitionError.
// changed is false (and nothing is written) when the parse gives what the
// record holds already.
func (s *Store) ReparseEmail(ctx context.Context, id int64, e Email, opts ...Option) (rec *Record, changed bool, err error) {
	o := newCallOptions(opts)
	rec, err = write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (*Record, *Record, error) {
		changed = false
		r, err := s.lockForAction(ctx, tx, &o, id, ActionReparseEmail)
		if err != nil {
			return nil, nil, err
		}
		if r.PH == nil {
			return nil, nil, &TransitionError{Record: r.Number, Action: ActionReparseEmail, State: r.State,
				Allowed: AllowedFrom(ActionReparseEmail), Reason: "the record has no PH email to parse again"}
		}
		what := phChanges(r.PH, &e)
		files, err := s.reparseFiles(ctx, tx, r, e.Attachments)
		if err != nil {
			return nil, nil, err
		}
		what = append(what, files...)
		if len(what) == 0 {
			return r, nil, nil
		}
		changed = true
		from := r.State
		r.PH.Fields = maps.Clone(e.Fields)
		r.PH.Warnings = slices.Clone(e.Warnings)
		msg := "PH email " + itoa(r.PH.EmailID) + " parsed again: " + strings.Join(what, "; ")
		if r.State == StateLoaded {
			r.ChangedSinceLoad = true
			msg += "; changed since load, it can be loaded again"
		}
		if err := s.saveRecord(ctx, tx, r); err != nil {
			return nil, nil, err
		}
		if err := s.addEvent(ctx, tx, &o, r.ID, event{kind: EventEmailReparsed, from: from, to: r.State, message: msg,
			data: emailData(r.PH)}); err != nil {
			return nil, nil, err
		}
		return r, r, nil
	})
	return rec, changed, err
}

// phChanges lists the PH fields that differ between ph and e, as
// "field: old -> new", in name order.
func phChanges(ph *PHData, e *Email) []string {
	var out []string
	keys := slices.Sorted(maps.Keys(ph.Fields))
	for k := range e.Fields {
		if _, ok := ph.Fields[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		old, had := ph.Fields[k]
		now, has := e.Fields[k]
		if old == now && had == has {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %q -> %q", k, old, now))
	}
	if !slices.Equal(ph.Warnings, e.Warnings) {
		out = append(out, fmt.Sprintf("warnings: %d -> %d", len(ph.Warnings), len(e.Warnings)))
	}
	return out
}

// reparseFiles makes r's files of its PH email those of files: a file
// with the same sanitized name and bytes is updated in place, a new one
// added, one no longer there removed. It returns what changed.
func (s *Store) reparseFiles(ctx context.Context, tx bun.IDB, r *Record, files []EmailAttachment) ([]string, error) {
	emailID := r.PH.EmailID
	var kept []Attachment
	old := map[string]Attachment{}
	for _, a := range r.Attachments {
		if a.EmailID == emailID {
			old[a.FileName+"\x00"+a.SHA256] = a
		} else {
			kept = append(kept, a)
		}
	}
	var what, added []string
	var add []EmailAttachment
	seen := map[string]bool{}
	for _, f := range files {
		name := SanitizeFileName(f.FileName)
		key := name + "\x00" + f.SHA256
		a, ok := old[key]
		if !ok || seen[key] {
			add = append(add, f)
			added = append(added, name)
			continue
		}
		seen[key] = true
		ct := cleanContentType(f.ContentType)
		if a.Usable != f.Usable || a.ContentType != ct || !slices.Equal(a.Warnings, f.Warnings) {
			if _, err := tx.NewUpdate().Model((*attachmentRow)(nil)).
				Set("usable = ?", f.Usable).Set("content_type = ?", ct).Set("warnings = ?", jsonList(f.Warnings)).
				Where("id = ?", a.ID).Exec(ctx); err != nil {
				return nil, fmt.Errorf("staging: updating attachment %q: %w", name, err)
			}
			what = append(what, fmt.Sprintf("file %s: usable %t -> %t", name, a.Usable, f.Usable))
			a.Usable, a.ContentType, a.Warnings = f.Usable, ct, slices.Clone(f.Warnings)
		}
		kept = append(kept, a)
	}
	for key, a := range old {
		if seen[key] {
			continue
		}
		if _, err := tx.NewDelete().Model((*attachmentRow)(nil)).Where("id = ?", a.ID).Exec(ctx); err != nil {
			return nil, fmt.Errorf("staging: removing attachment %q: %w", a.FileName, err)
		}
		what = append(what, "file "+a.FileName+" removed")
	}
	slices.SortFunc(kept, func(a, b Attachment) int { return int(a.ID - b.ID) })
	r.Attachments = kept
	if err := s.addAttachments(ctx, tx, r, emailID, add); err != nil {
		return nil, err
	}
	for _, n := range added {
		what = append(what, "file "+n+" added")
	}
	return what, nil
}
