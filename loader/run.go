package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// run is one Apply or Preview.
type run struct {
	plan   *Plan
	target Target
	opts   Options
	dry    bool
	hash   string
	log    *slog.Logger
	src    *onceSource
	sem    chan struct{}

	steps   []*stepState
	byID    map[string]*stepState
	units   [][]*stepState
	lookups map[string]*lookupState

	// prior is the journal Apply was given (read-only); journal grows as
	// the load writes (guarded by mu).
	prior    Journal
	mu       sync.Mutex
	journal  Journal
	calls    Calls
	warnings []string
	warned   map[string]bool
	stopBy   string
	err      error
	stopped  chan struct{}
	stopOnce sync.Once

	saveMu    sync.Mutex
	deferSave bool
	// unsaved counts the writes done whose journal save (record) has not
	// finished; saved is signalled when it falls (both under mu). A write
	// starts only once it is zero, so that a failed save stops every
	// write after it, however the goroutines are scheduled.
	unsaved int
	saved   *sync.Cond
}

// stepState is the executor's view of one step. Fields other than step and
// ready are written by the goroutine that runs the step and read by others
// only after ready is closed.
type stepState struct {
	step  *Step
	index int
	// ready is closed once the step's record is resolved or known to be
	// unresolved; its attachments may still be uploading. Steps that
	// depend on it only need the record.
	ready     chan struct{}
	readyOnce sync.Once
	// waits are the steps that must finish first; refs those whose
	// records the step's own values reference.
	waits []*stepState
	refs  []*stepState

	res       StepResult
	match     map[string]string
	excFields map[string]string
	id        string
	resolved  bool
	// fresh: the record was inserted by this run (or would be, in a
	// preview), so nothing can reference it or be attached to it yet.
	fresh bool
}

func newRun(plan *Plan, target Target, journal Journal, opts Options, dry bool) (*run, error) {
	opts = opts.WithDefaults()
	if err := Validate(plan); err != nil {
		return nil, err
	}
	var probs []string
	if target == nil {
		probs = append(probs, "the target is nil")
	}
	for i := range plan.Steps {
		if len(plan.Steps[i].Attach) > 0 && opts.Attachments == nil {
			probs = append(probs, fmt.Sprintf("step %q attaches files but Options.Attachments is nil: pass the staging attachment source", plan.Steps[i].ID))
			break
		}
	}
	if len(probs) > 0 {
		return nil, &PlanError{Problems: probs}
	}
	hash, err := PlanHash(plan)
	if err != nil {
		return nil, err
	}
	if !journal.Empty() && journal.PlanHash != hash {
		return nil, fmt.Errorf("%w (journal for plan %.12s, this plan is %.12s): resume with the plan the journal was written for, or start with an empty journal (matches still prevent duplicates)",
			ErrJournalMismatch, journal.PlanHash, hash)
	}
	j := journal.Clone()
	j.PlanHash = hash
	if j.Steps == nil {
		j.Steps = map[string]JournalStep{}
	}
	r := &run{
		plan:    plan,
		target:  target,
		opts:    opts,
		dry:     dry,
		hash:    hash,
		log:     opts.Logger,
		sem:     make(chan struct{}, opts.Concurrency),
		byID:    map[string]*stepState{},
		lookups: map[string]*lookupState{},
		journal: j,
		prior:   j.Clone(),
		warned:  map[string]bool{},
		stopped: make(chan struct{}),
	}
	r.saved = sync.NewCond(&r.mu)
	if opts.Attachments != nil {
		r.src = &onceSource{src: opts.Attachments, m: map[string][]byte{}}
	}
	r.warnings = append(r.warnings, plan.Warnings...)
	for _, w := range plan.Warnings {
		r.warned[w] = true
	}
	r.build()
	return r, nil
}

