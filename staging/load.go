package staging

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// The load lifecycle. The loader (or the server's job running it) calls
// StartLoad when the operator presses "SFDC Data", SaveJournal after each
// write to the target, and FinishLoad, FailLoad or MarkNeedsReview at the
// end. The journal is the loader's and opaque here; it is kept across
// attempts so that a retry resumes instead of writing again.

// StartLoad moves a loadable record (ready, load_failed, or loaded and
// changed since) to loading, counts the attempt and clears
// ChangedSinceLoad. A second press while loading is refused with a
// *TransitionError.
//
// With Reload, a loaded record that has not changed starts again too, and
// the history entry names the rules and the rows they no longer write.
func (s *Store) StartLoad(ctx context.Context, id int64, opts ...Option) (*Record, error) {
	reload := newCallOptions(opts).reload
	return s.change(ctx, id, ActionStartLoad, opts, func(r *Record) event {
		from := r.State
		changed := r.ChangedSinceLoad
		now := s.clock()
		r.Load.Attempts++
		r.Load.StartedAt, r.Load.Error = now, ""
		r.Load.Retries, r.Load.NextTryAt = 0, time.Time{}
		r.ChangedSinceLoad = false
		s.setState(r, StateLoading)
		msg := "load started"
		data := map[string]string{"attempt": itoa(int64(r.Load.Attempts))}
		switch {
		case from == StateLoaded && reload != nil:
			msg = reloadMessage(reload, changed)
			data["reload"] = "true"
			data["rules"], data["rules_hash"] = reload.RulesName, reload.RulesHash
			if len(reload.NotWritten) > 0 {
				data["not_written"] = strings.Join(reload.NotWritten, "; ")
			}
		case from == StateLoaded:
			msg += " again: the record changed since its last load"
		}
		return event{kind: EventLoadStarted, from: from, to: r.State, message: msg, data: data}
	})
}

// SaveJournal stores the loader's journal (JSON, opaque to staging) while
// the record is loading. It writes no history event.
func (s *Store) SaveJournal(ctx context.Context, id int64, journal json.RawMessage, opts ...Option) error {
	if err := checkJSON("journal", journal, true); err != nil {
		return err
	}
	_, err := s.change(ctx, id, ActionSaveJournal, opts, func(r *Record) event {
		r.Load.Journal = append(json.RawMessage(nil), journal...)
		return event{}
	})
	return err
}

// FinishLoad marks a loading record loaded and stores the load's result
// (JSON with the target record ids, defined by the loader).
func (s *Store) FinishLoad(ctx context.Context, id int64, result json.RawMessage, opts ...Option) (*Record, error) {
	if err := checkJSON("result", result, true); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionFinishLoad, opts, func(r *Record) event {
		from := r.State
		now := s.clock()
		r.Load.Result = append(json.RawMessage(nil), result...)
		r.Load.FinishedAt, r.Load.LoadedAt = now, now
		r.Load.Error, r.Load.NextTryAt = "", time.Time{}
		s.setState(r, StateLoaded)
		msg := "load finished"
		if r.ChangedSinceLoad {
			msg += "; the record changed during the load and can be loaded again"
		}
		return event{kind: EventLoadFinished, from: from, to: r.State, message: msg,
			data: map[string]string{"attempt": itoa(int64(r.Load.Attempts))}}
	})
}

// FailLoad marks a loading record load_failed with the reason; journal,
// when not empty, replaces the saved one. The record can be loaded again.
func (s *Store) FailLoad(ctx context.Context, id int64, reason string, journal json.RawMessage, opts ...Option) (*Record, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	if err := checkJSON("journal", journal, false); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionFailLoad, opts, func(r *Record) event {
		from := r.State
		if len(journal) > 0 {
			r.Load.Journal = append(json.RawMessage(nil), journal...)
		}
		r.Load.FinishedAt, r.Load.Error = s.clock(), reason
		r.Load.NextTryAt = time.Time{}
		s.setState(r, StateLoadFailed)
		return event{kind: EventLoadFailed, from: from, to: r.State, message: "load failed: " + reason,
			data: map[string]string{"attempt": itoa(int64(r.Load.Attempts))}}
	})
}

