package bookbridge

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// impactPage is how many records Impact reads from the store at a time;
// the first page is smaller, so that the workers start sooner.
const (
	impactFirstPage = 100
	impactPage      = 1000
)

// ImpactOptions selects the records Impact plans and the time it plans
// them at.
type ImpactOptions struct {
	// States keeps records in these states. Default: the records that have
	// been loaded (state loaded, or a load finished once: Load.LoadedAt set).
	States []staging.State
	// Records keeps only these record ids; empty: every selected record.
	Records []int64
	// AtNow plans at the Flow's clock instead of each record's original
	// load time (Load.LoadedAt, else Load.StartedAt), which rules that
	// depend on the date (the 30-day status rule) see by default.
	AtNow bool
	// Workers plans records in parallel. Default: GOMAXPROCS.
	Workers int
	// AgainstLastLoad compares the new rules' plan with the plan each
	// record was last loaded with (kept in its journal), made at that
	// plan's time, instead of with the rules in use; a record without a
	// kept plan is compared with the rules in use. Use it when the new
	// rules are in use already, before a bulk reload.
	AgainstLastLoad bool
}

// RulesInfo names a rule file by its name and content hash.
type RulesInfo struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

func rulesInfo(r *mapping.Rules) RulesInfo { return RulesInfoOf(r) }

// RulesInfoOf names compiled rules by their file name and hash.
func RulesInfoOf(r *mapping.Rules) RulesInfo { return RulesInfo{Name: r.Name(), Hash: r.Hash()} }

// ImpactReport is what a rule change would do to the records already
// staged: each record planned with the rules in use and with the new
// rules. It is made without any call to the target.
type ImpactReport struct {
	// Current are the rules in use, New the rules compared with them.
	Current RulesInfo `json:"current"`
	New     RulesInfo `json:"new"`
	// AtNow says the plans were made at the current time, not at each
	// record's load time.
	AtNow bool `json:"at_now"`
	// Checked counts the records planned; Changed those whose plan
	// changes; Failed those the new rules cannot plan.
	Checked int `json:"checked"`
	Changed int `json:"changed"`
	Failed  int `json:"failed"`
	// Tables sums the changes per table and field, in table order.
	Tables []TableImpact `json:"tables"`
	// Records lists every record that changes or fails, in id order.
	Records []RecordImpact `json:"records"`
}

// TableImpact sums the changes of one target table.
type TableImpact struct {
	Table string `json:"table"`
	// RowsAdded counts rows the new rules plan and the current ones do
	// not; RowsNoLongerWritten the reverse. A reload never deletes a row
	// that is no longer written.
	RowsAdded           int `json:"rows_added"`
	RowsNoLongerWritten int `json:"rows_no_longer_written"`
	// Fields counts, per field, the rows in both plans whose value of it
	// changes (a field set by only one plan counts too), by field name.
	Fields []FieldCount `json:"fields"`
}

// FieldCount is how many rows see a field change.
type FieldCount struct {
	Field string `json:"field"`
	Rows  int    `json:"rows"`
}

// RecordImpact is what the rule change does to one record's plan.
type RecordImpact struct {
	ID     int64         `json:"id"`
	Number string        `json:"number"`
	State  staging.State `json:"state"`
	// Now is the time the record was planned at.
	Now time.Time `json:"now"`
	// Added are rows the new rules write and the current ones do not;
	// NoLongerWritten the rows the current rules write and the new ones
	// do not (a reload keeps them in the target).
	Added           []Row `json:"added,omitempty"`
	NoLongerWritten []Row `json:"no_longer_written,omitempty"`
	// Fields are the values that change in rows both plans write.
	Fields []FieldChange `json:"fields,omitempty"`
	// Warnings added or dropped by the new rules.
	WarningsAdded   []string `json:"warnings_added,omitempty"`
	WarningsDropped []string `json:"warnings_dropped,omitempty"`
	// Error is set when the new rules cannot plan the record: the rule's
	// FILE:LINE:COL and what failed. CurrentError when the rules in use
	// cannot.
	Error        string `json:"error,omitempty"`
	CurrentError string `json:"current_error,omitempty"`
}

// Changed reports whether the record's plan changes (or fails).
func (r *RecordImpact) Changed() bool {
	return len(r.Added) > 0 || len(r.NoLongerWritten) > 0 || len(r.Fields) > 0 ||
		r.Error != "" || r.CurrentError != ""
}

