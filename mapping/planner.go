package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/bookbridge/bookbridge/loader"
)

// Failure tells exception fields why the exception is raised; they read
// it as failure (failure.reason, failure.step, ...).
type Failure struct {
	// Kind is "multiple" when the step's match may find several records,
	// "require" when one of its require conditions failed.
	Kind string `expr:"kind" json:"kind"`
	// Step is the rule step's name, ID the plan step's (skus[3]).
	Step  string `expr:"step" json:"step"`
	ID    string `expr:"id" json:"id"`
	Table string `expr:"table" json:"table"`
	// Reason is a sentence: which records match on what, or the require
	// messages.
	Reason string `expr:"reason" json:"reason"`
	// Match holds the step's literal match values (references as
	// "ref:STEP"), empty for a require failure.
	Match map[string]string `expr:"match" json:"match"`
}

// The kinds of Failure.
const (
	FailureMultiple = "multiple"
	FailureRequire  = "require"
)

// run is the state of one Plan call.
type run struct {
	r    *Rules
	vm   vm.VM
	memo *Memo // nil: every expression is evaluated
	// index is the foreach item's position, -1 outside a foreach.
	index int
	env   map[string]any
	vars  map[string]any
	refs  map[string]any
	plan  *loader.Plan
	// used lists the steps the values of the record being planned
	// reference (ref.NAME), for its DependsOn.
	used []string
}

// Plan turns one staged record into a load plan. The result depends only
// on the rules, the params and in: the same input gives byte-identical
// JSON. An expression that fails for this record gives a *PlanError.
func (r *Rules) Plan(in Input) (*loader.Plan, error) {
	sf := in.SFDC
	if sf == nil {
		sf = map[string]any{}
	}
	params := r.paramsEnv
	if params == nil {
		params = map[string]any{}
	}
	rec := in.Record
	pm := planMapsPool.Get().(*planMaps)
	defer pm.release()
	x := &run{
		r:     r,
		vm:    vm.VM{MemoryBudget: r.budget},
		memo:  in.Memo,
		index: -1,
		vars:  pm.vars,
		refs:  pm.refs,
		env:   pm.env,
	}
	fillPH(pm.ph, in.PH)
	x.env["sfdc"], x.env["ph"], x.env["record"], x.env["now"] = sf, pm.ph, &rec, in.Now
	x.env["params"], x.env["vars"], x.env["ref"] = params, x.vars, x.refs
	if r.flatEnv {
		addEnvFuncs(x.env)
	}
	x.plan = &loader.Plan{
		Rules: r.name, RulesHash: r.hash, Record: in.Record.Number, Now: in.Now,
		Params: maps.Clone(r.values), Steps: make([]loader.Step, 0, len(r.steps)+8),
	}
	memo := in.Memo
	for _, v := range r.vars {
		out, err := x.eval(v.prog)
		if err != nil {
			return nil, err
		}
		x.setVar(v, out)
	}
	if ws, ok := memo.warningsOf(r.warningsFP); ok {
		x.plan.Warnings = append(x.plan.Warnings, ws...)
	} else {
		for _, w := range r.warnings {
			if err := x.warning(w); err != nil {
				return nil, err
			}
		}
		if memo != nil && r.warningsFP != "" {
			memo.warnings[r.warningsFP] = slices.Clip(x.plan.Warnings)
		}
	}
	for _, k := range r.phUnread {
		if v := in.PH[k]; strings.TrimSpace(v) != "" {
			x.plan.Warnings = append(x.plan.Warnings, fmt.Sprintf("the email's %s has a value that no rule reads: it is not loaded (read ph.%s in the rules, or name it under ph_not_loaded)", k, k))
		}
	}
	for _, s := range r.steps {
		if err := x.step(s); err != nil {
			return nil, err
		}
	}
	return x.plan, nil
}

// planMaps are the maps of a plan's environment, which Plan calls take
// from planMapsPool and give back empty: no plan holds one of them (values
// that expressions yield are turned into the plan's own values), and a
// plan then allocates only what it returns.
type planMaps struct {
	env, vars, refs, ph map[string]any
}

