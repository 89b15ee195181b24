package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// runStep runs one step that is not part of a foreach group.
func (r *run) runStep(ctx context.Context, s *stepState) {
	defer s.markReady()
	if !r.settle(ctx, s) {
		s.markReady()
		r.attach(ctx, s)
		return
	}
	var found []Record
	if !r.refsFresh(s.step.Match) {
		var err error
		found, err = r.find(ctx, callFind, Query{Table: s.step.Table, Where: []map[string]string{s.match}, Fields: compareFields(s.step), Limit: 2})
		if err != nil {
			r.fail(s, "find", err)
			return
		}
	}
	r.decide(ctx, s, found)
}

// runGroup runs the items of one foreach step: their records are found
// with one query, then each item is written on its own.
func (r *run) runGroup(ctx context.Context, unit []*stepState) {
	defer func() {
		for _, s := range unit {
			s.markReady()
		}
	}()
	var need, settled []*stepState
	for _, s := range unit {
		if r.settle(ctx, s) {
			need = append(need, s)
		} else {
			settled = append(settled, s)
			s.markReady()
		}
	}
	// Items with the same match share one record: the last one writes it,
	// the earlier ones are superseded, so a load writes it once and a
	// re-run finds it unchanged.
	last := map[string]*stepState{}
	for _, s := range need {
		last[whereString(s.match)] = s
	}
	for _, s := range need {
		k := whereString(s.match)
		if w := last[k]; w != s {
			s.res.Outcome = Skipped
			s.res.SupersededBy = w.step.ID
			s.res.Reason = fmt.Sprintf("superseded by %s, which matches the same %s record (%s)", w.step.ID, s.step.Table, k)
		}
	}
	need = slices.DeleteFunc(need, func(s *stepState) bool { return s.res.Outcome != "" })
	if stop, why := r.isStopped(); stop {
		for _, s := range need {
			s.res.Outcome = Skipped
			s.res.Reason = "not run: " + why
		}
		need = nil
	}
	var lookup []*stepState
	for _, s := range need {
		if !r.refsFresh(s.step.Match) {
			lookup = append(lookup, s)
		}
	}
	found, err := r.findGroup(ctx, lookup)
	if err != nil {
		for _, s := range need {
			r.fail(s, "find", err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, s := range settled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.attach(ctx, s)
		}()
	}
	for _, s := range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.decide(ctx, s, found[s])
		}()
	}
	wg.Wait()
}

// findGroup finds the records of several items with one query. When the
// answer may be cut short by the limit, it asks item by item instead.
func (r *run) findGroup(ctx context.Context, items []*stepState) (map[*stepState][]Record, error) {
	found := map[*stepState][]Record{}
	if len(items) == 0 {
		return found, nil
	}
	fields := map[string]bool{}
	q := Query{Table: items[0].step.Table, Limit: 2*len(items) + 1}
	for _, s := range items {
		q.Where = append(q.Where, s.match)
		for _, f := range compareFields(s.step) {
			fields[f] = true
		}
	}
	q.Fields = sortedKeys(fields)
	if len(items) == 1 {
		q.Limit = 2
	}
	recs, err := r.find(ctx, callFind, q)
	if err != nil {
		return nil, err
	}
	if len(items) == 1 || len(recs) < q.Limit {
		for _, rec := range recs {
			for _, s := range items {
				if matches(rec, s.match) {
					found[s] = append(found[s], rec)
				}
			}
		}
		return found, nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for _, s := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := r.find(ctx, callFind, Query{Table: s.step.Table, Where: []map[string]string{s.match}, Fields: compareFields(s.step), Limit: 2})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			found[s] = recs
		}()
	}
	wg.Wait()
	return found, firstErr
}

