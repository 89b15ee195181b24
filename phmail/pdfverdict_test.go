package phmail

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// The dangerous actions, as an action dictionary without its /S, and the
// words the warning uses.
var dangerousActions = []struct {
	s, rest, finding string
}{
	{"JavaScript", "/JS (app.alert\\(1\\))", "JavaScript action"},
	{"Launch", "/F (calc.exe)", "Launch action"},
	{"GoToR", "/F (\\\\\\\\files.example\\\\share\\\\x.pdf) /D [0 /Fit]", "GoToR action"},
	{"GoToE", "/D [0 /Fit] /T << /R /C /N (a.pdf) >>", "GoToE action"},
	{"ImportData", "/F (data.fdf)", "ImportData action"},
	{"SubmitForm", "/F << /FS /URL /F (https://collect.example/s) >>", "SubmitForm action"},
}

// hidings place an action (given as its /S name and the rest of its
// dictionary) somewhere in a PDF. Every form must be found.
var hidings = []struct {
	name   string
	hidden bool // the action's name does not appear plainly in the file
	build  func(s, rest string) testPDF
}{
	{"open action direct", false, func(s, rest string) testPDF {
		return testPDF{catalog: " /OpenAction << /S /" + s + " " + rest + " >>"}
	}},
	{"indirect object", false, func(s, rest string) testPDF {
		return testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< /S /" + s + " " + rest + " >>"}}
	}},
	{"indirect /S", false, func(s, rest string) testPDF {
		return testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< /S 7 0 R " + rest + " >>", "/" + s}}
	}},
	{"object stream", true, func(s, rest string) testPDF {
		return testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< /Type /Action /S /" + s + " " + rest + " >>"}, packed: []int{6}}
	}},
	{"hex-escaped name", true, func(s, rest string) testPDF {
		return testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< " + hexName("S") + " " + hexName(s) + " " + rest + " >>"}}
	}},
	{"link annotation", false, func(s, rest string) testPDF {
		return testPDF{page: " /Annots [6 0 R]", extra: []string{
			"<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] /Border [0 0 0] /A 7 0 R >>",
			"<< /S /" + s + " " + rest + " >>"}}
	}},
	{"page additional action", false, func(s, rest string) testPDF {
		return testPDF{page: " /AA << /O 6 0 R >>", extra: []string{"<< /S /" + s + " " + rest + " >>"}}
	}},
	{"name tree", false, func(s, rest string) testPDF {
		return testPDF{catalog: " /Names << /Dests 6 0 R >>", extra: []string{
			"<< /Kids [7 0 R] >>",
			"<< /Limits [(a) (a)] /Names [(a) << /D [3 0 R /Fit] /Next 8 0 R >>] >>",
			"<< /S /" + s + " " + rest + " >>"}}
	}},
	{"end of an action chain", false, func(s, rest string) testPDF {
		p := testPDF{catalog: " /OpenAction 6 0 R"}
		for i := 0; i < 20; i++ {
			p.extra = append(p.extra, fmt.Sprintf("<< /S /GoTo /D [3 0 R /Fit] /Next %d 0 R >>", 7+i))
		}
		p.extra = append(p.extra, "<< /S /"+s+" "+rest+" >>")
		return p
	}},
}

// TestDangerousActions checks every dangerous action in every hiding form.
func TestDangerousActions(t *testing.T) {
	for _, a := range dangerousActions {
		for _, h := range hidings {
			t.Run(a.s+"/"+h.name, func(t *testing.T) {
				pdf := h.build(a.s, a.rest).bytes()
				if h.hidden && bytes.Contains(pdf, []byte("/"+a.s)) {
					t.Fatal("the action's name is written plainly; the form would prove nothing")
				}
				v := testChecker().check(context.Background(), pdf)
				if v.usable || len(v.warnings) == 0 || !strings.HasPrefix(v.warnings[0], "active content: ") || !strings.Contains(v.warnings[0], a.finding) {
					t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
				}
			})
		}
	}
}

// TestActiveContentKinds checks the content that is not an action.
func TestActiveContentKinds(t *testing.T) {
	cases := []struct {
		name    string
		pdf     testPDF
		finding string
	}{
		{"document JavaScript name tree", testPDF{catalog: " /Names << /JavaScript << /Names [(init) 6 0 R] >> >>",
			extra: []string{"<< /S /JavaScript /JS (this.print\\(\\)) >>"}}, "document JavaScript"},
		{"JS key alone", testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< /JS 7 0 R >>", "(app.alert\\(1\\))"}}, "JavaScript (object 6)"},
		{"embedded file", testPDF{catalog: " /Names << /EmbeddedFiles << /Names [(a.exe) 6 0 R] >> >>",
			extra: []string{"<< /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>", streamObj("/Type /EmbeddedFile", []byte("MZ"))}}, "embedded file"},
		{"embedded file hex-escaped", testPDF{extra: []string{streamObj(hexName("Type")+" "+hexName("EmbeddedFile"), []byte("MZ"))}}, "embedded file (object 6)"},
		{"XFA form", testPDF{catalog: " /AcroForm << /Fields [] /XFA 6 0 R >>", extra: []string{streamObj("", []byte("<xdp:xdp/>"))}}, "XFA form"},
		{"rich media annotation", testPDF{page: " /Annots [6 0 R]",
			extra: []string{"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] /RichMediaContent << >> >>"}}, "rich media"},
		{"in an object stream", testPDF{catalog: " /Names << /EmbeddedFiles 6 0 R >>",
			extra: []string{"<< /Names [] >>"}, packed: []int{6, 5}}, "embedded files (object 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := testChecker().check(context.Background(), c.pdf.bytes())
			if v.usable || len(v.warnings) == 0 || !strings.HasPrefix(v.warnings[0], "active content: ") || !strings.Contains(v.warnings[0], c.finding) {
				t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
			}
		})
	}
}

