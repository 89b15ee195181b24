package sfdc_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bookbridge/bookbridge/sfdc"
)

// FuzzDecodeValidate feeds arbitrary bodies through Decode and Validate: each
// must end in a value or an error of the documented kinds, never a panic.
func FuzzDecodeValidate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"Id":1}`, `{"a":1,"a":2}`, "{\"x\":\"\xff\"}",
		`{"OpportunityLineItems":null}`, `{"OpportunityLineItems":{"records":[null]}}`,
		`{"CloseDate":"2026-13-01"}`, `{"Quantity":1e400}`, `{"Account":{"Name":null}}`,
		// Hostile inputs: wrong types everywhere, control characters in
		// values, names and undeclared members, huge exponents and
		// coefficients, lists over the records limit.
		`{"CloseDate":"2026-13-01","Total_Extended_Price__c":"abc","Account":"Acme","StageName":{},"OpportunityLineItems":{"totalSize":"x","done":1,"records":[7,{"Quantity":[1]},null]}}`,
		`{"Account":{"Name":"a\u0000b"},"x\u0001":"\b\f","y":["\u001f","\\u0000"]}`,
		`{"OpportunityLineItems":{"records":[{"Quantity":1e100000,"TotalPrice":-1e-100000}]},"Total_Extended_Price__c":1e2147483648}`,
		`{"OpportunityLineItems":{"records":[{"Quantity":` + strings.Repeat("9", 5000) + `}]}}`,
		`{"OpportunityLineItems":{"records":[` + strings.Repeat("{},", 40) + `{}]},"Adobe_Sales_Team__r":{"records":[` + strings.Repeat("[],", 40) + `1]}}`,
		`{"Account":{"Name":"x","Name":"y"},"CloseDate":5}`,
		`{"OpportunityLineItems":{"records":[{"Quantity":1,"Quantity":"x"}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeAndValidate(t, body)
		d, err := sfdc.Decode[sfdc.Opportunity](body, sfdc.WithMaxBytes(1<<20), sfdc.WithMaxRecords(16))
		if err != nil {
			var de *sfdc.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode returned %T, want *DecodeError: %v", err, err)
			}
			if (errors.Is(err, sfdc.ErrWrongShape) || errors.Is(err, sfdc.ErrTooManyItems)) && len(de.Problems) == 0 {
				t.Fatalf("Decode: %v without its problems", err)
			}
			return
		}
		if len(d.Hash) != 64 {
			t.Fatalf("hash %q", d.Hash)
		}
		if !utf8.Valid(body) { // Decode leaves this check to json v2
			t.Fatalf("accepted a body that is not UTF-8: %q", body)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			var ve *sfdc.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Validate returned %T: %v", err, err)
			}
			for _, p := range ve.Problems {
				if p.Path == "" || p.Path[0] != '/' || p.Rule == "" || p.Message == "" {
					t.Fatalf("incomplete problem %+v", p)
				}
			}
		}
	})
}

// checkDecodeAndValidate: DecodeAndValidate answers a *DecodeError, a
// *ValidationError of complete problems within MaxProblems, or a deal of
// which no string holds a refused control character.
func checkDecodeAndValidate(t *testing.T, body []byte) {
	d, err := sfdc.DecodeAndValidate[sfdc.Opportunity](body, sfdc.WithMaxBytes(1<<20), sfdc.WithMaxRecords(16))
	var de *sfdc.DecodeError
	var ve *sfdc.ValidationError
	switch {
	case err == nil:
		if d == nil || !utf8.Valid(body) {
			t.Fatalf("accepted %q without a deal or with invalid UTF-8", body)
		}
		for _, s := range []string{d.Value.ID, d.Value.StageName, d.Value.Name, d.Value.Account.Name, d.Value.CurrencyIsoCode} {
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' }) {
				t.Fatalf("accepted a control character in %q", s)
			}
		}
		if len(d.Value.LineItems.Records) > 16 {
			t.Fatalf("accepted %d line items over the limit of 16", len(d.Value.LineItems.Records))
		}
	case errors.As(err, &de):
	case errors.As(err, &ve):
		if len(ve.Problems) == 0 || len(ve.Problems) > sfdc.MaxProblems {
			t.Fatalf("%d problems listed", len(ve.Problems))
		}
		for _, p := range ve.Problems {
			if p.Path == "" || p.Path[0] != '/' || p.Rule == "" || p.Message == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
	default:
		t.Fatalf("DecodeAndValidate returned %T: %v", err, err)
	}
}
