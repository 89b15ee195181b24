package mapping

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
)

// memoRules is a small rule file; the cases below change one part of it.
const memoRules = `version: 1
params:
  prefix: {default: "A"}
vars:
  name: 'params.prefix + ":" + string(sfdc.Name ?? "")'
  day: 'dateIn(now, vars.zone)'
  zone: '"UTC"'
  lines: 'len(sfdc.OpportunityLineItems?.records ?? [])'
warnings:
  - message: '"lines: " + string(vars.lines)'
steps:
  - name: company
    table: core_company
    match: {name: vars.name}
    fields: {day: vars.day}
    on_multiple: skip
`

// Plans made with a Memo are the plans made without one, whichever rule
// files share it and in which order; each file keeps its own errors.
func TestMemoPlansAsWithout(t *testing.T) {
	ref, err := os.ReadFile(referenceRules)
	if err != nil {
		t.Fatal(err)
	}
	next, err := os.ReadFile("../examples/mappings/reference-next.yaml")
	if err != nil {
		t.Fatal(err)
	}
	variant := func(old, new string) string {
		if !strings.Contains(memoRules, old) {
			t.Fatalf("memoRules has no %q", old)
		}
		return strings.Replace(memoRules, old, new, 1)
	}
	refVariant := func(old, new string) string {
		if !strings.Contains(string(ref), old) {
			t.Fatalf("the reference rules have no %q", old)
		}
		return strings.Replace(string(ref), old, new, 1)
	}
	// zoneLoaded names Europe/Berlin in a literal, which loads the zone;
	// memoRules' vars.day then works only in that file.
	zoneLoaded := variant(`zone: '"UTC"'`, `zone: '"Europe/Berlin"'`) + "    label: 'string(dateIn(now, \"Europe/Berlin\"))'\n"
	cases := []struct {
		name  string
		files []string
		opts  [][]Option
	}{
		{"reference twice", []string{string(ref), string(ref)}, nil},
		{"reference and next", []string{string(ref), string(next)}, nil},
		{"next and reference", []string{string(next), string(ref)}, nil},
		{"param default", []string{memoRules, variant(`default: "A"`, `default: "B"`)}, nil},
		{"param value", []string{memoRules, memoRules}, [][]Option{nil, {WithParams(map[string]string{"prefix": "C"})}}},
		{"budget", []string{memoRules, memoRules}, [][]Option{nil, {WithMemoryBudget(1)}}},
		{"var changed", []string{memoRules, variant(`len(sfdc`, `1 + len(sfdc`)}, nil},
		{"var a var reads changed", []string{memoRules, variant(`'"UTC"'`, `'"Etc/UTC"'`)}, nil},
		{"warning changed", []string{memoRules, variant(`"lines: "`, `"n: "`)}, nil},
		{"custom fields", []string{memoRules, memoRules + "custom_fields: {Name2__c: string}\n"}, nil},
		// Values kept per foreach item, per step made, and whole exception
		// records, each changed in one of the files.
		{"sku label changed", []string{string(ref), refVariant(`" (line "`, `" (position "`)}, nil},
		{"sku list changed", []string{string(ref), refVariant(`foreach: vars.ms_lines`, `foreach: 'vars.ms_lines[1:]'`)}, nil},
		{"company not made in one file", []string{string(ref), refVariant("  - name: company\n", "  - name: company\n    when: 'false'\n")}, nil},
		{"company not made, other order", []string{refVariant("  - name: company\n", "  - name: company\n    when: 'false'\n"), string(ref)}, nil},
		{"exception field changed", []string{string(ref), refVariant(`priority: 2`, `priority: 3`)}, nil},
		{"exception reads the item", []string{string(ref), refVariant(`priority: 2`, `priority: 'string(item?.Name__c ?? "none")'`)}, nil},
		{"exception stops in one file", []string{string(ref), refVariant(`stop: false`, `stop: true`)}, nil},
		{"zone loaded in one file", []string{zoneLoaded, variant(`zone: '"UTC"'`, `zone: '"Europe/Berlin"'`)}, nil},
		{"zone loaded, other order", []string{variant(`zone: '"UTC"'`, `zone: '"Europe/Berlin"'`), zoneLoaded}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rules []*Rules
			for i, src := range tc.files {
				var opts []Option
				if tc.opts != nil {
					opts = tc.opts[i]
				}
				r, err := Compile("file"+string(rune('1'+i))+".yaml", []byte(src), opts...)
				if err != nil {
					t.Fatalf("file %d: %v", i+1, err)
				}
				rules = append(rules, r)
			}
			// The full deal, and one without an ECC id, whose company step
			// fails its require check.
			noECC := fullDeal(t)
			delete(noECC, "End_User_ECC_ID__c")
			for _, sf := range []map[string]any{fullDeal(t), noECC} {
				in := Input{SFDC: sf, PH: testPH(), Record: testRecord(), Now: testNow}
				shared := in
				shared.Memo = NewMemo()
				var made []*loader.Plan
				var madeJSON [][]byte
				for i, r := range rules {
					want, wantErr := r.Plan(in)
					got, gotErr := r.Plan(shared)
					if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
						t.Fatalf("file %d: error %v, want %v", i+1, gotErr, wantErr)
					}
					if wantErr != nil {
						continue
					}
					if !bytes.Equal(planJSON(t, got), planJSON(t, want)) {
						t.Errorf("file %d: plan with a memo:\n%s\nwithout:\n%s", i+1, planJSON(t, got), planJSON(t, want))
					}
					made, madeJSON = append(made, got), append(madeJSON, planJSON(t, got))
				}
				// The plans share values: none was changed by a later plan.
				for i, p := range made {
					if !bytes.Equal(planJSON(t, p), madeJSON[i]) {
						t.Errorf("plan %d changed after the plans that followed it", i+1)
					}
				}
			}
		})
	}
}