// TestDepthVerdicts checks that what lies beyond the scan depth makes the
// file unusable instead of going unseen, and that ordinary depth passes.
func TestDepthVerdicts(t *testing.T) {
	chain := func(n int, last string) testPDF {
		p := testPDF{catalog: " /OpenAction 6 0 R"}
		for i := 0; i < n-1; i++ {
			p.extra = append(p.extra, fmt.Sprintf("<< /S /GoTo /D [3 0 R /Fit] /Next %d 0 R >>", 7+i))
		}
		return testPDF{catalog: p.catalog, extra: append(p.extra, last)}
	}
	nested := func(n int) string {
		s := "<< /S /GoTo /D [3 0 R /Fit] >>"
		for range n {
			s = "<< /S /GoTo /D [3 0 R /Fit] /Next " + s + " >>"
		}
		return s
	}
	kids := func(n int) testPDF {
		p := testPDF{catalog: " /Names << /Dests 6 0 R >>"}
		for i := 0; i < n-1; i++ {
			p.extra = append(p.extra, fmt.Sprintf("<< /Kids [%d 0 R] >>", 7+i))
		}
		p.extra = append(p.extra, "<< /Limits [(a) (a)] /Names [(a) [3 0 R /Fit]] >>")
		return p
	}
	cases := []struct {
		name   string
		pdf    testPDF
		usable bool
		want   string
	}{
		{"chain of 32 actions", chain(32, "<< /S /GoTo /D [3 0 R /Fit] >>"), true, ""},
		{"chain of 40 harmless actions", chain(40, "<< /S /GoTo /D [3 0 R /Fit] >>"), false, "action chain (/Next) or object tree (/Kids) from object 6 is more than 32 levels deep"},
		{"script after 40 actions", chain(40, "<< /S /JavaScript /JS (x) >>"), false, "JavaScript action (object 45)"},
		{"direct nesting of 40", testPDF{catalog: " /OpenAction " + nested(40)}, false, "object 1 nests more than 32 levels deep"},
		{"name tree 40 deep", kids(40), false, "more than 32 levels deep"},
		{"name tree 4 deep", kids(4), true, ""},
		{"looping chain", testPDF{catalog: " /OpenAction 6 0 R", extra: []string{"<< /S /GoTo /D [3 0 R /Fit] /Next 7 0 R >>", "<< /S /GoTo /D [3 0 R /Fit] /Next 6 0 R >>"}}, false, "circular action chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := testChecker().check(context.Background(), c.pdf.bytes())
			if v.usable != c.usable {
				t.Fatalf("usable=%v, want %v; warnings=%q", v.usable, c.usable, v.warnings)
			}
			if c.want != "" && !strings.Contains(strings.Join(v.warnings, "\n"), c.want) {
				t.Fatalf("warnings=%q, want %q", v.warnings, c.want)
			}
			if c.usable && len(v.warnings) != 0 {
				t.Fatalf("warnings=%q", v.warnings)
			}
		})
	}
}

// TestURIWarning checks that a web link keeps the file usable and tells
// the operator where it leads.
func TestURIWarning(t *testing.T) {
	p := testPDF{page: " /Annots [6 0 R]", extra: []string{
		"<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] /Border [0 0 0] /A << /S /URI /URI (https://phish.example/login) >> >>"}}
	v := testChecker().check(context.Background(), p.bytes())
	if !v.usable || len(v.warnings) != 1 || !strings.Contains(v.warnings[0], `links to the web`) || !strings.Contains(v.warnings[0], `"https://phish.example/login" (object 6)`) {
		t.Fatalf("usable=%v warnings=%q", v.usable, v.warnings)
	}
	p.extra = append(p.extra, "<< /S /Launch /F (x.exe) >>")
	v = testChecker().check(context.Background(), p.bytes())
	if v.usable || len(v.warnings) != 2 || !strings.HasPrefix(v.warnings[0], "active content: Launch action (object 7)") || !strings.Contains(v.warnings[1], "phish.example") {
		t.Fatalf("with a launch action: usable=%v warnings=%q", v.usable, v.warnings)
	}
}

