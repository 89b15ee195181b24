package mapping

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary text to the rule compiler: it must return
// rules or a *CompileError, never panic; rules that compile must plan the
// example deal without panicking, and the same with a Memo that the
// reference rules filled first, and the same with programs run as first
// compiled, without the patches.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/broken/*.yaml")
	seeds = append(seeds, referenceRules, "../examples/mappings/servicenow-ootb.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("version: 1\nsteps:\n  - name: a\n    table: t\n    on_multiple: fail\n    fields: {x: '1'}\n"))
	f.Add([]byte("version: 1\nvars:\n  a: |\n    \"x\" +\n      upper(1)\n"))
	f.Add([]byte("version: 1\ncustom_fields:\n  Region__c: string\n  Account: {Tier__c: string}\n  OpportunityLineItems: {Term__c: number}\nsteps:\n  - name: a\n    table: t\n    on_multiple: fail\n    match: {x: sfdc.Account.Tier__c}\n"))
	f.Add([]byte("{"))
	f.Add([]byte("- - - ["))
	raw, err := os.ReadFile(fullPayload)
	if err != nil {
		f.Fatal(err)
	}
	sf, err := SFDCFromJSON(raw)
	if err != nil {
		f.Fatal(err)
	}
	ref, err := LoadFile(referenceRules)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Compile("fuzz.yaml", data, WithMemoryBudget(20000))
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is not a *CompileError with problems: %v", err)
			}
			for _, p := range ce.Problems {
				if p.Line < 1 || p.Col < 1 || p.Message == "" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		in := Input{SFDC: sf, PH: testPH(), Record: testRecord(), Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
		want, wantErr := r.Plan(in)
		in.Memo = NewMemo()
		_, _ = ref.Plan(in)
		got, gotErr := r.Plan(in)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("with a memo: error %v, without: %v", gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(planJSON(t, got), planJSON(t, want)) {
			t.Fatalf("plan with a memo:\n%s\nwithout:\n%s", planJSON(t, got), planJSON(t, want))
		}
		// The programs as first compiled, without the patches that speed
		// plans up, plan the same.
		checked, err := Compile("fuzz.yaml", data, WithMemoryBudget(20000), asChecked())
		if err != nil {
			t.Fatalf("compiles patched but not as checked: %v", err)
		}
		in.Memo = nil
		got, gotErr = checked.Plan(in)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("as checked: error %v, patched: %v", gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(planJSON(t, got), planJSON(t, want)) {
			t.Fatalf("plan as checked:\n%s\npatched:\n%s", planJSON(t, got), planJSON(t, want))
		}
	})
}