// addEnvFuncs puts in env the functions that patched programs call by
// name (envFuncs).
func addEnvFuncs(env map[string]any) {
	for _, f := range envFuncs {
		env[f.name] = f.fn
	}
}

var planMapsPool = sync.Pool{New: func() any {
	return &planMaps{env: map[string]any{}, vars: map[string]any{}, refs: map[string]any{}, ph: make(map[string]any, len(PHFields))}
}}

// release empties the maps, so that the pool holds no record's values,
// and gives them back.
func (pm *planMaps) release() {
	clear(pm.env)
	clear(pm.vars)
	clear(pm.refs)
	clear(pm.ph)
	planMapsPool.Put(pm)
}

// setVar sets var v to out, under vars and, in a flat environment, under
// its own name.
func (x *run) setVar(v *varDef, out any) {
	x.vars[v.name] = out
	if x.r.flatEnv {
		x.env[v.key] = out
	}
}

// warning adds warning w to the plan, once or per element of its foreach.
func (x *run) warning(w *warningDef) error {
	if w.foreach == nil {
		return x.warnOnce(w)
	}
	out, err := x.eval(w.foreach)
	if err != nil || out == nil {
		return err
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return x.fail(w.foreach, fmt.Errorf("foreach must yield a list, got %s", describe(out)))
	}
	defer x.leaveItem()
	for i := 0; i < rv.Len(); i++ {
		x.enterItem(rv.Index(i).Interface(), i)
		if err := x.warnOnce(w); err != nil {
			return err
		}
	}
	return nil
}

func (x *run) warnOnce(w *warningDef) error {
	if w.when != nil {
		ok, err := x.evalBool(w.when)
		if err != nil || !ok {
			return err
		}
	}
	out, err := x.eval(w.message)
	if err != nil {
		return err
	}
	if s, ok, err := toText(out); err != nil {
		return x.fail(w.message, err)
	} else if ok && s != "" {
		x.plan.Warnings = append(x.plan.Warnings, s)
	}
	return nil
}

// enterItem makes item and index read element i of a foreach list.
func (x *run) enterItem(item any, i int) {
	x.env["item"] = item
	x.env["index"] = i
	x.index = i
}

func (x *run) leaveItem() {
	delete(x.env, "item")
	delete(x.env, "index")
	x.index = -1
}

// eval runs p, or takes its value from the Memo when p's value is shared
// and was computed before for this Input.
func (x *run) eval(p *program) (any, error) {
	if x.memo == nil || !p.shared {
		return x.evalNow(p)
	}
	k := x.key(p.fp, p.perItem, p.refs)
	if out, ok := x.memo.vals[k]; ok {
		return out, nil
	}
	out, err := x.evalNow(p)
	if err == nil {
		x.memo.vals[k] = out
	}
	return out, err
}

// key is the Memo's key of a value with fingerprint fp in this plan's
// state: the foreach position when it reads the item, and which of the
// steps refs the plan has made.
func (x *run) key(fp [16]byte, perItem bool, refs []string) memoKey {
	k := memoKey{fp: fp, item: -1}
	if perItem {
		k.item = x.index
	}
	for i, name := range refs {
		if _, ok := x.refs[name]; ok {
			k.refs |= 1 << i
		}
	}
	return k
}

func (x *run) evalNow(p *program) (any, error) {
	out, err := x.vm.Run(p.run, x.env)
	if err != nil {
		return nil, x.fail(p, err)
	}
	return out, nil
}

func (x *run) evalBool(p *program) (bool, error) {
	out, err := x.eval(p)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, x.fail(p, fmt.Errorf("the condition must be true or false, got %s", describe(out)))
	}
	return b, nil
}

// fail wraps an error of program p with its position in the rule file.
func (x *run) fail(p *program, err error) error {
	at := nodePos(p.node)
	var fe *file.Error
	if errors.As(err, &fe) {
		at = x.r.srcPos(p, fe.From)
		err = errors.New(fe.Message)
	}
	return &PlanError{File: x.r.name, Line: at.line, Col: at.col, Where: p.where, Err: err}
}