// build links steps to their dependencies, groups foreach items and
// collects the plan's lookups.
func (r *run) build() {
	for i := range r.plan.Steps {
		s := &stepState{step: &r.plan.Steps[i], index: i, ready: make(chan struct{})}
		s.res = StepResult{ID: s.step.ID, Label: s.step.Label, Table: s.step.Table}
		r.steps = append(r.steps, s)
		r.byID[s.step.ID] = s
	}
	for _, s := range r.steps {
		waits := map[*stepState]bool{}
		for _, d := range s.step.DependsOn {
			waits[r.byID[d]] = true
		}
		refs := map[*stepState]bool{}
		for _, vals := range []map[string]Value{s.step.Match, s.step.Fields, s.step.OnInsert, s.step.OnUpdate} {
			for _, v := range vals {
				if v.Ref != "" {
					refs[r.byID[v.Ref]] = true
					waits[r.byID[v.Ref]] = true
				}
				r.addLookup(v.Lookup, s.step.ID)
			}
		}
		if e := s.step.Exception; e != nil {
			for _, vals := range []map[string]Value{e.Match, e.Fields} {
				for _, v := range vals {
					if v.Ref != "" {
						waits[r.byID[v.Ref]] = true
					}
					r.addLookup(v.Lookup, s.step.ID)
				}
			}
		}
		for _, o := range r.steps[:s.index] {
			if waits[o] {
				s.waits = append(s.waits, o)
			}
			if refs[o] {
				s.refs = append(s.refs, o)
			}
		}
	}
	r.units = groupUnits(r.steps)
}

// groupUnits puts the items of each foreach step into one unit, so they
// are found with one query, unless an item depends (even indirectly) on
// another item of the same step.
func groupUnits(steps []*stepState) [][]*stepState {
	anc := make([]map[*stepState]bool, len(steps))
	for i, s := range steps {
		anc[i] = map[*stepState]bool{}
		for _, w := range s.waits {
			anc[i][w] = true
			for a := range anc[w.index] {
				anc[i][a] = true
			}
		}
	}
	type gkey struct{ name, table string }
	groups := map[gkey][]*stepState{}
	for _, s := range steps {
		if s.step.Item != nil {
			k := gkey{s.step.Name, s.step.Table}
			groups[k] = append(groups[k], s)
		}
	}
	placed := map[*stepState]bool{}
	var units [][]*stepState
	for _, s := range steps {
		if placed[s] {
			continue
		}
		if s.step.Item != nil {
			g := groups[gkey{s.step.Name, s.step.Table}]
			ok := len(g) > 1
			for _, m := range g {
				for _, o := range g {
					if anc[m.index][o] {
						ok = false
					}
				}
			}
			if ok {
				for _, m := range g {
					placed[m] = true
				}
				units = append(units, g)
				continue
			}
		}
		placed[s] = true
		units = append(units, []*stepState{s})
	}
	return units
}

func (r *run) apply(ctx context.Context) (*Result, error) {
	if tt, ok := r.target.(Transactional); ok && !r.dry {
		tx, err := tt.Begin(ctx)
		if err != nil {
			err = r.failLoad(fmt.Errorf("loader: beginning a transaction: %w", err))
			return r.result(), err
		}
		r.target = tx
		r.deferSave = true
		before := r.journal.Clone()
		r.execute(ctx)
		if r.err != nil {
			if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
				r.log.Error("loader: rollback failed", "err", rbErr)
			}
			// Nothing of this run is durable: report the journal as it was.
			r.journal = before
			res := r.result()
			for i := range res.Steps {
				if res.Steps[i].Outcome == Inserted || res.Steps[i].Outcome == Updated {
					if !res.Steps[i].Resumed {
						res.Steps[i].Reason = "rolled back: " + r.err.Error()
					}
				}
			}
			return res, r.err
		}
		if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
			r.journal = before
			err = r.failLoad(fmt.Errorf("loader: committing the load: %w", err))
			return r.result(), err
		}
		if r.opts.OnWrite != nil && len(r.journal.Writes) > len(before.Writes) {
			if err := r.opts.OnWrite(context.WithoutCancel(ctx), r.journal.Clone()); err != nil {
				err = r.failLoad(fmt.Errorf("loader: saving the journal after commit: %w", err))
				return r.result(), err
			}
		}
		return r.result(), nil
	}
	r.execute(ctx)
	return r.result(), r.err
}

// execute runs every unit once its dependencies are done.
func (r *run) execute(ctx context.Context) {
	r.startLookups(ctx)
	var wg sync.WaitGroup
	for _, u := range r.units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range u {
				for _, w := range s.waits {
					<-w.ready
				}
			}
			if len(u) == 1 {
				r.runStep(ctx, u[0])
				return
			}
			r.runGroup(ctx, u)
		}()
	}
	wg.Wait()
	r.waitLookups()
}

