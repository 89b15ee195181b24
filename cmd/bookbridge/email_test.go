package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmailParseCommand(t *testing.T) {
	full := "../../examples/emails/ph-deal-full.eml"
	first := "../../examples/emails/ph-email-first.eml"
	notPH := "../../phmail/testdata/11-not-ph.eml"
	missing := "../../phmail/testdata/12-missing-fields.eml"
	active := "../../phmail/testdata/10-active-content-pdf.eml"
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"parsed", []string{"email", "parse", full}, 0, []string{"ph-deal-full.eml: parsed", "ecc_id:             0001234567",
			"dr_number:          DR00004711", "company_name:       Müller & Søn Größe GmbH", "sales_order_number: 4500012345",
			"attachment: Contract_DR00004711.pdf  application/pdf", "pdf usable"}},
		{"email first", []string{"email", "parse", first}, 0, []string{"ecc_id:             0009876543", "DR00009876"}},
		{"not ph", []string{"email", "parse", full, notPH}, 1, []string{"ph-deal-full.eml: parsed", "11-not-ph.eml: rejected (not_ph)"}},
		{"missing", []string{"email", "parse", missing}, 1, []string{"rejected (missing_fields)", "missing: ECC ID:", "missing: DR number"}},
		{"active content", []string{"email", "parse", active}, 0, []string{"NOT USABLE", "warning: active content: JavaScript"}},
		{"no files", []string{"email", "parse"}, 2, nil},
		{"missing file", []string{"email", "parse", "nope.eml"}, 2, nil},
		{"bad flag", []string{"email", "parse", "--nope", full}, 2, nil},
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

func TestEmailParseJSON(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "empty.eml")
	if err := os.WriteFile(junk, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCLI(t, "email", "parse", "../../examples/emails/ph-deal-full-html-forward.eml", junk, "--json")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var reps []struct {
		File    string `json:"file"`
		Parsed  bool   `json:"parsed"`
		Kind    string `json:"kind"`
		Message *struct {
			ECCID       string `json:"ecc_id"`
			Attachments []struct {
				FileName string `json:"file_name"`
				SHA256   string `json:"sha256"`
				Usable   bool   `json:"usable"`
				Data     []byte `json:"data"`
			} `json:"attachments"`
		} `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(reps) != 2 || !reps[0].Parsed || reps[0].Message.ECCID != "0001234567" || reps[1].Parsed || reps[1].Kind != "malformed" {
		t.Fatalf("reports: %s", out)
	}
	a := reps[0].Message.Attachments
	if len(a) != 1 || a[0].FileName != "Contract_DR00004711.pdf" || len(a[0].SHA256) != 64 || !a[0].Usable || a[0].Data != nil {
		t.Fatalf("attachments: %+v", a)
	}
}
