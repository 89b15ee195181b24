package mapping

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

func TestToValue(t *testing.T) {
	m := func(cur, amount string) *Money {
		d, err := exactDecimal(json.Number(amount))
		if err != nil {
			t.Fatal(err)
		}
		return &Money{Currency: cur, Amount: d}
	}
	cases := []struct {
		name string
		in   any
		want string
		omit bool
	}{
		{"nil omits", nil, "", true},
		{"nil money omits", (*Money)(nil), "", true},
		{"nil ref omits", (*loader.Value)(nil), "", true},
		{"empty text is sent", "", "", false},
		{"text", "Müller & Søn", "Müller & Søn", false},
		{"true", true, "true", false},
		{"false", false, "false", false},
		{"whole quantity", json.Number("1.0"), "1", false},
		{"quantity with fraction", json.Number("2.50"), "2.5", false},
		{"exponent", json.Number("1E+2"), "100", false},
		{"int", 42, "42", false},
		{"float", 99.5, "99.5", false},
		{"date", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "2027-01-01", false},
		{"money two decimals", m("USD", "455000"), "USD;455000.00", false},
		{"money JPY", m("JPY", "1200000"), "JPY;1200000.00", false},
		{"money exact", m("EUR", "495000.75"), "EUR;495000.75", false},
		{"money rounds half up", m("EUR", "10.005"), "EUR;10.01", false},
		{"money large without float error", m("USD", "12345678901234567.89"), "USD;12345678901234567.89", false},
		{"list joined", []any{"José Álvarez", "O'Brien, Siobhán"}, "José Álvarez, O'Brien, Siobhán", false},
		{"string list", []string{"a", "b"}, "a, b", false},
		{"empty list", []any{}, "", false},
		{"list skips nil", []any{"a", nil, "b"}, "a, b", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok, err := toValue(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if ok == c.omit {
				t.Fatalf("ok = %v, want %v", ok, !c.omit)
			}
			if v.Literal != c.want || v.Ref != "" {
				t.Fatalf("got %#v, want %q", v, c.want)
			}
		})
	}
	ref := &loader.Value{Ref: "company"}
	if v, ok, _ := toValue(ref); !ok || v.Ref != "company" {
		t.Fatalf("ref: %#v", v)
	}
	for _, bad := range []any{map[string]any{"a": 1}, []any{ref}, struct{}{}} {
		if _, _, err := toValue(bad); err == nil {
			t.Errorf("%#v: want an error", bad)
		}
	}
}

func TestValueJSONKeepsAmpersand(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]loader.Value{"name": loader.Lit("A & B <C>")}); err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimSpace(buf.Bytes())
	if string(b) != `{"name":"A & B <C>"}` {
		t.Fatalf("got %s", b)
	}
	var back map[string]loader.Value
	if err := json.Unmarshal(b, &back); err != nil || back["name"].Literal != "A & B <C>" {
		t.Fatalf("round trip: %v %#v", err, back)
	}
}