// RetryLoad records a transient failure of a loading record's load (the
// target unreachable, overloaded or timing out) and when it is tried
// again: the record stays loading, its journal (when not empty) replaces
// the saved one, Retries counts the failure, Error holds the reason and
// NextTryAt the time. The history says so.
func (s *Store) RetryLoad(ctx context.Context, id int64, reason string, next time.Time, journal json.RawMessage, opts ...Option) (*Record, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	if err := checkJSON("journal", journal, false); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionRetryLoad, opts, func(r *Record) event {
		if len(journal) > 0 {
			r.Load.Journal = append(json.RawMessage(nil), journal...)
		}
		r.Load.Retries++
		r.Load.Error, r.Load.NextTryAt = reason, next.UTC().Truncate(time.Second)
		return event{kind: EventLoadRetrying, from: r.State, to: r.State,
			message: "load will be tried again at " + r.Load.NextTryAt.Format("2006-01-02 15:04:05 UTC") + ": " + reason,
			data:    map[string]string{"attempt": itoa(int64(r.Load.Attempts)), "retries": itoa(int64(r.Load.Retries))}}
	})
}

// MarkNeedsReview puts a record in needs_review with the reason: a load
// that raised an exception instead of guessing (an ambiguous company
// match), or an operator who flags it. From loading, journal (when not
// empty) replaces the saved one and the load counts as finished. Resolve
// it with RetryReview.
func (s *Store) MarkNeedsReview(ctx context.Context, id int64, reason string, journal json.RawMessage, opts ...Option) (*Record, error) {
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	if err := checkJSON("journal", journal, false); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionMarkNeedsReview, opts, func(r *Record) event {
		from := r.State
		src := ReviewOperator
		if from == StateLoading {
			src = ReviewLoad
			r.Load.FinishedAt, r.Load.Error = s.clock(), reason
			r.Load.NextTryAt = time.Time{}
			if len(journal) > 0 {
				r.Load.Journal = append(json.RawMessage(nil), journal...)
			}
		}
		r.Review = &Review{Source: src, Reason: reason, RaisedAt: s.clock()}
		s.setState(r, StateNeedsReview)
		return event{kind: EventNeedsReview, from: from, to: r.State, message: reason}
	})
}

// change runs one checked action on record id: lock, check version and
// state, apply, save, record the event (when apply returns one).
func (s *Store) change(ctx context.Context, id int64, action Action, opts []Option, apply func(*Record) event) (*Record, error) {
	o := newCallOptions(opts)
	return write(ctx, s, &o, func(ctx context.Context, tx bun.Tx) (*Record, *Record, error) {
		r, err := s.lockForAction(ctx, tx, &o, id, action)
		if err != nil {
			return nil, nil, err
		}
		ev := apply(r)
		if err := s.saveRecord(ctx, tx, r); err != nil {
			return nil, nil, err
		}
		if ev.kind != "" {
			if err := s.addEvent(ctx, tx, &o, r.ID, ev); err != nil {
				return nil, nil, err
			}
		}
		return r, r, nil
	})
}

func checkJSON(what string, b json.RawMessage, required bool) error {
	if len(b) == 0 && !required {
		return nil
	}
	if !json.Valid(b) {
		return &InputError{What: what, Problems: []string{"the " + what + " must be valid JSON"}}
	}
	return nil
}

func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return &InputError{What: "reason", Problems: []string{"say why, for the operator and the history"}}
	}
	return nil
}

// reloadMessage is the history line of a reload.
func reloadMessage(info *ReloadInfo, changed bool) string {
	reason := strings.TrimSpace(info.Reason)
	if reason == "" {
		reason = "reload with the rules in use"
	}
	msg := "load started again (" + reason + ")"
	if info.RulesHash != "" {
		msg += " with rules " + info.RulesName + " (sha256 " + info.RulesHash + ")"
	}
	if changed {
		msg += "; the record had also changed since its last load"
	}
	if n := len(info.NotWritten); n > 0 {
		msg += "; " + itoa(int64(n)) + " row(s) the last load wrote are no longer written and are kept in the target: " + strings.Join(info.NotWritten, "; ")
	}
	return msg
}
