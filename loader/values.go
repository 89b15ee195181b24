package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newRecordRef is how a preview shows the id of a record it would insert.
func newRecordRef(step string) string { return "(new " + step + ")" }

type callKind int

// errNotRun is returned for a write that was not sent because the load
// had already failed.
var errNotRun = errors.New("not run: the load failed before this write")

const (
	callFind callKind = iota
	callLookup
	callInsert
	callUpdate
	callAttach
	callAttachments
)

// detached is the context of a write already decided: ctx's values
// without its end, ended WriteGrace after ctx ends (never, without a
// grace), so that a write is not cut off half-way by the load's end.
func (r *run) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if r.opts.WriteGrace <= 0 {
		return out, cancel
	}
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(r.opts.WriteGrace, cancel)
		context.AfterFunc(out, func() { t.Stop() })
	})
	return out, func() { stop(); cancel() }
}

// call runs fn as one target call: it waits for a slot under
// Options.Concurrency and counts the call. A write starts only while ctx
// is live, but runs on a context that ctx's end does not cancel: a write
// already sent completes (within the target's own timeouts, and
// Options.WriteGrace) and is journaled, rather than being cut off with
// its outcome unknown.
func (r *run) call(ctx context.Context, kind callKind, fn func(ctx context.Context) error) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-r.sem }()
	write := kind == callInsert || kind == callUpdate || kind == callAttach
	r.mu.Lock()
	for write && r.unsaved > 0 && r.err == nil {
		// A write waits for the journal saves of the writes before it.
		r.saved.Wait()
	}
	if kind >= callInsert && r.err != nil {
		// The load has failed: no write starts after that.
		r.mu.Unlock()
		return errNotRun
	}
	callCtx := ctx
	if write {
		if err := context.Cause(ctx); err != nil {
			r.mu.Unlock()
			return err
		}
		var cancel context.CancelFunc
		callCtx, cancel = r.detached(ctx)
		defer cancel()
	}
	switch kind {
	case callFind:
		r.calls.Find++
	case callLookup:
		r.calls.Lookup++
	case callInsert:
		r.calls.Insert++
	case callUpdate:
		r.calls.Update++
	case callAttach:
		r.calls.Attach++
	case callAttachments:
		r.calls.Attachments++
	}
	r.mu.Unlock()
	err := fn(callCtx)
	if err == nil && write && r.savesEachWrite() {
		r.mu.Lock()
		r.unsaved++ // record, which the caller runs next, saves it
		r.mu.Unlock()
	}
	return err
}

func (r *run) find(ctx context.Context, kind callKind, q Query) ([]Record, error) {
	var recs []Record
	err := r.call(ctx, kind, func(ctx context.Context) (err error) {
		recs, err = r.target.Find(ctx, q)
		return err
	})
	return recs, err
}

// values resolves vals: literals as they are, references to the id of the
// referenced step's record, lookups to the value read from the target. A
// lookup that finds nothing leaves its field out (its warning goes into
// the result). With lenient, a reference to an unresolved step leaves its
// field out too; otherwise it is an error.
func (r *run) values(ctx context.Context, vals map[string]Value, lenient bool) (map[string]string, error) {
	out := make(map[string]string, len(vals))
	for _, k := range sortedKeys(vals) {
		v := vals[k]
		switch {
		case v.Lookup != nil:
			val, ok, err := r.lookup(ctx, v.Lookup)
			if err != nil {
				return nil, err
			}
			if ok {
				out[k] = val
			}
		case v.Ref != "":
			dep := r.byID[v.Ref]
			if !dep.resolved {
				if lenient {
					continue
				}
				return nil, fmt.Errorf("field %s references step %s, which has no record", k, v.Ref)
			}
			out[k] = dep.id
		default:
			out[k] = v.Literal
		}
	}
	return out, nil
}