func TestHelpers(t *testing.T) {
	src := `version: 1
params:
  tz: Pacific/Auckland
vars:
  sla: 'regexFind("AEM SITES:MS 99.95% UPTIME", ` + "`(99\\.[0-9]+)\\s*%`" + `)'
  nomatch: 'regexFind("AEM SITES:MS", "99")'
  whole: 'regexFind("abc-123", "[0-9]+")'
  d: 'parseDate("2027-01-01")'
  dt: 'parseDate("2026-11-27T23:30:00.000-0500")'
  plus: 'addDays(vars.d, 30)'
  between: 'daysBetween(parseDate("2026-12-01"), vars.d)'
  local: 'dateIn(now, params.tz)'
  utc: 'dateIn(now, "UTC")'
  wd: 'weekday(vars.d)'
  m: 'money("USD", 12500)'
  mt1: 'moneyText("EUR", 25000)'
  mt2: 'moneyText("JPY", "1234567.005")'
  mt3: 'moneyText("USD", -999.5)'
  mt4: 'moneyText("USD", nil)'
  c1: 'coalesce("", nil, "x")'
  c2: 'coalesce("", nil)'
  e1: 'omitEmpty([])'
  e2: 'omitEmpty("a")'
  hr: '"AEM SITES:MS BASIC HR" matches ` + "`\\bHR\\b`" + `'
  nohr: '"HRM AEM" matches ` + "`\\bHR\\b`" + `'
steps:
  - name: s
    table: t
    on_multiple: fail
    match: {k: '1'}
    fields:
      x: 'lookup("sys_choice", {"name": "core_company", "inactive": false}, "value", "max_number")' 
`
	r, err := Compile("helpers.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) // 8 December 01:00 in Auckland
	x := &run{r: r, vars: map[string]any{}, refs: map[string]any{}}
	ph := map[string]any{}
	fillPH(ph, nil)
	x.env = map[string]any{"sfdc": map[string]any{}, "ph": ph, "record": &RecordInfo{}, "now": now,
		"params": map[string]any{"tz": "Pacific/Auckland"}, "vars": x.vars, "ref": x.refs}
	addEnvFuncs(x.env)
	for _, v := range r.vars {
		out, err := x.eval(v.prog)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		x.setVar(v, out)
	}
	text := func(name string) string {
		v, ok, err := toValue(x.vars[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !ok {
			return "<omitted>"
		}
		return v.Literal
	}
	want := map[string]string{
		"sla": "99.95", "nomatch": "", "whole": "123", "d": "2027-01-01", "dt": "2026-11-27",
		"plus": "2027-01-31", "between": "31", "local": "2026-12-08", "utc": "2026-12-07", "wd": "Friday",
		"m": "USD;12500.00", "mt1": "EUR 25,000.00", "mt2": "JPY 1,234,567.01", "mt3": "USD -999.50", "mt4": "", "c1": "x", "c2": "<omitted>", "e1": "<omitted>", "e2": "a", "hr": "true", "nohr": "false",
	}
	for k, w := range want {
		if got := text(k); got != w {
			t.Errorf("vars.%s = %q, want %q", k, got, w)
		}
	}
	p, err := r.Plan(Input{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Steps[0].Fields["x"].Lookup
	if l == nil || l.Table != "sys_choice" || l.Where["inactive"] != "false" || l.Pick != loader.PickMaxNumber {
		t.Fatalf("lookup: %#v", p.Steps[0].Fields["x"])
	}
}

func TestHelperRuntimeErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{`parseDate("")`, "parseDate: the date is empty"},
		{`parseDate("27.01.2027")`, "is neither a date"},
		{`money("", 12)`, "money: the currency is empty"},
		{`money("USD", "12,5")`, "is not a decimal number"},
		{`lookup("t", {}, "f", "newest")`, "pick must be"},
		{`regexFind("x", sfdc.pattern)`, "not a valid regular expression"},
		{`dateIn(now, sfdc.zone)`, "was not loaded when the rules compiled"},
		{`addDays(sfdc.when, 1)`, "argument 1 must be a date"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			src := "version: 1\ncustom_fields: {pattern: string, zone: string, when: date}\nsteps:\n  - name: s\n    table: t\n    on_multiple: fail\n    fields:\n      x: '" + strings.ReplaceAll(c.expr, "'", "''") + "'\n    match: {k: '1'}\n"
			r, err := Compile("rt.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Plan(Input{SFDC: map[string]any{"pattern": "(", "zone": "Europe/Paris", "when": "2027-01-01"}})
			var pe *PlanError
			if !errorsAs(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a PlanError containing %q, got %v", c.want, err)
			}
			if pe.Where != "step s, fields.x" || pe.Line != 8 || !strings.HasPrefix(err.Error(), "rt.yaml:8:") {
				t.Fatalf("position: %+v", pe)
			}
		})
	}
}

// The short ways toText writes whole numbers give what the decimal
// arithmetic gives.
func TestToTextWholeNumbers(t *testing.T) {
	for _, v := range []any{0, 1, -1, 7, 100, -2500, 1 << 40, int64(-9000000000), int64(0),
		json.Number("0"), json.Number("10"), json.Number("-10"), json.Number("123456789012345678901234567890"),
		json.Number("-0"), json.Number("007"), json.Number("1e2"), json.Number("10.50"), json.Number("-")} {
		got, ok, err := toText(v)
		d, derr := exactDecimal(v)
		if derr != nil {
			if err == nil {
				t.Errorf("%#v: got %q, want the error %v", v, got, derr)
			}
			continue
		}
		if want := decimalText(d); err != nil || !ok || got != want {
			t.Errorf("%#v: got %q %v %v, want %q", v, got, ok, err, want)
		}
	}
}