// settle handles a step that needs no lookup of its own: resumed from the
// journal, not run because the load stopped, failed at planning, or
// depending on an unresolved step. Otherwise it resolves the step's match
// and reports true.
func (r *run) settle(ctx context.Context, s *stepState) bool {
	if js, ok := r.prior.Steps[s.step.ID]; ok && !r.dry {
		s.res.Outcome = js.Outcome
		s.res.TargetID = js.TargetID
		s.res.Resumed = true
		switch js.Outcome {
		case Inserted, Updated, Unchanged:
			s.id, s.resolved = js.TargetID, true
		case Exception:
			s.res.Reason = "raised by an earlier run"
			if e := s.step.Exception; e != nil {
				s.res.Exception = &ExceptionResult{Table: js.ExceptionTable, ID: js.ExceptionID, AlreadyRaised: true, Stop: e.Stop}
				if e.Stop {
					r.stopAt(s.step.ID)
				}
			}
		}
		return false
	}
	if err := ctx.Err(); err != nil {
		r.failLoad(context.Cause(ctx))
	}
	if stop, why := r.isStopped(); stop {
		s.res.Outcome = Skipped
		s.res.Reason = "not run: " + why
		return false
	}
	if s.step.Failed != "" {
		r.raise(ctx, s, "require failed: "+s.step.Failed)
		return false
	}
	for _, d := range s.refs {
		if !d.resolved {
			s.res.Outcome = Skipped
			s.res.Reason = fmt.Sprintf("depends on step %s, which has no record (%s)", d.step.ID, d.res.Outcome)
			return false
		}
	}
	m, err := r.values(ctx, s.step.Match, false)
	if err != nil {
		r.fail(s, "match", err)
		return false
	}
	if len(m) == 0 {
		r.fail(s, "match", errors.New("every match value is empty (a lookup found nothing); refusing to match every record"))
		return false
	}
	s.match = m
	return true
}

// decide inserts, updates or handles several matches, then attaches.
func (r *run) decide(ctx context.Context, s *stepState, found []Record) {
	switch len(found) {
	case 0:
		r.insert(ctx, s)
	case 1:
		r.update(ctx, s, found[0])
	default:
		r.multiple(ctx, s, len(found))
	}
	s.markReady()
	r.attach(ctx, s)
}

func (r *run) insert(ctx context.Context, s *stepState) {
	fields := map[string]string{}
	for _, vals := range []map[string]Value{s.step.Fields, s.step.OnInsert} {
		v, err := r.values(ctx, vals, false)
		if err != nil {
			r.fail(s, "insert", err)
			return
		}
		maps.Copy(fields, v)
	}
	// The match values are written too, so that the next run finds the
	// record (Validate rejects fields that contradict them).
	maps.Copy(fields, s.match)
	s.res.Outcome = Inserted
	for _, k := range sortedKeys(fields) {
		s.res.Changes = append(s.res.Changes, Change{Field: k, New: fields[k]})
	}
	if r.dry {
		s.id, s.resolved, s.fresh = newRecordRef(s.step.ID), true, true
		s.res.TargetID = ""
		return
	}
	rec, err := r.insertVerified(ctx, s.step.Table, fields, s.match)
	if err != nil {
		r.fail(s, "insert", err)
		return
	}
	s.id, s.resolved, s.fresh = rec.ID, true, true
	s.res.TargetID = rec.ID
	r.checkStored(s.step.Table, fields, rec)
	_ = r.record(ctx, Write{Step: s.step.ID, Op: OpInsert, Table: s.step.Table, TargetID: rec.ID, Fields: sortedKeys(fields)},
		&JournalStep{Outcome: Inserted, TargetID: rec.ID})
}

// insertVerified inserts, and when the outcome of the insert is unknown
// looks for the record before it sends the insert again.
func (r *run) insertVerified(ctx context.Context, table string, fields, match map[string]string) (Record, error) {
	for attempt := 0; ; attempt++ {
		var rec Record
		err := r.call(ctx, callInsert, func(ctx context.Context) (err error) {
			rec, err = r.target.Insert(ctx, table, fields)
			return err
		})
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, ErrOutcomeUnknown) || len(match) == 0 || attempt >= r.opts.UnknownOutcomeRetries {
			return Record{}, err
		}
		r.log.Warn("loader: insert outcome unknown; looking for the record before trying again", "table", table, "err", err)
		recs, ferr := r.find(ctx, callFind, Query{Table: table, Where: []map[string]string{match}, Fields: sortedKeys(fields), Limit: 2})
		if ferr != nil {
			return Record{}, fmt.Errorf("%w; then looking for the record failed: %v", err, ferr)
		}
		switch len(recs) {
		case 0:
			continue
		case 1:
			return recs[0], nil
		default:
			return Record{}, fmt.Errorf("%w; then several %s records matched: check them by hand", err, table)
		}
	}
}

