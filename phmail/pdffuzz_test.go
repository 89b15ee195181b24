package phmail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzCheckPDF feeds arbitrary files to the PDF check: every input must end
// in a verdict (never a panic or a hang), an unusable file must say why, and
// a usable one must have the frame of a PDF.
func FuzzCheckPDF(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.pdf")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, p := range []testPDF{
		{},
		{catalog: " /OpenAction 6 0 R", extra: []string{"<< /S 7 0 R /F (x) >>", "/Launch"}, packed: []int{6, 7}},
		{page: " /Annots [6 0 R]", extra: []string{"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /URI /URI (https://x.example) >> >>"}},
		{content: streamObj("/Filter /FlateDecode", zeros(1<<16, 2))},
		{catalog: " /Names << /Dests 6 0 R >>", extra: []string{"<< /Kids [7 0 R] >>", "<< /Kids [6 0 R] >>"}},
	} {
		f.Add(p.bytes())
	}
	f.Add([]byte("%PDF-1.7\nstartxref\n0\n%%EOF"))
	ch := newPDFChecker(Limits{PDFCheckMemory: 16 << 20, PDFCheckTimeout: 5 * time.Second}.WithDefaults())
	f.Fuzz(func(t *testing.T, data []byte) {
		v := ch.check(context.Background(), data)
		if !v.usable {
			if len(v.warnings) == 0 || strings.TrimSpace(v.warnings[0]) == "" {
				t.Fatalf("unusable without a reason: %q", v.warnings)
			}
			return
		}
		if r := pdfShape(data); r != "" {
			t.Fatalf("usable, but %s", r)
		}
		for _, w := range v.warnings {
			if !strings.HasPrefix(w, "links to the web") {
				t.Fatalf("usable with the warning %q", w)
			}
		}
	})
}
