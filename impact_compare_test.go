package bookbridge

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
)

// compareByMaps is the plain statement of what comparePlans reports: each
// row's values in a map by field name, the union of names sorted.
func compareByMaps(imp *RecordImpact, oldPlan, newPlan *loader.Plan) {
	type mapRow struct {
		row    Row
		values map[string]loader.Value
	}
	rows := func(p *loader.Plan) ([]mapRow, map[string]int) {
		var out []mapRow
		index := map[string]int{}
		for i := range p.Steps {
			st := &p.Steps[i]
			table, match := st.Table, st.Match
			values := map[string]loader.Value{}
			if st.Failed != "" {
				if st.Exception == nil {
					continue
				}
				table, match = st.Exception.Table, st.Exception.Match
				maps.Copy(values, st.Exception.Fields)
			} else {
				maps.Copy(values, st.Fields)
				for k, v := range st.OnInsert {
					if _, key := st.Match[k]; !key {
						values["on_insert."+k] = v
					}
				}
				for k, v := range st.OnUpdate {
					values["on_update."+k] = v
				}
				if len(st.Attach) > 0 {
					var names []string
					for _, a := range st.Attach {
						names = append(names, a.FileName+" ("+a.SHA256+")")
					}
					values["attachments"] = loader.Lit(strings.Join(names, ", "))
				}
			}
			r := Row{Step: st.Name, Table: table, Match: map[string]string{}}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(match)) {
				r.Match[k] = match[k].String()
				parts = append(parts, k+"="+r.Match[k])
			}
			r.Key = st.Name + " " + table + "[" + strings.Join(parts, ", ") + "]"
			for k, base := 2, r.Key; ; k++ {
				if _, dup := index[r.Key]; !dup {
					break
				}
				r.Key = base + " #" + strconv.Itoa(k)
			}
			index[r.Key] = len(out)
			out = append(out, mapRow{r, values})
		}
		return out, index
	}
	oldRows, oldIdx := rows(oldPlan)
	newRows, newIdx := rows(newPlan)
	for _, o := range oldRows {
		j, ok := newIdx[o.row.Key]
		if !ok {
			imp.NoLongerWritten = append(imp.NoLongerWritten, o.row)
			continue
		}
		n := newRows[j]
		names := maps.Clone(o.values)
		maps.Copy(names, n.values)
		for _, k := range slices.Sorted(maps.Keys(names)) {
			ov, oset := o.values[k]
			nv, nset := n.values[k]
			if oset == nset && valueEqual(ov, nv) {
				continue
			}
			imp.Fields = append(imp.Fields, FieldChange{Row: o.row.Key, Table: o.row.Table, Field: k,
				Old: ov.String(), New: nv.String(), OldSet: oset, NewSet: nset})
		}
	}
	for _, n := range newRows {
		if _, ok := oldIdx[n.row.Key]; !ok {
			imp.Added = append(imp.Added, n.row)
		}
	}
	imp.WarningsAdded = missingFrom(newPlan.Warnings, oldPlan.Warnings)
	imp.WarningsDropped = missingFrom(oldPlan.Warnings, newPlan.Warnings)
}