func (x *run) step(s *stepDef) error {
	if s.foreach == nil {
		x.leaveItem()
		return x.emit(s, nil)
	}
	out, err := x.eval(s.foreach)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return x.fail(s.foreach, fmt.Errorf("foreach must yield a list, got %s", describe(out)))
	}
	first := len(x.plan.Steps)
	for i := 0; i < rv.Len(); i++ {
		x.enterItem(rv.Index(i).Interface(), i)
		idx := i
		if err := x.emit(s, &idx); err != nil {
			return err
		}
	}
	x.leaveItem()
	x.warnDuplicateMatches(s, x.plan.Steps[first:])
	return nil
}

// emit plans one record of step s (one item of a foreach step).
func (x *run) emit(s *stepDef, item *int) error {
	id := s.name
	if item != nil {
		id = s.name + "[" + strconv.Itoa(*item) + "]"
	}
	if s.when != nil {
		ok, err := x.evalBool(s.when)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
	st := loader.Step{ID: id, Name: s.name, Item: item, Table: s.table, OnMultiple: s.onMultiple, Match: map[string]loader.Value{}}
	x.used = x.used[:0]
	if s.label != nil {
		out, err := x.eval(s.label)
		if err != nil {
			return err
		}
		if st.Label, _, err = toText(out); err != nil {
			return x.fail(s.label, err)
		}
	}
	var failed []string
	for _, rq := range s.require {
		ok, err := x.evalBool(rq.check)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		out, err := x.eval(rq.message)
		if err != nil {
			return err
		}
		msg, _, err := toText(out)
		if err != nil {
			return x.fail(rq.message, err)
		}
		failed = append(failed, msg)
	}
	if len(failed) == 0 {
		var err error
		if st.Match, err = x.values(s.match, &s.groups[groupMatch], true); err != nil {
			return err
		}
		for _, f := range s.match {
			if _, ok := st.Match[f.name]; !ok {
				failed = append(failed, fmt.Sprintf("the match field %s has no value", f.name))
			}
		}
		if st.Fields, err = x.values(s.fields, &s.groups[groupFields], false); err != nil {
			return err
		}
		if st.OnInsert, err = x.values(s.onInsert, &s.groups[groupOnInsert], false); err != nil {
			return err
		}
		if st.OnUpdate, err = x.values(s.onUpdate, &s.groups[groupOnUpdate], false); err != nil {
			return err
		}
		st.OnInsert = x.withMatch(&s.withMatch, st.OnInsert, st.Match)
		if s.attach != nil {
			if st.Attach, err = x.attachments(s.attach, id); err != nil {
				return err
			}
		}
	}
	if len(failed) > 0 {
		st.Failed = strings.Join(failed, "; ")
		st.Match, st.Fields, st.OnInsert, st.OnUpdate, st.Attach = map[string]loader.Value{}, nil, nil, nil, nil
		x.used = x.used[:0]
	}
	if s.exception != nil && (st.Failed != "" || s.onMultiple == loader.OnMultipleException) {
		exc, err := x.stepException(s, &st)
		if err != nil {
			return err
		}
		st.Exception = exc
	}
	st.DependsOn = dependsOn(x.used, x.plan.Steps)
	x.plan.Steps = append(x.plan.Steps, st)
	if item == nil {
		ref := &loader.Value{Ref: id}
		x.refs[s.name] = ref
		if x.r.flatEnv {
			x.env[s.refKey] = ref
		}
	}
	return nil
}

// multipleReason says which records a match finds.
func multipleReason(table string, match map[string]loader.Value) string {
	return "several " + table + " records match " + matchText(match)
}

// matchText writes match values as k=v, field names sorted.
func matchText(match map[string]loader.Value) string {
	keys := make([]string, 0, len(match))
	for k := range match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + match[k].String()
	}
	return strings.Join(parts, ", ")
}

