package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/expr-lang/expr/builtin"
	exprruntime "github.com/expr-lang/expr/vm/runtime"
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
	compileAll := func(opts ...Option) []*Rules {
		t.Helper()
		var out []*Rules
		for _, f := range files {
			r, err := LoadFile(f, opts...)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	patched, checked := compileAll(), compileAll(asChecked())
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
			plan := func(opts ...Option) (*Rules, []byte) {
				r, err := Compile("flat.yaml", []byte(src), opts...)
				if err != nil {
					t.Fatal(err)
				}
				p, err := r.Plan(Input{SFDC: fullDeal(t), Now: testNow})
				if err != nil {
					t.Fatal(err)
				}
				return r, planJSON(t, p)
			}
			r, got := plan()
			_, want := plan(asChecked())
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

// Members read through memberOf and helpers called typed give what expr's
// own reads and calls give, errors and their positions included, and are
// patched where they can be: a read by reflection, or a call through an
// argument slice, allocates on every plan.
func TestMemberReadsAsChecked(t *testing.T) {
	// The vars are of types the checker does not know, as a foreach item
	// or a helper's result can be.
	const head = "version: 1\nvars:\n  acct: 'coalesce(sfdc.Account)'\n  items: 'coalesce(sfdc.OpportunityLineItems.records)'\n  none: 'coalesce(nil)'\n" +
		"steps:\n  - name: s\n    table: t\n    match: {k: '\"k\"'}\n    on_multiple: skip\n    fields:\n      f: "
	cases := []struct {
		expr    string
		patched bool // a read is a memberOf call, or a call is typed
		fails   bool
	}{
		{`sfdc.Name`, true, false},
		{`vars.acct.Name`, true, false},
		{`vars.acct.No_Such__c == nil`, true, false},
		{`vars.acct["Name"]`, true, false},
		{`vars.acct?.Name`, false, false},      // an optional read stays expr's
		{`sfdc.Account?.Name`, true, false},    // the first read is patched
		{`vars.none?.Name.Other`, true, false}, // the chain skips the patched read: nil
		{`vars.acct.Name.Other`, true, true},   // a member of a text
		{`vars.none.Name`, true, true},         // a member of nil
		{`vars.items[0].Name__c`, true, false},
		{`vars.items[-1].Name__c`, true, false}, // from the end, as expr reads it
		{`vars.items[99].Name__c`, true, true},  // out of range
		{`vars.items["x"]`, true, true},         // a list read by name
		{`map(sfdc.OpportunityLineItems.records, .Name__c)`, true, false},
		{`map(sfdc.OpportunityLineItems.records, string(.Quantity ?? ""))`, true, false},
		{`filter(vars.items, {let n = string(.Name__c ?? ""); n contains "AEM"})[0].Name__c`, true, false},
		{`ph.company_name`, true, false}, // the email's fields, a map[string]any too
		{`record.number`, false, false},  // a struct's field: expr reads it directly
		// Helpers called typed, their errors included.
		{`omitEmpty(vars.none)`, true, false},
		{`omitEmpty(record.number)`, true, false},
		{`weekday(now)`, true, false},
		{`weekday(vars.acct)`, true, true},
		{`moneyText("EUR", 1234.5)`, true, false},
		{`moneyText(" ", 1)`, true, true},
		{`moneyText("EUR", "12,5")`, true, true},
	}
	for _, tc := range cases {
		src := head + "'string(" + strings.ReplaceAll(tc.expr, "'", "''") + ")'\n"
		plan := func(opts ...Option) (*Rules, string, error) {
			r, err := Compile("member.yaml", []byte(src), opts...)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
			if err != nil {
				return r, "", err
			}
			return r, p.Steps[0].Fields["f"].Literal, nil
		}
		r, got, gotErr := plan()
		_, want, wantErr := plan(asChecked())
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: patched %q, %v; as checked %q, %v", tc.expr, got, gotErr, want, wantErr)
		}
		if (wantErr != nil) != tc.fails {
			t.Errorf("%s: error %v, want one: %v", tc.expr, wantErr, tc.fails)
		}
		run := r.steps[0].fields[0].prog.run.Disassemble()
		typed := false // string(...) around each case is typed anyway
		for _, f := range envFuncs {
			typed = typed || (f.helper != textFn && strings.Contains(run, f.name))
		}
		if typed != tc.patched {
			t.Errorf("%s: patched %v, want %v:\n%s", tc.expr, !tc.patched, tc.patched, run)
		}
		if strings.Contains(run, "OpCall ") {
			t.Errorf("%s: a call by reflection:\n%s", tc.expr, run)
		}
	}
}

// memberOf reads what expr's Fetch reads for every kind of value.
func TestMemberOfIsFetch(t *testing.T) {
	n := 2
	cases := []struct{ from, key any }{
		{map[string]any{"a": 1}, "a"},
		{map[string]any{"a": 1}, "b"},
		{map[string]any{"a": 1}, &[]string{"a"}[0]}, // a pointer key is followed
		{[]any{"x", "y", "z"}, 1},
		{[]any{"x", "y", "z"}, -1},
		{[]any{"x", "y", "z"}, &n},
		{map[string]string{"a": "b"}, "a"},
		{&RecordInfo{Number: "BB1"}, "Number"},
		{"abc", 0},
	}
	for _, tc := range cases {
		if got, want := memberOf(tc.from, tc.key), exprruntime.Fetch(tc.from, derefKey(tc.key)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("memberOf(%#v, %#v) = %#v, want %#v", tc.from, tc.key, got, want)
		}
	}
	for _, tc := range []struct{ from, key any }{{nil, "a"}, {[]any{1}, 5}, {[]any{1}, "a"}, {"abc", "a"}} {
		got, want := panicOf(func() { memberOf(tc.from, tc.key) }), panicOf(func() { exprruntime.Fetch(tc.from, tc.key) })
		if got == "" || got != want {
			t.Errorf("memberOf(%#v, %#v) panics %q, want %q", tc.from, tc.key, got, want)
		}
	}
}

func panicOf(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return ""
}
