package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
)

const (
	refRules  = "../../examples/mappings/reference.yaml"
	ootbRules = "../../examples/mappings/servicenow-ootb.yaml"
	fullDeal  = "../../examples/payloads/deal-full.json"
	fullEmail = "../../examples/emails/ph-deal-full.eml"
)

func TestMappingCheck(t *testing.T) {
	dir := t.TempDir()
	required := filepath.Join(dir, "required.yaml")
	if err := os.WriteFile(required, []byte("version: 1\nparams:\n  who:\nsteps:\n  - name: a\n    table: t\n    on_multiple: fail\n    match:\n      x: params.who\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken, err := filepath.Glob("../../mapping/testdata/broken/*.yaml")
	if err != nil || len(broken) == 0 {
		t.Fatalf("no broken rule files: %v", err)
	}
	problemLine := regexp.MustCompile(`^[^:]+\.yaml:\d+:\d+: \S`)
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"examples are valid", []string{"mapping", "check", refRules, ootbRules}, 0, []string{"reference.yaml: ok (4 steps: company, finance_name, sales_order, skus)", "servicenow-ootb.yaml: ok"}},
		{"broken files", append([]string{"mapping", "check"}, broken...), 1, []string{"type-error.yaml:10:25: step company, fields.name: invalid operation"}},
		{"required param missing", []string{"mapping", "check", required}, 1, []string{"required.yaml:3:3: param who has no default"}},
		{"required param given", []string{"mapping", "check", "--param", "who=someone", required}, 0, []string{"required.yaml: ok"}},
		{"unknown param", []string{"mapping", "check", "--param", "nope=1", refRules}, 1, []string{"a value was given for param \"nope\""}},
		{"no files", []string{"mapping", "check"}, 2, nil},
		{"missing file", []string{"mapping", "check", "nope.yaml"}, 2, nil},
		{"bad param flag", []string{"mapping", "check", "--param", "novalue", refRules}, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			for _, s := range c.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if code == 1 {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasSuffix(line, ")") && !problemLine.MatchString(line) && !strings.Contains(line, ": ok (") {
						t.Errorf("not a FILE:LINE:COL: message line: %q", line)
					}
				}
			}
		})
	}
}

func TestMappingPlan(t *testing.T) {
	args := []string{"mapping", "plan", "--rules", refRules, "--payload", fullDeal, "--email", fullEmail,
		"--now", "2026-12-08T09:30:00Z", "--record", "BB0000042", "--param", "problem_assigned_to=ops-queue"}
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p loader.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not a plan: %v\n%s", err, out)
	}
	if p.Record != "BB0000042" || p.Params["problem_assigned_to"] != "ops-queue" || len(p.Steps) != 9 {
		t.Fatalf("plan: record %s params %v steps %d", p.Record, p.Params, len(p.Steps))
	}
	company := p.Steps[0]
	if company.Exception.Fields["due_date"].Literal != "2026-12-14" || company.Exception.Fields["assigned_to"].Literal != "ops-queue" {
		t.Errorf("problem ticket: %v", company.Exception.Fields)
	}
	if company.Fields["u_customer_contact"].Literal == "it-buyer@mueller-soehne.example" {
		t.Error("the email's deploy-to address must replace Salesforce's contact")
	}
	so := p.Steps[2]
	if len(so.Attach) == 0 || !strings.HasSuffix(strings.ToLower(so.Attach[0].FileName), ".pdf") || so.Attach[0].SHA256 == "" {
		t.Errorf("the email's PDF must go onto the sales order: %+v", so.Attach)
	}
	if !strings.Contains(out, "Müller & Søn") {
		t.Error("the plan escapes & in names")
	}
	again, _, _ := runCLI(t, args...)
	if again != out {
		t.Error("the same input printed two different plans")
	}
}

func TestMappingPlanPHFile(t *testing.T) {
	dir := t.TempDir()
	ph := filepath.Join(dir, "ph.json")
	if err := os.WriteFile(ph, []byte(`{"deploy_to_email": "ops@example.com", "company_name": "Other Name GmbH"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "mapping", "plan", "--rules", refRules, "--payload", fullDeal, "--ph", ph, "--now", "2026-12-07T00:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p loader.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Fields["u_customer_contact"].Literal != "ops@example.com" {
		t.Errorf("contact %v", p.Steps[0].Fields)
	}
	// The company differs from Salesforce's; the sample deal's line 6 has no SKU.
	if len(p.Warnings) != 2 || !strings.Contains(p.Warnings[0], "Other Name GmbH") || !strings.Contains(p.Warnings[1], "line 6 ") {
		t.Errorf("warnings %q", p.Warnings)
	}
}

func TestMappingPlanErrors(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no rules", []string{"mapping", "plan", "--payload", fullDeal}, 2, "needs --rules"},
		{"no payload", []string{"mapping", "plan", "--rules", refRules}, 2, "needs --rules"},
		{"bad now", []string{"mapping", "plan", "--rules", refRules, "--payload", fullDeal, "--now", "yesterday"}, 2, "RFC 3339"},
		{"broken rules", []string{"mapping", "plan", "--rules", "../../mapping/testdata/broken/type-error.yaml", "--payload", fullDeal}, 1, "type-error.yaml:10:25:"},
		{"payload not JSON", []string{"mapping", "plan", "--rules", refRules, "--payload", refRules}, 2, "--payload"},
		{"missing email", []string{"mapping", "plan", "--rules", refRules, "--payload", fullDeal, "--email", "nope.eml"}, 2, "nope.eml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), c.args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
			// What main prints: the command's stderr, then the error.
			msg := errb.String()
			if err != nil {
				msg += err.Error()
			}
			if code := exitCode(err); code != c.code || !strings.Contains(msg, c.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q lacks %q", code, c.code, msg, c.stderr)
			}
		})
	}
}