func TestComparePlansMatchesMaps(t *testing.T) {
	plan := func(rulesPath, payload string, memo ...*mapping.Memo) *loader.Plan {
		t.Helper()
		src, err := os.ReadFile(rulesPath)
		if err != nil {
			t.Fatal(err)
		}
		rules, err := mapping.Compile(rulesPath, src)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(payload)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := mapping.SFDCFromJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		in := mapping.Input{SFDC: sf, Now: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC),
			PH:     map[string]string{"tenant_id": "T-1", "company_name": "Other"},
			Record: mapping.RecordInfo{ID: "1", Number: "BB-1", Attachments: []mapping.AttachmentInfo{{ID: "7", FileName: "c.pdf", ContentType: "application/pdf", SHA256: "ab", Usable: true}}}}
		if len(memo) > 0 {
			in.Memo = memo[0]
		}
		p, err := rules.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const cur, next = "examples/mappings/reference.yaml", "examples/mappings/reference-next.yaml"
	full, basic := "examples/payloads/deal-full.json", "examples/payloads/deal-basic.json"
	lookup := loader.Value{Lookup: &loader.Lookup{Table: "t", Field: "f", Pick: loader.PickOnly, Where: map[string]string{"a": "1"}}}
	lookup2 := loader.Value{Lookup: &loader.Lookup{Table: "t", Field: "f", Pick: loader.PickOnly, Where: map[string]string{"a": "2"}}}
	// Field names that collide across groups and sort across the prefix.
	synthetic := func(v string, extra bool) *loader.Plan {
		st := loader.Step{Name: "s", Table: "t", Match: map[string]loader.Value{"k": loader.Lit("1")},
			Fields:   map[string]loader.Value{"on_insert.x": loader.Lit("f" + v), "attachments": loader.Lit("a"), "on_insert": loader.Lit("p"), "b": lookup},
			OnInsert: map[string]loader.Value{"x": loader.Lit("i" + v), "k": loader.Lit("1"), "on": loader.RefTo("r")},
			OnUpdate: map[string]loader.Value{"x": loader.Lit("u")},
			Attach:   []loader.Attachment{{FileName: "c.pdf", SHA256: v}}}
		if extra {
			st.Fields["zz"], st.Fields["b"] = loader.Lit(""), lookup2
			delete(st.OnUpdate, "x")
		}
		failed := loader.Step{Name: "f", Table: "t", Failed: "no", Exception: &loader.ExceptionRecord{Table: "problem",
			Match: map[string]loader.Value{"d": loader.Lit("x")}, Fields: map[string]loader.Value{"d": loader.Lit("x"), "n": loader.Lit(v)}}}
		return &loader.Plan{Steps: []loader.Step{st, st, failed, {Name: "g", Failed: "no"}}, Warnings: []string{"w" + v}}
	}
	// plain drops the field names that collide with other groups' names.
	plain := func(p *loader.Plan) *loader.Plan {
		for i := range p.Steps {
			st := &p.Steps[i]
			fields := maps.Clone(st.Fields)
			delete(fields, "on_insert.x")
			delete(fields, "attachments")
			st.Fields = fields
		}
		return p
	}
	// Plans made with one Memo share maps, and so do plans made from the
	// same steps: rows of such maps keep their keys, "#2" included.
	memo := mapping.NewMemo()
	memoCur, memoNext := plan(cur, full, memo), plan(next, full, memo)
	sharing := func(p *loader.Plan, drop int) *loader.Plan {
		out := *p
		out.Steps = slices.Delete(slices.Clone(p.Steps), drop, drop+1)
		for i := range out.Steps {
			if st := &out.Steps[i]; st.Name == "s" {
				st.OnUpdate = map[string]loader.Value{"x": loader.Lit("changed")}
			}
		}
		return &out
	}
	dup := synthetic("1", false)
	other := dup.Steps[0] // another step with the very same match map
	other.Name = "o"
	dup.Steps = append(dup.Steps, dup.Steps[0], other, dup.Steps[2])
	cases := []struct {
		name     string
		old, new *loader.Plan
	}{
		{"rule change, full deal", plan(cur, full), plan(next, full)},
		{"rule change, full deal, one memo", memoCur, memoNext},
		{"rule change, full deal, one memo reversed", memoNext, memoCur},
		{"shared maps, first row dropped", dup, sharing(dup, 0)},
		{"shared maps, a failed step dropped", dup, sharing(dup, 2)},
		{"shared maps, the row before another step's dropped", dup, sharing(dup, 4)},
		{"shared maps, last row dropped, reversed", sharing(dup, len(dup.Steps)-1), dup},
		{"rule change, basic deal", plan(cur, basic), plan(next, basic)},
		{"other deal", plan(cur, full), plan(next, basic)},
		{"same plan", plan(cur, full), plan(cur, full)},
		{"synthetic", synthetic("1", false), synthetic("2", true)},
		{"synthetic reversed", synthetic("2", true), synthetic("1", false)},
		{"no steps", &loader.Plan{}, synthetic("1", false)},
		{"synthetic, distinct names", plain(synthetic("1", false)), plain(synthetic("2", true))},
		{"synthetic, distinct names reversed", plain(synthetic("2", true)), plain(synthetic("1", false))},
		{"synthetic, one side distinct", plain(synthetic("1", false)), synthetic("2", true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got, want RecordImpact
			comparePlans(&got, tc.old, tc.new)
			compareByMaps(&want, tc.old, tc.new)
			g, _ := json.MarshalIndent(got, "", " ")
			w, _ := json.MarshalIndent(want, "", " ")
			if string(g) != string(w) {
				t.Errorf("comparePlans:\n%s\nwant\n%s", g, w)
			}
			if tc.name != "same plan" && !got.Changed() {
				t.Error("no change found")
			}
		})
	}
}

// compareNames orders names as their concatenations order.
func TestCompareNames(t *testing.T) {
	parts := []string{"", "o", "on", "on_insert.", "on_update.", "on_insert.x", "x", "on_insert.xy", "a"}
	for _, ap := range parts {
		for _, an := range parts {
			for _, bp := range parts {
				for _, bn := range parts {
					a, b := rowValue{prefix: ap, name: an}, rowValue{prefix: bp, name: bn}
					got, want := compareNames(&a, &b), strings.Compare(ap+an, bp+bn)
					if (got < 0) != (want < 0) || (got == 0) != (want == 0) {
						t.Fatalf("%q+%q vs %q+%q: %d, want sign of %d", ap, an, bp, bn, got, want)
					}
				}
			}
		}
	}
}
