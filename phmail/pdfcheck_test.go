package phmail

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// objStmPDF builds a PDF 1.5 whose JavaScript open action (object 6) sits,
// Flate-compressed, in an object stream (object 7) indexed by an xref
// stream (object 8): invisible to a scan of the raw bytes.
func objStmPDF(t *testing.T) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	const head = "6 0 "
	zw.Write([]byte(head + "<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\);) >>"))
	zw.Close()
	content := "BT /F1 14 Tf 24 60 Td (Hidden script) Tj ET"
	direct := map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>",
		2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		4: fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		5: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		7: fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", len(head), z.Len(), z.String()),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	for _, n := range []int{1, 2, 3, 4, 5, 7} {
		offsets[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, direct[n])
	}
	offsets[8] = b.Len()
	var xref bytes.Buffer
	entry := func(typ byte, f2 uint32, f3 uint16) {
		xref.WriteByte(typ)
		binary.Write(&xref, binary.BigEndian, f2)
		binary.Write(&xref, binary.BigEndian, f3)
	}
	entry(0, 0, 0xffff)
	for n := 1; n <= 8; n++ {
		if n == 6 {
			entry(2, 7, 0) // in object stream 7, index 0
			continue
		}
		entry(1, uint32(offsets[n]), 0)
	}
	fmt.Fprintf(&b, "8 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", xref.Len())
	b.Write(xref.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", offsets[8])
	return b.Bytes()
}

// testChecker is a checker with the default limits.
func testChecker() *pdfChecker { return newPDFChecker(Limits{}.WithDefaults()) }

// TestActiveContentInObjectStreams checks that active content is found in
// the parsed objects, not in the raw bytes.
func TestActiveContentInObjectStreams(t *testing.T) {
	pdf := objStmPDF(t)
	if bytes.Contains(pdf, []byte("JavaScript")) {
		t.Fatal("the script is visible in the raw bytes; the test would prove nothing")
	}
	v := testChecker().check(context.Background(), pdf)
	if v.usable || len(v.warnings) != 1 || !strings.Contains(v.warnings[0], "JavaScript action (object 6)") {
		t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
	}
}

func TestCheckPDFGuards(t *testing.T) {
	pdf, err := os.ReadFile("testdata/contract.pdf")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		inspect func(context.Context, []byte, int64) verdict
		want    string
	}{
		{"panic", func(context.Context, []byte, int64) verdict { panic("broken xref") }, "pdfcpu stopped on this file (broken xref)"},
		{"time limit", func(ctx context.Context, _ []byte, _ int64) verdict {
			<-ctx.Done()
			time.Sleep(time.Millisecond) // finish after the checker gave up
			return verdict{usable: true}
		}, "could not be checked: the check took longer than 50ms"},
		{"valid", inspectPDF, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := newPDFChecker(Limits{PDFCheckTimeout: 50 * time.Millisecond}.WithDefaults())
			ch.inspect = c.inspect
			v := ch.check(context.Background(), pdf)
			if c.want == "" {
				if !v.usable || len(v.warnings) != 0 {
					t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
				}
				return
			}
			if v.usable || len(v.warnings) != 1 || !strings.Contains(v.warnings[0], c.want) {
				t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
			}
		})
	}
}

// TestCheckSlots checks that a check that ran out of time keeps its slot
// until pdfcpu has really stopped, so that abandoned checks cannot pile up.
func TestCheckSlots(t *testing.T) {
	pdf, err := os.ReadFile("testdata/contract.pdf")
	if err != nil {
		t.Fatal(err)
	}
	ch := newPDFChecker(Limits{PDFCheckTimeout: 30 * time.Millisecond, PDFChecksAtOnce: 1}.WithDefaults())
	release := make(chan struct{})
	finished := make(chan struct{})
	ch.inspect = func(context.Context, []byte, int64) verdict {
		<-release // ignores its context, like a decode inside pdfcpu
		close(finished)
		return verdict{usable: true}
	}
	if v := ch.check(context.Background(), pdf); v.usable || !strings.Contains(v.warnings[0], "took longer than 30ms") {
		t.Fatalf("first: usable=%v warnings=%q", v.usable, v.warnings)
	}
	if v := ch.check(context.Background(), pdf); v.usable || !strings.Contains(v.warnings[0], "1 other PDF checks were still running after 30ms") {
		t.Fatalf("second: usable=%v warnings=%q", v.usable, v.warnings)
	}
	close(release)
	<-finished
	ch.inspect = inspectPDF
	deadline := time.Now().Add(5 * time.Second)
	for len(ch.slots) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if v := ch.check(context.Background(), pdf); !v.usable {
		t.Fatalf("after the slot was freed: warnings=%q", v.warnings)
	}
}

func TestHTMLLines(t *testing.T) {
	src := `<html><head><title>T</title><style>p{}</style></head><body>
<p>Hello&nbsp;<b>World</b></p><table><tr><td><b>ECC ID:</b></td><td> 12 </td></tr></table>
<ul><li>one</li><li>two<br>lines</li></ul><pre>a  b
c</pre><script>x()</script></body></html>`
	got := strings.Join(nonEmpty(htmlLines(src, 1000)), "|")
	want := "Hello World|ECC ID: 12|- one|- two|lines|a  b|c"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if n := len(htmlLines(strings.Repeat("<p>x</p>", 1000), 100)); n > 101 {
		t.Fatalf("token bound ignored: %d lines", n)
	}
}

func nonEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
