package sfdc_test

import (
	"errors"
	"os"
	"path/filepath"
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
		`{"CloseDate":"2026-13-01"}`, `{"Quantity":1e400}`, `{"Account":{"Name":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := sfdc.Decode[sfdc.Opportunity](body, sfdc.WithMaxBytes(1<<20))
		if err != nil {
			var de *sfdc.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode returned %T, want *DecodeError: %v", err, err)
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
