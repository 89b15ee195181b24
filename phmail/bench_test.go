package phmail_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/phmail"
)

// largePDF is a valid PDF of about 1.4 MB (a long content stream).
func largePDF() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1_400_000; i++ {
		fmt.Fprintf(&b, ") Tj T* (Clause %d: the parties agree on the managed services described in annex %d", i, i%17)
	}
	return buildPDF("Contract"+b.String(), "")
}

// BenchmarkParse2MB parses a PH email of about 2 MB: a text body and a
// 1.4 MB PDF in base64, PDF check included.
func BenchmarkParse2MB(b *testing.B) {
	raw := []byte(mixed(headers(stdSubject, "bench@ph.example.com"), "bb",
		textPart("bb", "utf-8", "quoted-printable", qp(stdBody)),
		filePart("bb", "application/pdf", "attachment", "Contract_DR00004711.pdf", largePDF())))
	m, err := phmail.Parse(raw)
	if err != nil || len(m.UsablePDFs()) != 1 {
		b.Fatalf("setup: %v %+v", err, m)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := phmail.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