// checkStored warns when the target did not store a value as sent: a field
// the table does not have, or a value the target rewrote (a later run would
// then find a difference and update it again).
func (r *run) checkStored(table string, sent map[string]string, rec Record) {
	if rec.Fields == nil {
		return
	}
	for _, k := range sortedKeys(sent) {
		got, ok := rec.Fields[k]
		switch {
		case !ok:
			r.warn(fmt.Sprintf("%s.%s was not stored: the target ignored the field (is it in the table?)", table, k))
		case got != sent[k]:
			r.warn(fmt.Sprintf("%s.%s was sent as %q and stored as %q; later loads will see a difference and update it again", table, k, sent[k], got))
		}
	}
}

func (r *run) update(ctx context.Context, s *stepState, existing Record) {
	desired := map[string]string{}
	for _, vals := range []map[string]Value{s.step.Fields, s.step.OnUpdate} {
		v, err := r.values(ctx, vals, false)
		if err != nil {
			r.fail(s, "update", err)
			return
		}
		maps.Copy(desired, v)
	}
	changed := map[string]string{}
	for _, k := range sortedKeys(desired) {
		if _, isMatch := s.match[k]; isMatch {
			continue
		}
		if old := existing.Fields[k]; old != desired[k] {
			s.res.Changes = append(s.res.Changes, Change{Field: k, Old: old, New: desired[k]})
			changed[k] = desired[k]
		}
	}
	s.res.TargetID = existing.ID
	if len(changed) == 0 {
		s.res.Outcome = Unchanged
		s.id, s.resolved = existing.ID, true
		r.resolveStep(s.step.ID, JournalStep{Outcome: Unchanged, TargetID: existing.ID})
		return
	}
	s.res.Outcome = Updated
	if r.dry {
		s.id, s.resolved = existing.ID, true
		return
	}
	var rec Record
	err := r.call(ctx, callUpdate, func(ctx context.Context) (err error) {
		rec, err = r.target.Update(ctx, s.step.Table, existing.ID, changed)
		return err
	})
	if err != nil {
		r.fail(s, "update", err)
		return
	}
	s.id, s.resolved = existing.ID, true
	r.checkStored(s.step.Table, changed, rec)
	_ = r.record(ctx, Write{Step: s.step.ID, Op: OpUpdate, Table: s.step.Table, TargetID: existing.ID, Fields: sortedKeys(changed)},
		&JournalStep{Outcome: Updated, TargetID: existing.ID})
}

func (r *run) multiple(ctx context.Context, s *stepState, n int) {
	reason := fmt.Sprintf("%d or more %s records match %s", n, s.step.Table, whereString(s.match))
	switch s.step.OnMultiple {
	case OnMultipleSkip:
		s.res.Outcome = Skipped
		s.res.Reason = reason + "; skipped by policy"
	case OnMultipleFail:
		r.fail(s, "find", fmt.Errorf("%w: %s", ErrMultipleMatches, reason))
	default:
		r.raise(ctx, s, reason)
	}
}

// raise raises the step's exception record unless one raised earlier is
// found by the exception's match.
func (r *run) raise(ctx context.Context, s *stepState, reason string) {
	s.res.Outcome = Exception
	s.res.Reason = reason
	e := s.step.Exception
	if e == nil {
		if s.step.Failed != "" {
			s.res.Outcome = Failed
		}
		return
	}
	er := &ExceptionResult{Table: e.Table, Stop: e.Stop}
	s.res.Exception = er
	if e.Stop {
		r.stopAt(s.step.ID)
	}
	m, err := r.values(ctx, e.Match, true)
	if err != nil {
		r.fail(s, "exception", err)
		return
	}
	f, err := r.values(ctx, e.Fields, true)
	if err != nil {
		r.fail(s, "exception", err)
		return
	}
	fields := maps.Clone(f)
	maps.Copy(fields, m)
	s.excFields = fields
	if len(m) > 0 && !r.refsFresh(e.Match) {
		recs, err := r.find(ctx, callFind, Query{Table: e.Table, Where: []map[string]string{m}, Fields: sortedKeys(m), Limit: 1})
		if err != nil {
			r.fail(s, "exception", err)
			return
		}
		if len(recs) > 0 {
			er.ID, er.AlreadyRaised = recs[0].ID, true
			r.resolveStep(s.step.ID, JournalStep{Outcome: Exception, ExceptionTable: e.Table, ExceptionID: recs[0].ID})
			return
		}
	}
	if r.dry {
		return
	}
	rec, err := r.insertVerified(ctx, e.Table, fields, m)
	if err != nil {
		r.fail(s, "exception", err)
		return
	}
	er.ID = rec.ID
	_ = r.record(ctx, Write{Step: s.step.ID, Op: OpException, Table: e.Table, TargetID: rec.ID, Fields: sortedKeys(fields)},
		&JournalStep{Outcome: Exception, ExceptionTable: e.Table, ExceptionID: rec.ID})
}