// Row names a target row a plan writes: its step, table and match keys,
// so that one row can be told from another of the same table (match
// values that reference another step's record are shown as ref:STEP).
type Row struct {
	Step  string            `json:"step"`
	Table string            `json:"table"`
	Match map[string]string `json:"match"`
	// Key is the row in one line: step table[field=value, ...].
	Key string `json:"key"`
}

// FieldChange is one field whose value changes in a row both plans write.
// A value the plan leaves out is empty with Set false.
type FieldChange struct {
	Row   string `json:"row"`
	Table string `json:"table"`
	// Field is the field's name; a field set only on insert or only on
	// update is written on_insert.NAME or on_update.NAME.
	Field  string `json:"field"`
	Old    string `json:"old"`
	New    string `json:"new"`
	OldSet bool   `json:"old_set"`
	NewSet bool   `json:"new_set"`
}

// Impact plans every selected record with the rules in use and with
// newRules and reports what changes, per record and summed per table and
// field. It reads the store in pages and plans records in parallel; it
// makes no call to the target.
func (f *Flow) Impact(ctx context.Context, newRules *mapping.Rules, opts ImpactOptions) (*ImpactReport, error) {
	if newRules == nil {
		return nil, errors.New("bookbridge: Impact needs the new rules")
	}
	current := f.Rules()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	filter := staging.ScanFilter{States: opts.States, IDs: opts.Records, Limit: impactFirstPage, WithJournal: opts.AgainstLastLoad}
	if len(filter.States) == 0 {
		filter.States, filter.OrLoaded = []staging.State{staging.StateLoaded}, true
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The scanner reads the next page while the workers plan the current
	// one: pages holds one page read ahead, work hands out its records.
	pages := make(chan []*staging.Record, 1)
	work := make(chan *staging.Record, 2*workers)
	results := make(chan RecordImpact, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker keeps one Memo for the plans of its records.
			memo := mapping.NewMemo()
			for rec := range work {
				memo.Reset()
				results <- f.recordImpact(current, newRules, rec, memo, opts.AtNow, opts.AgainstLastLoad)
			}
		}()
	}
	var scanErr error
	go func() {
		defer close(pages)
		for {
			page, err := f.cfg.Store.Scan(ctx, filter)
			if err != nil {
				scanErr = err
				return
			}
			if len(page) > 0 {
				select {
				case pages <- page:
				case <-ctx.Done():
					return
				}
			}
			if len(page) < filter.Limit {
				return
			}
			filter.AfterID, filter.Limit = page[len(page)-1].ID, impactPage
		}
	}()
	go func() {
		defer close(work)
		for page := range pages {
			for _, rec := range page {
				select {
				case work <- rec:
				case <-ctx.Done():
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	rep := &ImpactReport{Current: rulesInfo(current), New: rulesInfo(newRules), AtNow: opts.AtNow,
		Tables: []TableImpact{}, Records: []RecordImpact{}}
	for imp := range results {
		rep.Checked++
		if imp.Error != "" {
			rep.Failed++
		}
		if imp.Changed() {
			rep.Changed++
			rep.Records = append(rep.Records, imp)
		}
	}
	if scanErr != nil {
		return nil, scanErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(rep.Records, func(a, b RecordImpact) int { return int(a.ID - b.ID) })
	rep.Tables = sumTables(rep.Records)
	return rep, nil
}

// ImpactOf is Impact for one record, for a drill-down.
func (f *Flow) ImpactOf(rec *staging.Record, newRules *mapping.Rules, atNow bool) RecordImpact {
	return f.recordImpact(f.Rules(), newRules, rec, mapping.NewMemo(), atNow, false)
}

// impactTime is when Impact plans rec: its original load time by default.
func (f *Flow) impactTime(rec *staging.Record, atNow bool) time.Time {
	switch {
	case atNow:
		return f.Now()
	case !rec.Load.LoadedAt.IsZero():
		return rec.Load.LoadedAt.In(f.cfg.Location)
	case !rec.Load.StartedAt.IsZero():
		return rec.Load.StartedAt.In(f.cfg.Location)
	}
	return f.Now()
}

// recordImpact plans rec with both rule sets from one decoded input; the
// values both rule files compute alike are computed once, in memo, which
// must be empty.
func (f *Flow) recordImpact(current, next *mapping.Rules, rec *staging.Record, memo *mapping.Memo, atNow, againstLast bool) RecordImpact {
	imp := RecordImpact{ID: rec.ID, Number: rec.Number, State: rec.State, Now: f.impactTime(rec, atNow)}
	var last *loader.Plan
	if againstLast {
		if last = lastPlan(rec); last != nil && !atNow {
			imp.Now = last.Now
		}
	}
	in, err := planInput(rec, imp.Now)
	if err != nil {
		imp.Error, imp.CurrentError = err.Error(), err.Error()
		return imp
	}
	in.Memo = memo
	oldPlan, oldErr := last, error(nil)
	if oldPlan == nil {
		oldPlan, oldErr = planInputWith(current, rec, in)
	}
	newPlan, newErr := planInputWith(next, rec, in)
	if oldErr != nil {
		imp.CurrentError = planErrorText(oldErr)
	}
	if newErr != nil {
		imp.Error = planErrorText(newErr)
	}
	if oldErr != nil || newErr != nil {
		return imp
	}
	comparePlans(&imp, oldPlan, newPlan)
	return imp
}

// planErrorText is the rules' own error (FILE:LINE:COL: where: what)
// without the record, which the report names already.
func planErrorText(err error) string {
	var pe *PlanError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// planRow is a row of a plan: a step's record, or the exception record
// of a failed step (exc).
type planRow struct {
	step, table string
	match       map[string]loader.Value
	// key names the row in its plan; base is the key before a "#2" that
	// tells apart rows of the same key.
	key, base string
	st        *loader.Step
	exc       bool
}

// The groups of a row's values and the prefixes of their names: fields,
// on_insert.NAME (fields set only on insert, match fields aside) and
// on_update.NAME. The attachments are one more value, "attachments".
var groupPrefixes = [3]string{"", "on_insert.", "on_update."}

// group returns the values of group g and whether a name of it is left
// out (a match field in on_insert).
func (r *planRow) group(g int) (map[string]loader.Value, map[string]loader.Value) {
	if r.exc {
		if g == 0 {
			return r.st.Exception.Fields, nil
		}
		return nil, nil
	}
	switch g {
	case 0:
		return r.st.Fields, nil
	case 1:
		return r.st.OnInsert, r.st.Match
	}
	return r.st.OnUpdate, nil
}

// attachments is the row's attachments value, if it has one.
func (r *planRow) attachments() (loader.Value, bool) {
	if r.exc || len(r.st.Attach) == 0 {
		return loader.Value{}, false
	}
	names := make([]string, len(r.st.Attach))
	for j, a := range r.st.Attach {
		names[j] = a.FileName + " (" + a.SHA256 + ")"
	}
	return loader.Lit(strings.Join(names, ", ")), true
}

// plainNames reports whether no two of the row's values share a name: no
// field is named like an on_insert. or on_update. value or like the
// attachments. Then each group can be compared on its own.
func (r *planRow) plainNames() bool {
	if r.exc || len(r.st.Fields) == 0 {
		return true
	}
	for k := range r.st.Fields {
		if strings.HasPrefix(k, "on_insert.") || strings.HasPrefix(k, "on_update.") || (k == "attachments" && len(r.st.Attach) > 0) {
			return false
		}
	}
	return true
}

// values lists the row's values sorted by name; of values with the same
// name the one added last counts, as in a map filled group by group.
func (r *planRow) values() []rowValue {
	var vs []rowValue
	for g, prefix := range groupPrefixes {
		m, skip := r.group(g)
		for k, v := range m {
			if _, out := skip[k]; !out {
				vs = append(vs, rowValue{prefix: prefix, name: k, v: v})
			}
		}
	}
	if v, ok := r.attachments(); ok {
		vs = append(vs, rowValue{name: "attachments", v: v})
	}
	return sortValues(vs)
}

// row is the row as the report names it.
func (r *planRow) row() Row {
	out := Row{Step: r.step, Table: r.table, Match: make(map[string]string, len(r.match)), Key: r.key}
	for k, v := range r.match {
		out.Match[k] = v.String()
	}
	return out
}

// rowValue is one value of a row: its name is prefix+name (on_insert.NAME
// for a field set only on insert), kept in two parts so that comparing
// two rows builds no names.
type rowValue struct {
	prefix, name string
	v            loader.Value
}

func (f *rowValue) field() string { return f.prefix + f.name }

// compareNames orders two rowValues by their full names.
func compareNames(a, b *rowValue) int {
	if a.prefix == b.prefix {
		return strings.Compare(a.name, b.name)
	}
	// Compare prefix+name piece by piece, as far as both have bytes.
	a1, a2, b1, b2 := a.prefix, a.name, b.prefix, b.name
	for {
		if a1 == "" {
			a1, a2 = a2, ""
		}
		if b1 == "" {
			b1, b2 = b2, ""
		}
		if a1 == "" || b1 == "" {
			return len(a1) - len(b1)
		}
		n := min(len(a1), len(b1))
		if c := strings.Compare(a1[:n], b1[:n]); c != 0 {
			return c
		}
		a1, b1 = a1[n:], b1[n:]
	}
}

// sortValues returns vs sorted by name; of values with the same name the
// one added last is kept, as a map filled in the same order would. It
// sorts positions, which moves no values until the result is built.
func sortValues(vs []rowValue) []rowValue {
	order := make([]int32, len(vs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := compareNames(&vs[a], &vs[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	out := make([]rowValue, 0, len(vs))
	for _, i := range order {
		if n := len(out); n > 0 && compareNames(&out[n-1], &vs[i]) == 0 {
			out[n-1] = vs[i]
			continue
		}
		out = append(out, vs[i])
	}
	return out
}

// rowsOf lists the rows a plan writes: the record of each step that
// passed its require checks, and the exception record a failed step
// raises. A second row with the same key (two items matching the same
// record) gets "#2", "#3" added. prev are the rows of the other plan of
// the record, if made: a row of the same step and table whose match
// values are the very same map (plans made with one mapping.Memo share
// it) has the same key, which is then not written again.
func rowsOf(p *loader.Plan, prev []planRow) ([]planRow, map[string]int) {
	out := make([]planRow, 0, len(p.Steps))
	index := make(map[string]int, len(p.Steps))
	next := 0 // prev's rows come in plan order too
	for i := range p.Steps {
		st := &p.Steps[i]
		r := planRow{step: st.Name, table: st.Table, match: st.Match, st: st}
		if st.Failed != "" {
			if st.Exception == nil {
				continue
			}
			r.table, r.match, r.exc = st.Exception.Table, st.Exception.Match, true
		}
		if j := samePrevRow(prev[next:], &r); j >= 0 {
			r.base, next = prev[next+j].base, next+j+1
		} else {
			r.base = rowKey(st.Name, r.table, r.match)
		}
		r.key = r.base
		if _, dup := index[r.key]; dup {
			for k := 2; ; k++ {
				r.key = r.base + " #" + strconv.Itoa(k)
				if _, dup := index[r.key]; !dup {
					break
				}
			}
		}
		index[r.key] = len(out)
		out = append(out, r)
	}
	return out, index
}

// samePrevRow returns the position in prev of the first row of r's step
// and table with r's very match map, or -1.
func samePrevRow(prev []planRow, r *planRow) int {
	if len(r.match) == 0 {
		return -1
	}
	for j := range prev {
		if p := &prev[j]; p.step == r.step && p.table == r.table && p.exc == r.exc && sameMap(p.match, r.match) {
			return j
		}
	}
	return -1
}

// rowKey writes a row as step table[field=value, ...], fields sorted.
func rowKey(step, table string, match map[string]loader.Value) string {
	var kbuf, vbuf [8]string
	keys, vals := kbuf[:0], vbuf[:0]
	for k := range match {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := len(step) + len(table) + 3
	for _, k := range keys {
		v := match[k].String()
		vals = append(vals, v)
		n += len(k) + len(v) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(step)
	b.WriteByte(' ')
	b.WriteString(table)
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(vals[i])
	}
	b.WriteByte(']')
	return b.String()
}

// comparePlans fills imp with what differs between the two plans.
func comparePlans(imp *RecordImpact, oldPlan, newPlan *loader.Plan) {
	oldRows, oldIdx := rowsOf(oldPlan, nil)
	newRows, newIdx := rowsOf(newPlan, oldRows)
	for i := range oldRows {
		o := &oldRows[i]
		j, ok := newIdx[o.key]
		if !ok {
			imp.NoLongerWritten = append(imp.NoLongerWritten, o.row())
			continue
		}
		n := &newRows[j]
		if o.plainNames() && n.plainNames() {
			imp.Fields = append(imp.Fields, compareGroups(o, n)...)
		} else {
			imp.Fields = append(imp.Fields, compareSorted(o, n)...)
		}
	}
	for i := range newRows {
		if _, ok := oldIdx[newRows[i].key]; !ok {
			imp.Added = append(imp.Added, newRows[i].row())
		}
	}
	imp.WarningsAdded = missingFrom(newPlan.Warnings, oldPlan.Warnings)
	imp.WarningsDropped = missingFrom(oldPlan.Warnings, newPlan.Warnings)
}

// compareGroups lists the values that differ between two rows whose
// values have distinct names, group by group, sorted by name.
func compareGroups(o, n *planRow) []FieldChange {
	var out []FieldChange
	change := func(prefix, name string, ov, nv loader.Value, oset, nset bool) {
		out = append(out, FieldChange{Row: o.key, Table: o.table, Field: prefix + name,
			Old: ov.String(), New: nv.String(), OldSet: oset, NewSet: nset})
	}
	for g, prefix := range groupPrefixes {
		om, oskip := o.group(g)
		nm, nskip := n.group(g)
		if sameMap(om, nm) && sameMap(oskip, nskip) {
			continue
		}
		for k, ov := range om {
			if _, out := oskip[k]; out {
				continue
			}
			nv, nset := nm[k]
			if _, out := nskip[k]; out {
				nset = false
			}
			if !nset {
				change(prefix, k, ov, loader.Value{}, true, false)
			} else if !valueEqual(ov, nv) {
				change(prefix, k, ov, nv, true, true)
			}
		}
		for k, nv := range nm {
			if _, out := nskip[k]; out {
				continue
			}
			_, oset := om[k]
			if _, out := oskip[k]; out {
				oset = false
			}
			if !oset {
				change(prefix, k, loader.Value{}, nv, false, true)
			}
		}
	}
	ov, oset := o.attachments()
	nv, nset := n.attachments()
	if oset != nset || !valueEqual(ov, nv) {
		change("", "attachments", ov, nv, oset, nset)
	}
	slices.SortFunc(out, func(a, b FieldChange) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// sameMap reports whether a and b are one map: plans made with one
// mapping.Memo share the groups of values both rule files compute alike.
func sameMap(a, b map[string]loader.Value) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// compareSorted lists the values that differ between two rows, walking
// their value lists sorted by name together.
func compareSorted(o, n *planRow) []FieldChange {
	var out []FieldChange
	a, b := o.values(), n.values()
	for len(a) > 0 || len(b) > 0 {
		var c int
		switch {
		case len(a) == 0:
			c = 1
		case len(b) == 0:
			c = -1
		default:
			c = compareNames(&a[0], &b[0])
		}
		switch {
		case c < 0:
			out = append(out, FieldChange{Row: o.key, Table: o.table, Field: a[0].field(),
				Old: a[0].v.String(), OldSet: true})
			a = a[1:]
		case c > 0:
			out = append(out, FieldChange{Row: o.key, Table: o.table, Field: b[0].field(),
				New: b[0].v.String(), NewSet: true})
			b = b[1:]
		default:
			if !valueEqual(a[0].v, b[0].v) {
				out = append(out, FieldChange{Row: o.key, Table: o.table, Field: a[0].field(),
					Old: a[0].v.String(), New: b[0].v.String(), OldSet: true, NewSet: true})
			}
			a, b = a[1:], b[1:]
		}
	}
	return out
}

// valueEqual says whether two plan values send the same thing.
func valueEqual(a, b loader.Value) bool {
	if a.Literal != b.Literal || a.Ref != b.Ref || (a.Lookup == nil) != (b.Lookup == nil) {
		return false
	}
	if a.Lookup == nil {
		return true
	}
	x, y := a.Lookup, b.Lookup
	return x.Table == y.Table && x.Field == y.Field && x.Pick == y.Pick && x.Warning == y.Warning && maps.Equal(x.Where, y.Where)
}

// missingFrom lists the elements of a that b does not hold.
func missingFrom(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// sumTables sums the record impacts per table and field.
func sumTables(recs []RecordImpact) []TableImpact {
	type acc struct {
		t      TableImpact
		fields map[string]int
	}
	by := map[string]*acc{}
	get := func(table string) *acc {
		a := by[table]
		if a == nil {
			a = &acc{t: TableImpact{Table: table}, fields: map[string]int{}}
			by[table] = a
		}
		return a
	}
	for i := range recs {
		r := &recs[i]
		for _, row := range r.Added {
			get(row.Table).t.RowsAdded++
		}
		for _, row := range r.NoLongerWritten {
			get(row.Table).t.RowsNoLongerWritten++
		}
		for _, fc := range r.Fields {
			get(fc.Table).fields[fc.Field]++
		}
	}
	out := make([]TableImpact, 0, len(by))
	for _, a := range by {
		a.t.Fields = []FieldCount{}
		for _, k := range slices.Sorted(maps.Keys(a.fields)) {
			a.t.Fields = append(a.t.Fields, FieldCount{Field: k, Rows: a.fields[k]})
		}
		out = append(out, a.t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
