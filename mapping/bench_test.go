package mapping

import (
	"os"
	"testing"
)

// BenchmarkPlanReference makes the reference rules' plan of the full
// example deal (7 managed-services lines, email fields, attachments).
func BenchmarkPlanReference(b *testing.B) {
	r := loadReference(b)
	in := Input{SFDC: fullDeal(b), PH: testPH(), Record: testRecord(), Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Plan(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileReference compiles the reference rules.
func BenchmarkCompileReference(b *testing.B) {
	for b.Loop() {
		loadReference(b)
	}
}

// BenchmarkSFDCFromJSON decodes the full example deal.
func BenchmarkSFDCFromJSON(b *testing.B) {
	raw, err := os.ReadFile(fullPayload)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SFDCFromJSON(raw); err != nil {
			b.Fatal(err)
		}
	}
}