// markReady tells the steps that depend on s that its record is settled.
func (s *stepState) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

func (r *run) result() *Result {
	res := &Result{Record: r.plan.Record}
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Journal = r.journal.Clone()
	res.Calls = r.calls
	res.Warnings = append([]string(nil), r.warnings...)
	res.StoppedBy = r.stopBy
	for _, s := range r.steps {
		res.Steps = append(res.Steps, s.res)
	}
	switch {
	case r.err != nil:
		res.Status = StatusFailed
		res.Error = r.err.Error()
	case r.stopBy != "":
		res.Status = StatusNeedsReview
	default:
		res.Status = StatusLoaded
		for _, s := range res.Steps {
			if s.Outcome == Exception || s.Outcome == Failed || (s.Outcome == Skipped && s.SupersededBy == "") {
				res.Status = StatusNeedsReview
			}
		}
	}
	return res
}

// stopAt ends the load after the exception of step: steps not yet started
// are skipped.
func (r *run) stopAt(step string) {
	r.mu.Lock()
	if r.stopBy == "" && r.err == nil {
		r.stopBy = step
	}
	r.mu.Unlock()
	r.stopOnce.Do(func() { close(r.stopped) })
}

// failLoad records the load's first error and stops it.
func (r *run) failLoad(err error) error {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	err = r.err
	r.mu.Unlock()
	r.stopOnce.Do(func() { close(r.stopped) })
	return err
}

// fail marks step s failed by err in op and fails the load.
func (r *run) fail(s *stepState, op string, err error) {
	if errors.Is(err, errNotRun) {
		s.res.Outcome = Skipped
		s.res.Changes = nil
		_, why := r.isStopped()
		s.res.Reason = "not run: " + why
		return
	}
	s.res.Outcome = Failed
	s.res.Reason = fmt.Sprintf("%s: %v", op, err)
	var se *StepError
	if !errors.As(err, &se) {
		err = &StepError{Step: s.step.ID, Op: op, Err: err}
	}
	r.failLoad(err)
}

func (r *run) isStopped() (bool, string) {
	select {
	case <-r.stopped:
	default:
		return false, ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return true, "the load failed: " + r.err.Error()
	}
	return true, "the load stopped at the exception of step " + r.stopBy
}

func (r *run) warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.warned[msg] {
		r.warned[msg] = true
		r.warnings = append(r.warnings, msg)
	}
}

// resolveStep records that step s is resolved (no write).
func (r *run) resolveStep(id string, js JournalStep) {
	if r.dry {
		return
	}
	r.mu.Lock()
	r.journal.Steps[id] = js
	r.mu.Unlock()
}

// record adds a completed write (and, when js is not nil, the step's
// resolution) to the journal and saves it.
func (r *run) record(ctx context.Context, w Write, js *JournalStep) error {
	r.mu.Lock()
	r.journal.Writes = append(r.journal.Writes, w)
	if js != nil {
		r.journal.Steps[w.Step] = *js
	}
	r.mu.Unlock()
	r.log.Info("loader: "+string(w.Op), "record", r.plan.Record, "step", w.Step, "table", w.Table, "target_id", w.TargetID, "file", w.FileName)
	if !r.savesEachWrite() {
		return nil
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	snap := r.journal.Clone()
	r.mu.Unlock()
	// The write is done: saving it must not be abandoned half-way because
	// the caller went away.
	err := r.opts.OnWrite(context.WithoutCancel(ctx), snap)
	if err != nil {
		err = r.failLoad(&StepError{Step: w.Step, Op: "journal", Err: fmt.Errorf("saving the journal after %s of %s %s failed: %w", w.Op, w.Table, w.TargetID, err)})
	}
	r.mu.Lock()
	if r.unsaved > 0 { // a write found after an unknown outcome was not counted
		r.unsaved--
	}
	r.saved.Broadcast()
	r.mu.Unlock()
	return err
}

// savesEachWrite reports whether record saves the journal after each
// write (rather than once after the commit, or not at all).
func (r *run) savesEachWrite() bool { return !r.deferSave && r.opts.OnWrite != nil && !r.dry }
