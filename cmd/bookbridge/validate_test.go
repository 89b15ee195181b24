package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exitCode(err)
}

func TestValidateCommand(t *testing.T) {
	full := "../../examples/payloads/deal-full.json"
	bad := "../../examples/payloads/invalid-many-problems.json"
	// Wrong types and a control character are listed with the rules'
	// problems, as the intake answers them.
	types := filepath.Join(t.TempDir(), "types.json")
	raw := replaceOnce(t, must(os.ReadFile(full)), `"CloseDate": "2026-11-20"`, `"CloseDate": "2026-13-01"`,
		`"Quantity": 1,`, `"Quantity": "one",`, `"StageName": "Closed Booked"`, `"StageName": "Closed\u0000Booked"`)
	if err := os.WriteFile(types, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"valid", []string{"validate", full}, 0, []string{"deal-full.json: valid"}},
		{"invalid", []string{"validate", full, bad}, 1, []string{"deal-full.json: valid", "4 problem(s)", "/StageName:", "[iso4217]"}},
		{"wrong types", []string{"validate", types}, 1, []string{"4 problem(s)", "/CloseDate:", "/OpportunityLineItems/records/0/Quantity:", "[type]", "/StageName:", "[control_char]", "[stage]"}},
		{"no files", []string{"validate"}, 2, nil},
		{"missing file", []string{"validate", "nope.json"}, 2, nil},
		{"bad flag", []string{"validate", "--nope", full}, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, code := runCLI(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, c.code, out)
			}
			for _, s := range c.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "x.json")
	os.WriteFile(notJSON, []byte(`{"a":1,"a":2}`), 0o600)
	out, _, code := runCLI(t, "validate", "--json", "../../examples/payloads/invalid-quantity.json", notJSON)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var reps []validateReport
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(reps) != 2 || len(reps[0].Problems) != 1 || reps[0].Problems[0].Path != "/OpportunityLineItems/records/2/Quantity" {
		t.Fatalf("reports: %+v", reps)
	}
	if !strings.Contains(reps[1].Error, "duplicate key") {
		t.Fatalf("duplicate key not reported: %+v", reps[1])
	}
	// Flags after the file names work too.
	_, _, code = runCLI(t, "validate", "../../examples/payloads/deal-full.json", "--json")
	if code != 0 {
		t.Fatalf("flag after file: exit %d", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, _, code := runCLI(t, "frobnicate"); code != 2 {
		t.Fatalf("exit %d", code)
	}
	out, _, code := runCLI(t, "help")
	if code != 0 || !strings.Contains(out, "validate") {
		t.Fatalf("help: %d %s", code, out)
	}
}