// refsFresh reports whether a value of vals references a record this run
// inserted (or would insert): no existing record can hold its id yet.
func (r *run) refsFresh(vals map[string]Value) bool {
	for _, v := range vals {
		if v.Ref != "" {
			if dep := r.byID[v.Ref]; dep.resolved && dep.fresh {
				return true
			}
		}
	}
	return false
}

// lookupState is one distinct lookup of the plan, read once per load.
type lookupState struct {
	l       *Lookup
	once    sync.Once
	started atomic.Bool
	done    chan struct{}
	val     string
	ok      bool
	err     error
	// needed: a step that is not resumed from the journal uses it.
	needed bool
}

func (r *run) startLookup(ctx context.Context, st *lookupState) {
	st.once.Do(func() {
		st.started.Store(true)
		go func() {
			defer close(st.done)
			st.val, st.ok, st.err = r.readLookup(ctx, st.l)
		}()
	})
}

func lookupKey(l *Lookup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s", l.Table, l.Field, l.Pick)
	for _, k := range sortedKeys(l.Where) {
		fmt.Fprintf(&b, "|%s=%q", k, l.Where[k])
	}
	return b.String()
}

func (r *run) addLookup(l *Lookup, step string) {
	if l == nil {
		return
	}
	k := lookupKey(l)
	st, ok := r.lookups[k]
	if !ok {
		st = &lookupState{l: l, done: make(chan struct{})}
		r.lookups[k] = st
	}
	if _, resumed := r.prior.Steps[step]; !resumed || r.dry {
		st.needed = true
	}
}

// startLookups reads the lookups of the steps still to do concurrently
// with the first steps, so a step that needs one does not wait a round
// trip for it.
func (r *run) startLookups(ctx context.Context) {
	for _, st := range r.lookups {
		if st.needed {
			r.startLookup(ctx, st)
		}
	}
}

func (r *run) waitLookups() {
	for _, st := range r.lookups {
		if st.started.Load() {
			<-st.done
		}
	}
}

func (r *run) lookup(ctx context.Context, l *Lookup) (string, bool, error) {
	st := r.lookups[lookupKey(l)]
	r.startLookup(ctx, st)
	select {
	case <-st.done:
	case <-ctx.Done():
		return "", false, context.Cause(ctx)
	}
	if st.err != nil {
		return "", false, fmt.Errorf("lookup of %s.%s: %w", l.Table, l.Field, st.err)
	}
	if !st.ok {
		msg := l.Warning
		if msg == "" {
			msg = fmt.Sprintf("no value found for %s.%s where %s; the field is left empty", l.Table, l.Field, whereString(l.Where))
		}
		r.warn(msg)
	}
	return st.val, st.ok, nil
}

func (r *run) readLookup(ctx context.Context, l *Lookup) (string, bool, error) {
	q := Query{Table: l.Table, Where: []map[string]string{l.Where}, Fields: []string{l.Field}}
	if l.Pick == PickOnly {
		q.Limit = 2
	}
	recs, err := r.find(ctx, callLookup, q)
	if err != nil {
		return "", false, err
	}
	switch l.Pick {
	case PickOnly:
		if len(recs) != 1 || recs[0].Fields[l.Field] == "" {
			return "", false, nil
		}
		return recs[0].Fields[l.Field], true, nil
	default:
		best, bestN, found := "", 0.0, false
		for _, rec := range recs {
			s := rec.Fields[l.Field]
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				continue
			}
			if !found || n > bestN || (n == bestN && s < best) {
				best, bestN, found = s, n, true
			}
		}
		return best, found, nil
	}
}

func whereString(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// compareFields are the fields a step reads from its existing record:
// the match fields and every field an update may set.
func compareFields(s *Step) []string {
	set := map[string]bool{}
	for _, m := range []map[string]Value{s.Match, s.Fields, s.OnUpdate} {
		for k := range m {
			set[k] = true
		}
	}
	return sortedKeys(set)
}

// matches reports whether rec has every value of match.
func matches(rec Record, match map[string]string) bool {
	for k, v := range match {
		if rec.Fields[k] != v {
			return false
		}
	}
	return true
}