// TestPDFShape checks what is a PDF at all: the header, the end, and
// containers holding a PDF.
func TestPDFShape(t *testing.T) {
	good := testPDF{}.bytes()
	cut := func(b []byte, marker string) []byte { return bytes.Clone(b[:bytes.LastIndex(b, []byte(marker))]) }
	zipped := func(method uint16) []byte {
		var z bytes.Buffer
		zw := zip.NewWriter(&z)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "contract.pdf", Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(good)
		zw.Close()
		return z.Bytes()
	}
	xref := bytes.LastIndex(good, []byte("startxref"))
	wrongOffset := append(append([]byte{}, good[:xref]...), []byte("startxref\n17\n%%EOF\n")...)
	cases := []struct {
		name   string
		data   []byte
		usable bool
		want   string
	}{
		{"valid", good, true, ""},
		{"text before the header", append([]byte("garbage line\r\n"), good...), true, ""},
		{"trailing white space", append(append([]byte{}, good...), "\r\n\x00\x00 \n"...), true, ""},
		{"stored in a ZIP", zipped(zip.Store), false, "%PDF- comes after"},
		{"deflated in a ZIP", zipped(zip.Deflate), false, "does not start with %PDF- (it looks like application/zip)"},
		{"ZIP appended", append(append([]byte{}, good...), zipped(zip.Store)...), false, "other data follows the last %%EOF"},
		{"no %%EOF", cut(good, "%%EOF"), false, "does not end with %%EOF"},
		{"no startxref", append(cut(good, "startxref"), "%%EOF\n"...), false, "no startxref"},
		{"no xref at all", append(cut(good, "xref\n0 "), "%%EOF\n"...), false, "no startxref"},
		{"startxref to nowhere", wrongOffset, false, "startxref 17 does not point at a cross-reference section"},
		{"header past 1024 bytes", append(bytes.Repeat([]byte(" "), 1100), good...), false, "does not start with %PDF-"},
		{"empty", nil, false, "does not start with %PDF-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := testChecker().check(context.Background(), c.data)
			if v.usable != c.usable {
				t.Fatalf("usable=%v, want %v; warnings=%q", v.usable, c.usable, v.warnings)
			}
			if c.want != "" && (len(v.warnings) != 1 || !strings.Contains(v.warnings[0], c.want)) {
				t.Fatalf("warnings=%q, want %q", v.warnings, c.want)
			}
		})
	}
}

// TestBombs checks that streams decoding to more than a check may hold
// make the file unusable, whatever filter or place hides them, and that a
// file within the bound passes.
func TestBombs(t *testing.T) {
	const memory = 16 << 20 // 2 MiB for one stream, 4 MiB for all
	big := 12 << 20
	content := func(dict string, data []byte) testPDF {
		return testPDF{content: streamObj(dict, data)}
	}
	cases := []struct {
		name   string
		pdf    []byte
		usable bool
	}{
		{"within the bound", content("/Filter /FlateDecode", zeros(1<<20, 1)).bytes(), true},
		{"flate page content", content("/Filter /FlateDecode", zeros(big, 1)).bytes(), false},
		{"flate twice", content("/Filter [/FlateDecode /FlateDecode]", zeros(big, 2)).bytes(), false},
		{"hex then flate", content("/Filter [/ASCIIHexDecode /FlateDecode]", []byte(fmt.Sprintf("%X>", zeros(big, 1)))).bytes(), false},
		{"run length", content("/Filter /RunLengthDecode", runLengthBomb(12<<20)).bytes(), false},
		{"run length metadata", testPDF{catalog: " /Metadata 6 0 R", extra: []string{streamObj("/Type /Metadata /Subtype /XML /Filter /RunLengthDecode", runLengthBomb(4<<20))}}.bytes(), false},
		{"run length contents array", testPDF{onPage: "[4 0 R 6 0 R]", extra: []string{streamObj("/Filter /RunLengthDecode", runLengthBomb(4<<20))}}.bytes(), false},
		{"metadata", testPDF{catalog: " /Metadata 6 0 R", extra: []string{streamObj("/Type /Metadata /Subtype /XML /Filter /FlateDecode", zeros(big, 1))}}.bytes(), false},
		{"orphan stream", testPDF{extra: []string{streamObj("/Filter /FlateDecode", zeros(big, 1))}}.bytes(), false},
		{"many small streams", testPDF{extra: slicesRepeat(streamObj("/Filter /FlateDecode", zeros(1<<20, 1)), 12)}.bytes(), false},
		{"object stream", objStmBomb(big), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := newPDFChecker(Limits{PDFCheckMemory: memory}.WithDefaults())
			v := ch.check(context.Background(), c.pdf)
			if v.usable != c.usable {
				t.Fatalf("usable=%v, want %v; warnings=%q", v.usable, c.usable, v.warnings)
			}
			if !c.usable && (len(v.warnings) != 1 || !strings.HasPrefix(v.warnings[0], "could not be checked: ")) {
				t.Fatalf("warnings=%q", v.warnings)
			}
		})
	}
}

// objStmBomb is a PDF whose object stream decodes to more than n bytes.
func objStmBomb(n int) []byte {
	return testPDF{extra: []string{"<< /A 1 >>"}, packed: []int{6}, packPad: n}.bytes()
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