// values evaluates a group of fields; nil results are left out. With a
// Memo, a group whose fields can all be kept is evaluated once per Input
// and its map shared by the plans: the planner never changes a map that
// values returned (see withMatch).
func (x *run) values(fs []fieldDef, g *groupMemo, keepEmpty bool) (map[string]loader.Value, error) {
	if len(fs) == 0 {
		if keepEmpty {
			return map[string]loader.Value{}, nil
		}
		return nil, nil
	}
	if x.memo == nil || !g.shared {
		return x.valuesNow(fs, keepEmpty)
	}
	k := x.key(g.fp, g.perItem, g.refs)
	if out, ok := x.memo.vals[k]; ok {
		m, _ := out.(map[string]loader.Value)
		for _, v := range m {
			if v.Ref != "" {
				x.used = append(x.used, v.Ref)
			}
		}
		return m, nil
	}
	m, err := x.valuesNow(fs, keepEmpty)
	if err == nil {
		x.memo.vals[k] = m
	}
	return m, err
}

func (x *run) valuesNow(fs []fieldDef, keepEmpty bool) (map[string]loader.Value, error) {
	out := make(map[string]loader.Value, len(fs))
	for _, f := range fs {
		res, err := x.eval(f.prog)
		if err != nil {
			return nil, err
		}
		v, ok, err := toValue(res)
		if err != nil {
			return nil, x.fail(f.prog, err)
		}
		if ok {
			out[f.name] = v
			if v.Ref != "" {
				x.used = append(x.used, v.Ref)
			}
		}
	}
	if len(out) == 0 && !keepEmpty {
		return nil, nil
	}
	return out, nil
}

// withMatch returns a step's on_insert values with its match values added
// (a record the step creates gets them), in a map of its own, which the
// plans of one Input share when g is shared.
func (x *run) withMatch(g *groupMemo, onInsert, match map[string]loader.Value) map[string]loader.Value {
	if len(match) == 0 {
		return onInsert
	}
	var k memoKey
	if x.memo != nil && g.shared {
		k = x.key(g.fp, g.perItem, g.refs)
		if out, ok := x.memo.vals[k]; ok {
			m, _ := out.(map[string]loader.Value)
			return m
		}
	}
	out := make(map[string]loader.Value, len(onInsert)+len(match))
	maps.Copy(out, onInsert)
	maps.Copy(out, match)
	if x.memo != nil && g.shared {
		x.memo.vals[k] = out
	}
	return out
}

// stepException makes the exception record of step s (planned as st): for
// a failed require, or for the case that its match finds several records.
// The latter, which every such step carries, the plans of one Input share
// when the step's match values and exception are kept alike.
func (x *run) stepException(s *stepDef, st *loader.Step) (*loader.ExceptionRecord, error) {
	fail := &Failure{Step: s.name, ID: st.ID, Table: s.table, Match: map[string]string{}}
	if st.Failed != "" {
		fail.Kind, fail.Reason = FailureRequire, st.Failed
		return x.exception(s.exception, fail)
	}
	g := &s.excMemo
	var k memoKey
	if x.memo != nil && g.shared {
		k = x.key(g.fp, g.perItem, g.refs)
		if out, ok := x.memo.vals[k]; ok {
			exc, _ := out.(*loader.ExceptionRecord)
			for _, m := range []map[string]loader.Value{exc.Fields, exc.Match} {
				for _, v := range m {
					if v.Ref != "" {
						x.used = append(x.used, v.Ref)
					}
				}
			}
			return exc, nil
		}
	}
	fail.Kind = FailureMultiple
	for k, v := range st.Match {
		fail.Match[k] = v.String()
	}
	fail.Reason = multipleReason(s.table, st.Match)
	exc, err := x.exception(s.exception, fail)
	if err == nil && x.memo != nil && g.shared {
		x.memo.vals[k] = exc
	}
	return exc, err
}