// attach puts the step's attachments onto its record.
func (r *run) attach(ctx context.Context, s *stepState) {
	atts := s.step.Attach
	if len(atts) == 0 {
		return
	}
	s.res.Attachments = make([]AttachmentResult, len(atts))
	var todo []int
	for i, a := range atts {
		s.res.Attachments[i] = AttachmentResult{ID: a.ID, FileName: a.FileName, SHA256: strings.ToLower(a.SHA256), Action: AttachSkipped}
		if !s.resolved {
			continue
		}
		if !r.dry && r.prior.attached(s.step.ID, a.ID) {
			s.res.Attachments[i].Action = AttachResumed
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return
	}
	if stop, _ := r.isStopped(); stop && !r.dry {
		return
	}
	var present []AttachmentInfo
	if !s.fresh {
		err := r.call(ctx, callAttachments, func(ctx context.Context) (err error) {
			present, err = r.target.Attachments(ctx, s.step.Table, s.id)
			return err
		})
		if err != nil {
			r.fail(s, "attachments", err)
			return
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for _, i := range todo {
		a := atts[i]
		if info, ok := hasFile(present, a.FileName, a.SHA256); ok {
			s.res.Attachments[i].Action = AttachPresent
			s.res.Attachments[i].TargetID = info.ID
			continue
		}
		if r.dry {
			s.res.Attachments[i].Action = AttachUploaded
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := r.upload(ctx, s, a)
			if errors.Is(err, errNotRun) {
				return
			}
			if err != nil {
				r.failLoad(&StepError{Step: s.step.ID, Op: "attach " + a.FileName, Err: err})
				mu.Lock()
				errs = append(errs, fmt.Sprintf("attach %s: %v", a.FileName, err))
				mu.Unlock()
				return
			}
			s.res.Attachments[i].Action = AttachUploaded
			s.res.Attachments[i].TargetID = info.ID
			_ = r.record(ctx, Write{Step: s.step.ID, Op: OpAttach, Table: s.step.Table, TargetID: s.id, Attachment: a.ID, FileName: a.FileName, AttachmentID: info.ID}, nil)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.Sort(errs)
		s.res.Reason = strings.Join(errs, "; ")
	}
}

func hasFile(present []AttachmentInfo, name, sum string) (AttachmentInfo, bool) {
	for _, p := range present {
		if p.Name == name && strings.EqualFold(p.SHA256, sum) {
			return p, true
		}
	}
	return AttachmentInfo{}, false
}

// upload reads one staging attachment, checks it against the plan's
// SHA-256 and uploads it; when the outcome of the upload is unknown it
// looks at the record's files before it uploads again.
func (r *run) upload(ctx context.Context, s *stepState, a Attachment) (AttachmentInfo, error) {
	data, err := r.src.Open(ctx, a.ID)
	if err != nil {
		return AttachmentInfo{}, fmt.Errorf("reading staging attachment %s: %w", a.ID, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, a.SHA256) {
		return AttachmentInfo{}, fmt.Errorf("%w: staging attachment %s (%s) has sha256 %s, the plan expects %s; plan the record again", ErrAttachmentChanged, a.ID, a.FileName, got, strings.ToLower(a.SHA256))
	}
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	file := File{Name: a.FileName, ContentType: ct, Content: data}
	for attempt := 0; ; attempt++ {
		var info AttachmentInfo
		err := r.call(ctx, callAttach, func(ctx context.Context) (err error) {
			info, err = r.target.Attach(ctx, s.step.Table, s.id, file)
			return err
		})
		if err == nil {
			return info, nil
		}
		if !errors.Is(err, ErrOutcomeUnknown) || attempt >= r.opts.UnknownOutcomeRetries {
			return AttachmentInfo{}, err
		}
		var present []AttachmentInfo
		lerr := r.call(ctx, callAttachments, func(ctx context.Context) (err error) {
			present, err = r.target.Attachments(ctx, s.step.Table, s.id)
			return err
		})
		if lerr != nil {
			return AttachmentInfo{}, fmt.Errorf("%w; then listing the record's files failed: %v", err, lerr)
		}
		if info, ok := hasFile(present, a.FileName, a.SHA256); ok {
			return info, nil
		}
	}
}
