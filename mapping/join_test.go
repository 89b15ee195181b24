package mapping

import (
	"strings"
	"testing"
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
		if joined := fields[i].prog.run != fields[i].prog.prog; joined != tc.joined {
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
