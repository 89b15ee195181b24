package sfdc_test

import (
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
)

// BenchmarkDecodeValidate measures Decode and Validate on the full example
// deal (12 line items, 4 sales-team members).
func BenchmarkDecodeValidate(b *testing.B) {
	raw := readPayload(b, "deal-full.json")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := sfdc.Decode[sfdc.Opportunity](raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			b.Fatal(err)
		}
	}
}
