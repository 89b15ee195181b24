package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/expr-lang/expr/builtin"
)

// Chains of + between texts run as one call and give what + gives; other
// chains are left to +.
func TestJoinedTexts(t *testing.T) {
	cases := []struct {
		expr, want string
		joined     bool
	}{
		{`"a" + "b"`, "ab", true},
		{`ph.company_name + "-" + record.number`, "Müller & Søn Größe GmbH-BB0001001", true},
		{`("<" + ph.company_name) + ("|" + (record.id + ">"))`, "<Müller & Søn Größe GmbH|rec-1>", true},
		{`string(len(ph.tenant_id)) + ":" + trim(" x ")`, "13:x", true},
		{`sfdc.Name + "!"`, "Müller & Søn – AEM Managed Services 2027!", false},
		{`1 + 2 + len(ph.tenant_id)`, "16", false},
		{`"n=" + string(1 + 2)`, "n=3", true},
	}
	var b strings.Builder
	b.WriteString("version: 1\nsteps:\n  - name: s\n    table: t\n    match: {k: '\"k\"'}\n    on_multiple: skip\n    fields:\n")
	for i, tc := range cases {
		b.WriteString("      f" + string(rune('a'+i)) + ": '" + strings.ReplaceAll(tc.expr, "'", "''") + "'\n")
	}
	r, err := Compile("join.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	fields := r.steps[0].fields
	for i, tc := range cases {
		name := "f" + string(rune('a'+i))
		if got := p.Steps[0].Fields[name].Literal; got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.expr, got, tc.want)
		}
		if joined := strings.Contains(fields[i].prog.run.Disassemble(), joinFn); joined != tc.joined {
			t.Errorf("%s: joined %v, want %v", tc.expr, joined, tc.joined)
		}
	}
}

// joinTexts meets an operand that is not text as + does.
func TestJoinTextsNotText(t *testing.T) {
	if out, err := joinTexts("a", "b", "c"); err != nil || out != "abc" {
		t.Errorf("texts: %v %v", out, err)
	}
	_, err := joinTexts("a", nil, "c")
	if err == nil || err.Error() != "invalid operation: string + <nil>" {
		t.Errorf("nil operand: %v", err)
	}
}

// Plans of the example rule files are the same whether their programs run
// patched (texts joined in one call) or as checked.
func TestPatchedProgramsPlanAsChecked(t *testing.T) {
	files, _ := filepath.Glob("../examples/mappings/*.yaml")
	payloads, _ := filepath.Glob("../examples/payloads/*.json")
	if len(files) < 3 || len(payloads) < 3 {
		t.Fatalf("found %d rule files and %d payloads", len(files), len(payloads))
	}
	compileAll := func(patch bool) []*Rules {
		t.Helper()
		defer func(old bool) { patchPrograms = old }(patchPrograms)
		patchPrograms = patch
		var out []*Rules
		for _, f := range files {
			r, err := LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	patched, checked := compileAll(true), compileAll(false)
	joins := 0
	for i := range files {
		for _, payload := range payloads {
			raw, err := os.ReadFile(payload)
			if err != nil {
				t.Fatal(err)
			}
			sf, err := SFDCFromJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, ph := range []map[string]string{nil, testPH()} {
				in := Input{SFDC: sf, PH: ph, Record: testRecord(), Now: testNow}
				want, wantErr := checked[i].Plan(in)
				got, gotErr := patched[i].Plan(in)
				if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
					t.Fatalf("%s, %s: error %v, want %v", files[i], payload, gotErr, wantErr)
				}
				if wantErr == nil && !bytes.Equal(planJSON(t, got), planJSON(t, want)) {
					t.Errorf("%s, %s: patched plan differs:\n%s\nwant\n%s", files[i], payload, planJSON(t, got), planJSON(t, want))
				}
			}
		}
		for _, s := range patched[i].steps {
			if s.label != nil {
				joins += strings.Count(s.label.run.Disassemble(), joinFn)
			}
		}
	}
	if joins == 0 {
		t.Error("no step label was patched")
	}
}

// Names stay as they are where flattening vars.NAME and ref.NAME would
// show: a file that reads $env, whose keys would differ.
func TestFlatNamesKeepResults(t *testing.T) {
	const tail = `steps:
  - name: a
    table: t
    match: {k: '"k"'}
    on_multiple: skip
    fields: {n: vars.n}
  - name: b
    table: t
    match: {k: '"k"'}
    on_multiple: skip
    fields: {r: 'ref.a', w: 'vars.w', env: vars.env}
`
	cases := []struct {
		name, vars string
		flat       bool
	}{
		{"plain", "  n: '1'\n  w: 'vars.n + 1'\n  env: '0'\n", true},
		{"$env read", "  n: '1'\n  w: 'vars.n + 1'\n  env: 'len($env)'\n", false},
		{"let", "  n: '1'\n  w: 'let n = vars.n; n * 2'\n  env: '0'\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nvars:\n" + tc.vars + tail
			plan := func(patch bool) (*Rules, []byte) {
				defer func(old bool) { patchPrograms = old }(patchPrograms)
				patchPrograms = patch
				r, err := Compile("flat.yaml", []byte(src))
				if err != nil {
					t.Fatal(err)
				}
				p, err := r.Plan(Input{SFDC: fullDeal(t), Now: testNow})
				if err != nil {
					t.Fatal(err)
				}
				return r, planJSON(t, p)
			}
			r, got := plan(true)
			_, want := plan(false)
			if !bytes.Equal(got, want) {
				t.Errorf("patched plan:\n%s\nwant\n%s", got, want)
			}
			if r.flatEnv != tc.flat {
				t.Errorf("flat environment %v, want %v", r.flatEnv, tc.flat)
			}
		})
	}
}

// textOf, which patched programs call for string(x), gives expr's
// string(x) for every kind of value, and the patched call is there.
func TestTextOfIsBuiltinString(t *testing.T) {
	when := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	values := []any{"", "text", json.Number("12.50"), 7, int64(-3), 1.5, true, nil, when,
		[]any{"a", 1}, map[string]any{"k": "v"}, &Money{Currency: "EUR", Amount: apd.New(12345, -2)}}
	for _, v := range values {
		got, err := textOf(v)
		if want := builtin.String(v); err != nil || got != want {
			t.Errorf("textOf(%#v) = %#v, %v; want %#v", v, got, err, want)
		}
	}
	r, err := Compile("text.yaml", []byte("version: 1\nsteps:\n  - name: s\n    table: t\n    match: {k: 'string(sfdc.Name)'}\n    on_multiple: skip\n"))
	if err != nil {
		t.Fatal(err)
	}
	if run := r.steps[0].match[0].prog.run.Disassemble(); !strings.Contains(run, textFn) {
		t.Errorf("string(sfdc.Name) runs as\n%s", run)
	}
}
