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

// BenchmarkPlanImpactPair makes the two plans Impact makes of one record:
// with the reference rules and with reference-next.yaml, sharing a Memo
// that Impact's worker resets for each record.
func BenchmarkPlanImpactPair(b *testing.B) {
	cur := loadReference(b)
	next, err := LoadFile("../examples/mappings/reference-next.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sf := fullDeal(b)
	memo := NewMemo()
	b.ReportAllocs()
	for b.Loop() {
		memo.Reset()
		in := Input{SFDC: sf, PH: testPH(), Record: testRecord(), Now: testNow, Memo: memo}
		for _, r := range []*Rules{cur, next} {
			if _, err := r.Plan(in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