// Identical definitions share a fingerprint; the vars a rule change does
// not touch are computed once.
func TestMemoSharesIdenticalVars(t *testing.T) {
	a, err := Compile("a.yaml", []byte(memoRules))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile("b.yaml", []byte(strings.Replace(memoRules, `len(sfdc`, `1 + len(sfdc`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	fps := func(r *Rules) map[string]string {
		out := map[string]string{}
		for _, v := range r.vars {
			out[v.name] = v.fp
		}
		return out
	}
	fa, fb := fps(a), fps(b)
	for _, name := range []string{"name", "day", "zone"} {
		if fa[name] != fb[name] {
			t.Errorf("var %s: fingerprints differ", name)
		}
	}
	if fa["lines"] == fb["lines"] {
		t.Error("var lines changed but kept its fingerprint")
	}
	if a.warningsFP == b.warningsFP {
		t.Error("the warnings read a changed var but kept their fingerprint")
	}
	// a's plan keeps its 4 vars, the warning's message, the step's 2
	// fields, its 2 groups of fields and its on_insert values with the
	// match values added; b's adds only what its change
	// touches: vars.lines and the warning that reads it.
	in := Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow, Memo: NewMemo()}
	for i, r := range []*Rules{a, b} {
		if _, err := r.Plan(in); err != nil {
			t.Fatal(err)
		}
		if want := []int{10, 12}[i]; len(in.Memo.vals) != want {
			t.Errorf("after file %d the memo holds %d values, want %d", i+1, len(in.Memo.vals), want)
		}
	}
	if len(in.Memo.warnings) != 2 {
		t.Errorf("memo holds %d warning sections, want 2", len(in.Memo.warnings))
	}
	in.Memo.Reset()
	if len(in.Memo.vals) != 0 || len(in.Memo.warnings) != 0 {
		t.Error("Reset left values in the memo")
	}
}

// A value that holds ph as a whole is the plan's own map, which goes back
// to the pool when the plan is made: the Memo never keeps it for the
// plans of other rule files, whoever takes the map from the pool next.
func TestMemoKeepsNoPlanMap(t *testing.T) {
	src := strings.Replace(memoRules, "vars:\n", "vars:\n  email: 'ph'\n", 1)
	a, err := Compile("a.yaml", []byte(src+"    on_insert: {company: vars.email.company_name}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile("b.yaml", []byte(src+"    on_insert: {company: 'upper(vars.email.company_name)'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow}
	want, err := b.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Memo = NewMemo()
	if _, err := a.Plan(in); err != nil {
		t.Fatal(err)
	}
	taken := planMapsPool.Get().(*planMaps)
	fillPH(taken.ph, map[string]string{"company_name": "Other"})
	defer taken.release()
	got, err := b.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(planJSON(t, got), planJSON(t, want)) {
		t.Errorf("plan with a memo:\n%s\nwithout:\n%s", planJSON(t, got), planJSON(t, want))
	}
}