func (x *run) exception(d *exceptionDef, fail *Failure) (*loader.ExceptionRecord, error) {
	x.env["failure"] = fail
	defer delete(x.env, "failure")
	fields, err := x.values(d.fields, &d.groups[1], true)
	if err != nil {
		return nil, err
	}
	exc := &loader.ExceptionRecord{Table: d.table, Fields: fields, Stop: d.stop}
	if len(d.matchFields) > 0 {
		exc.Match = map[string]loader.Value{}
		for _, f := range d.matchFields {
			if v, ok := fields[f]; ok {
				exc.Match[f] = v
			}
		}
	} else if exc.Match, err = x.values(d.match, &d.groups[0], false); err != nil {
		return nil, err
	}
	return exc, nil
}

// attachments evaluates an attach list; files not usable are left out
// with a warning, each file is attached once.
func (x *run) attachments(p *program, id string) ([]loader.Attachment, error) {
	out, err := x.eval(p)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, x.fail(p, fmt.Errorf("attach must yield a list of record.attachments, got %s", describe(out)))
	}
	var list []loader.Attachment
	seen := map[string]bool{}
	for i := 0; i < rv.Len(); i++ {
		var a *AttachmentInfo
		switch v := rv.Index(i).Interface().(type) {
		case AttachmentInfo:
			a = &v
		case *AttachmentInfo:
			a = v
		}
		if a == nil {
			return nil, x.fail(p, fmt.Errorf("attach element %d is %s, not one of record.attachments", i, describe(rv.Index(i).Interface())))
		}
		if !a.Usable {
			x.plan.Warnings = append(x.plan.Warnings, fmt.Sprintf("step %s: attachment %s (%s) is kept as evidence only and is not sent", id, a.FileName, a.ID))
			continue
		}
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		list = append(list, loader.Attachment{ID: a.ID, FileName: a.FileName, ContentType: a.ContentType, SHA256: a.SHA256, Size: a.Size})
	}
	return list, nil
}

// dependsOn lists the earlier steps that used (the step ids a step's
// values reference) names, in plan order.
func dependsOn(used []string, earlier []loader.Step) []string {
	if len(used) == 0 {
		return nil
	}
	var out []string
	for _, e := range earlier {
		if slices.Contains(used, e.ID) {
			out = append(out, e.ID)
		}
	}
	return out
}

// warnDuplicateMatches warns when two items of a foreach step match the
// same record: the second would update what the first wrote.
func (x *run) warnDuplicateMatches(s *stepDef, steps []loader.Step) {
	if len(s.match) == 0 {
		return
	}
	seen := map[string]string{}
	for _, st := range steps {
		if st.Failed != "" {
			continue
		}
		key := matchKey(st.Match)
		if prev, dup := seen[key]; dup {
			x.plan.Warnings = append(x.plan.Warnings, fmt.Sprintf("steps %s and %s match the same %s record (%s); the second updates what the first wrote", prev, st.ID, st.Table, matchText(st.Match)))
			continue
		}
		seen[key] = st.ID
	}
}

// matchKey is a key that two match maps share exactly when their JSON is
// the same. Literal and reference values write it directly; a lookup, or
// text that is not UTF-8 (JSON replaces it), falls back to the JSON.
func matchKey(m map[string]loader.Value) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v.Lookup != nil || !utf8.ValidString(k) || !utf8.ValidString(v.Ref) || !utf8.ValidString(v.Literal) {
			b, _ := json.Marshal(m)
			return "json:" + string(b)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v := m[k]
		kind, text := "l", v.Literal
		if v.Ref != "" {
			kind, text = "r", v.Ref
		}
		b.WriteString(strconv.Itoa(len(k)))
		b.WriteByte(':')
		b.WriteString(k)
		b.WriteString(kind)
		b.WriteString(strconv.Itoa(len(text)))
		b.WriteByte(':')
		b.WriteString(text)
	}
	return b.String()
}

// srcPos maps rune offset k of p's expression to the rule file.
func (r *Rules) srcPos(p *program, k int) pos {
	if r.src == nil {
		return nodePos(p.node)
	}
	return r.src.offsetPos(p.node, k)
}
